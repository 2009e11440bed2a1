// Shape, dtype and role inference over a whole graph, with the structural
// checks every later pass relies on: unique names, defined-before-use
// (topological order), known ops with valid attributes, outputs that exist.
import { type OpInput, type ValueType, ops } from "./ops";
import { type Graph, type Node, type Role, GraphError } from "./schema";

export interface ValueInfo extends ValueType {
  /** context: computed once per request; candidate: once per scored item. */
  role: Role;
  /** The node producing it, or undefined for graph inputs. */
  producer?: string;
}

export interface GraphInfo {
  values: Map<string, ValueInfo>;
  /** Attributes of each node with defaults applied, by node name. */
  attrs: Map<string, Record<string, unknown>>;
}

/** Infer every value's type and role; throws GraphError naming the first problem. */
export function inferGraph(graph: Graph): GraphInfo {
  const values = new Map<string, ValueInfo>();
  const attrs = new Map<string, Record<string, unknown>>();
  const declare = (name: string, what: string) => {
    if (values.has(name) || Object.hasOwn(graph.weights, name)) throw new GraphError(`${what} "${name}" is defined twice`);
  };
  for (const input of graph.inputs) {
    declare(input.name, "input");
    values.set(input.name, { dtype: input.dtype, shape: input.shape, role: input.role });
  }
  for (const [name, w] of Object.entries(graph.weights)) {
    if (w.scales !== undefined) {
      const s = graph.weights[w.scales];
      if (w.dtype !== "i8") throw new GraphError(`weight "${name}": only i8 weights have scales`);
      if (!s || s.dtype !== "f32" || s.shape.length !== 1 || s.shape[0] !== w.shape[0]) {
        throw new GraphError(`weight "${name}": scales "${w.scales}" must be an f32 [${w.shape[0]}] weight`);
      }
    } else if (w.dtype === "i8") {
      throw new GraphError(`weight "${name}": i8 weights need a "scales" weight`);
    }
  }
  const nodeNames = new Set<string>();
  for (const node of graph.nodes) {
    if (nodeNames.has(node.name)) throw new GraphError(`node "${node.name}" is defined twice`);
    nodeNames.add(node.name);
    const def = ops[node.op];
    if (!def) throw new GraphError(`node "${node.name}": unknown op "${node.op}" (supported: ${Object.keys(ops).sort().join(", ")})`);
    const parsed = def.attrs.safeParse(node.attrs ?? {});
    if (!parsed.success) {
      throw new GraphError(`node "${node.name}" (${node.op}): bad attributes: ${parsed.error.issues.map((i) => `${i.path.join(".") || "attrs"}: ${i.message}`).join("; ")}`);
    }
    const inputs = node.inputs.map((name): OpInput => {
      const w = graph.weights[name];
      if (w) return { kind: "weight", name, spec: w };
      const v = values.get(name);
      if (!v) throw new GraphError(`node "${node.name}": input "${name}" is not a graph input, a weight, or an output of an earlier node`);
      return { kind: "value", name, type: v };
    });
    const types = def.infer(inputs, parsed.data, node);
    if (types.length !== node.outputs.length) throw new GraphError(`node "${node.name}" (${node.op}): has ${node.outputs.length} outputs, the op produces ${types.length}`);
    const role: Role = node.op === "broadcast" || inputs.some((i) => i.kind === "value" && values.get(i.name)!.role === "candidate") ? "candidate" : "context";
    node.outputs.forEach((out, i) => {
      declare(out, "value");
      values.set(out, { ...types[i]!, role, producer: node.name });
    });
    attrs.set(node.name, parsed.data as Record<string, unknown>);
  }
  if (Object.keys(graph.outputs).length === 0) throw new GraphError("graph has no outputs");
  for (const [name, v] of Object.entries(graph.outputs)) {
    if (!values.has(v)) throw new GraphError(`output "${name}" refers to "${v}", which no node produces`);
  }
  return { values, attrs };
}

/** Nodes whose outputs feed each value (for passes that rewrite graphs). */
export function consumers(graph: Graph): Map<string, Node[]> {
  const out = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      const list = out.get(input) ?? [];
      list.push(node);
      out.set(input, list);
    }
  }
  return out;
}
