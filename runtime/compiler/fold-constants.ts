// Constant folding: chains of elementwise ops with constant operands collapse
// into one op with a precomputed constant, and division by a constant becomes
// multiplication:  (x + a) + b -> x + (a+b);  (x * a) * b -> x * (a*b);
// x - a -> x + (-a);  x / a -> x * (1/a).
// (Weight-only subexpressions from importers fold here too, once an importer emits them.)
import type { Node } from "../graph/schema";
import { tensor } from "../tensor/tensor";
import { type Pass, cloneGraph, pruneWeights, replaceUses, useCounts } from "./pass";

export const foldConstants: Pass = {
  name: "fold-constants",
  run(model) {
    const graph = cloneGraph(model.graph);
    const weights = new Map(model.weights);
    let folded = 0;
    let counter = 0;
    const constant = (node: Node): Float32Array | undefined => {
      const w = node.inputs[1] && graph.weights[node.inputs[1]];
      return w && w.dtype === "f32" && !graph.weights[node.inputs[0]!] ? (weights.get(node.inputs[1]!)!.data as Float32Array) : undefined;
    };
    const setConstant = (node: Node, values: Float32Array) => {
      const name = `${node.name}.const${counter++ || ""}`;
      graph.weights[name] = { dtype: "f32", shape: [values.length] };
      weights.set(name, tensor("f32", [values.length], values));
      node.inputs[1] = name;
    };
    // Canonicalise sub/div by constants into add/mul.
    for (const node of graph.nodes) {
      const c = constant(node);
      if (!c || (node.op !== "sub" && node.op !== "div")) continue;
      setConstant(node, node.op === "sub" ? Float32Array.from(c, (v) => -v) : Float32Array.from(c, (v) => 1 / v));
      node.op = node.op === "sub" ? "add" : "mul";
      folded++;
    }
    // Merge x op a op b into x op (a op b).
    for (let changed = true; changed; ) {
      changed = false;
      const uses = useCounts(graph);
      for (const outer of graph.nodes) {
        const b = constant(outer);
        if (!b || (outer.op !== "add" && outer.op !== "mul")) continue;
        const inner = graph.nodes.find((n) => n.outputs[0] === outer.inputs[0] && n.op === outer.op);
        const a = inner && constant(inner);
        if (!inner || !a || uses.get(inner.outputs[0]!) !== 1 || a.length !== b.length) continue;
        setConstant(inner, Float32Array.from(a, (v, i) => (outer.op === "add" ? v + b[i]! : v * b[i]!)));
        replaceUses(graph, outer.outputs[0]!, inner.outputs[0]!);
        graph.nodes = graph.nodes.filter((n) => n !== outer);
        folded++;
        changed = true;
        break;
      }
    }
    const pruned = pruneWeights(graph, weights);
    return { model: { graph, weights: pruned }, summary: `fold-constants: ${folded} constant operations folded` };
  },
};
