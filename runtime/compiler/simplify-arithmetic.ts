// Arithmetic exporters write the long way, computed the short way, and work
// done twice done once:
//   binary{pow}(x, 2) -> binary{mul}(x, x)     (x ** 2, the FM term, L2 norms)
//   binary{pow}(x, 0.5) -> unary{sqrt}(x)
// (a constant exponent holding one value; powf costs ~20× a multiply), then
// common subexpressions: nodes with the same op, attributes and inputs —
// constant inputs compared by content, as PyTorch exports one offsets buffer
// per use — compute once (DeepFM adds the same field offsets to the ids for
// its linear and its FM tables).
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph, pruneWeights, replaceUses, uniformConstant } from "./pass";

/** Constants larger than this are compared by name, not content. */
const CONTENT_LIMIT = 4096;

export const simplifyArithmetic: Pass = {
  name: "simplify-arithmetic",
  run(model) {
    const graph = cloneGraph(model.graph);
    const scalar = (v: string) => uniformConstant(model, graph, v);
    let reduced = 0;
    graph.nodes = graph.nodes.map((n) => {
      if (n.op !== "binary" || n.attrs.op !== "pow" || graph.weights[n.inputs[0]!]) return n;
      const e = scalar(n.inputs[1]!);
      if (e === 2) return (reduced++, { ...n, inputs: [n.inputs[0]!, n.inputs[0]!], attrs: { op: "mul" } });
      if (e === 0.5) return (reduced++, { ...n, op: "unary", inputs: [n.inputs[0]!], attrs: { op: "sqrt" } });
      return n;
    });
    // Common subexpressions, in graph order (a node's inputs are renamed before its key is taken).
    const contentKey = new Map<string, string>();
    const keyOf = (v: string): string => {
      const w = graph.weights[v];
      const t = w ? model.weights.get(v) : undefined;
      if (!w || !t || t.data.length > CONTENT_LIMIT || w.scales) return v;
      let k = contentKey.get(v);
      if (!k) {
        const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        k = `#${w.dtype}[${w.shape.join(",")}]${Buffer.from(bytes).toString("base64")}`;
        contentKey.set(v, k);
      }
      return k;
    };
    const seen = new Map<string, Node>();
    const outputs = new Set(Object.values(graph.outputs));
    let merged = 0;
    const kept: Node[] = [];
    for (const node of graph.nodes) {
      const key = `${node.op}|${JSON.stringify(node.attrs)}|${node.inputs.map(keyOf).join("|")}|${node.outputs.length}`;
      const first = seen.get(key);
      // A graph output keeps its own node (its name is the output's).
      if (first && !node.outputs.some((o) => outputs.has(o))) {
        node.outputs.forEach((o, i) => replaceUses(graph, o, first.outputs[i]!));
        merged++;
        continue;
      }
      if (!first) seen.set(key, node);
      kept.push(node);
    }
    graph.nodes = kept;
    const weights = pruneWeights(graph, model.weights);
    inferGraph(graph);
    return { model: { graph, weights }, summary: `simplify-arithmetic: ${reduced} powers -> mul/sqrt, ${merged} repeated nodes computed once` };
  },
};
