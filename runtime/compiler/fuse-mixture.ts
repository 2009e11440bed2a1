// Mixtures of experts from the general graph (MMoE, PLE as PyTorch exports
// them): the experts stacked to [E, d] per row (torch.stack: a concat of E
// pieces of width d, viewed as [E, d]) and weighted by a gate of E entries,
// either as gate [E, 1] ⊙ stack, summed over the experts axis, or as
// batch_matmul(gate [1, E], stack). Both become one mixture op over the
// experts as they are, without the stack being written.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import type { ValueType } from "../graph/ops";
import { type Pass, cloneGraph, producers } from "./pass";

const width = (t: ValueType) => t.shape.reduce((a, b) => a * b, 1);

export const fuseMixture: Pass = {
  name: "fuse-mixture",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const byValue = producers(graph);
    const type = (v: string) => info.values.get(v)!;
    /** A view [rows, cols] of a per-row value (not a weight): the value it views. */
    const viewOf = (v: string, rows: number, cols: number) => {
      if (graph.weights[v]) return undefined;
      const n = byValue.get(v);
      const shape = type(v).shape;
      if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) return undefined;
      return n?.op === "reshape" ? n.inputs[0]! : v;
    };
    /** The E experts of a stack [E, d]: the pieces of the concat it views. */
    const expertsOf = (stack: string): { experts: string[]; e: number; d: number } | undefined => {
      if (graph.weights[stack]) return undefined;
      const shape = type(stack).shape;
      if (shape.length !== 2) return undefined;
      const [e, d] = shape as [number, number];
      const concat = byValue.get(viewOf(stack, e, d) ?? "");
      if (concat?.op !== "concat" || concat.inputs.length !== e || concat.inputs.some((p) => graph.weights[p] || width(type(p)) !== d)) return undefined;
      return { experts: [...concat.inputs], e, d };
    };
    const replaced = new Map<Node, Node[]>();
    const fired: number[] = [];
    const mixture = (at: Node, gate: string, experts: string[], d: number, keepdims: boolean) => {
      const out = at.outputs[0]!;
      const mix: Node = { name: `${at.name}:mixture`, op: "mixture", inputs: [gate, ...experts], outputs: [keepdims ? `${out}:mixed` : out], attrs: {} };
      // The ONNX value is [1, d] (keepdims, or bmm's row): the mixture's [d] viewed so.
      const view: Node[] = keepdims ? [{ name: `${at.name}:view`, op: "reshape", inputs: [mix.outputs[0]!], outputs: [out], attrs: { shape: [1, d] } }] : [];
      replaced.set(at, [mix, ...view]);
      fired.push(experts.length);
    };
    for (const node of graph.nodes) {
      if (node.op === "reduce" && node.attrs.op === "sum") {
        const axes = (node.attrs.axes as number[]).map((x) => (x < 0 ? x + 3 : x));
        const mul = byValue.get(node.inputs[0]!);
        if (axes.join() !== "1" || mul?.op !== "binary" || mul.attrs.op !== "mul") continue;
        for (const [g, s] of [[mul.inputs[0]!, mul.inputs[1]!], [mul.inputs[1]!, mul.inputs[0]!]] as const) {
          const stack = expertsOf(s);
          const gate = stack && viewOf(g, stack.e, 1);
          if (!stack || !gate || width(type(gate)) !== stack.e) continue;
          mixture(node, gate, stack.experts, stack.d, node.attrs.keepdims === true);
          break;
        }
      } else if (node.op === "batch_matmul") {
        const stack = expertsOf(node.inputs[1]!);
        const gate = stack && viewOf(node.inputs[0]!, 1, stack.e);
        if (stack && gate && width(type(gate)) === stack.e) mixture(node, gate, stack.experts, stack.d, true);
      }
    }
    graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
    inferGraph(graph);
    const counts = new Map<number, number>();
    for (const e of fired) counts.set(e, (counts.get(e) ?? 0) + 1);
    const list = [...counts].map(([e, n]) => `mixture(E=${e})${n > 1 ? ` (×${n})` : ""}`).join("; ");
    return { model: { graph, weights: model.weights }, summary: `fuse-mixture: ${fired.length} gate-weighted expert stacks -> ${list || "mixture"}` };
  },
};
