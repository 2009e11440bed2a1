// The DLRM dot interaction from the general graph, as PyTorch exports it:
// T = concat(x, embs) viewed as [F, D] per row, Z = batch_matmul(T, Tᵀ) [F, F],
// then the (strictly) lower or upper triangle of Z picked by constant indices —
// select{columns} (DLRM's Z[:, li, lj]) or gather_axis over Z flattened
// (TorchRec's triu_indices) — becomes one dot_interaction over T's row. Z is
// symmetric, so (i, j) and (j, i) are one pair and any order of the whole
// triangle works: the kernel's output columns are permuted to the gathered
// order where it differs. Anything else is left as the general ops.
import { inferGraph } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";
import { type Pass, cloneGraph, producers } from "./pass";

/** The constant positions a node picks from its input's row, or undefined when it is not a constant pick. */
function pickedPositions(node: Node, graph: Graph, weights: Map<string, { data: ArrayLike<number | bigint> }>): { from: string; positions: number[] } | undefined {
  if (node.op === "select") return { from: node.inputs[0]!, positions: [...(node.attrs.columns as number[])] };
  if (node.op !== "gather_axis" || node.attrs.axis !== 1) return undefined;
  const index = node.inputs[1]!;
  const w = graph.weights[index] ? weights.get(index) : undefined;
  const shape = node.attrs.indexShape as number[] | undefined;
  if (!w || !shape || shape.length !== 1) return undefined;
  return { from: node.inputs[0]!, positions: Array.from(w.data, Number) };
}

/** Follow reshape views back to the value they view. */
function throughViews(value: string, byValue: Map<string, Node>): string {
  for (let n = byValue.get(value); n?.op === "reshape"; n = byValue.get(value)) value = n.inputs[0]!;
  return value;
}

/** The kernel's column of pair (i, j): rows i ascending, j < i (j ≤ i with self interaction). */
function kernelColumn(i: number, j: number, self: boolean): number {
  const [hi, lo] = i >= j ? [i, j] : [j, i];
  return self ? (hi * (hi + 1)) / 2 + lo : (hi * (hi - 1)) / 2 + lo;
}

export const fuseInteraction: Pass = {
  name: "fuse-interaction",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const byValue = producers(graph);
    const replaced = new Map<Node, Node[]>();
    const fired: string[] = [];
    for (const node of graph.nodes) {
      const pick = pickedPositions(node, graph, model.weights);
      if (!pick) continue;
      const bmm = byValue.get(throughViews(pick.from, byValue));
      if (bmm?.op !== "batch_matmul") continue;
      const [a, b] = bmm.inputs as [string, string];
      const t = info.values.get(a)!.shape;
      const tt = byValue.get(b);
      const perm = tt?.attrs.perm as number[] | undefined;
      // Z = T·Tᵀ of one per-row [F, D] matrix T.
      if (t.length !== 2 || tt?.op !== "transpose" || perm?.join() !== "0,2,1" || tt.inputs[0] !== a || graph.weights[a]) continue;
      const [f, d] = t as [number, number];
      const pairs = pick.positions.map((p) => [Math.floor(p / f), p % f] as const);
      const self = pairs.some(([i, j]) => i === j);
      const count = self ? (f * (f + 1)) / 2 : (f * (f - 1)) / 2;
      const columns = pairs.map(([i, j]) => kernelColumn(i, j, self));
      // Exactly the triangle, each pair once (the kernel computes that and nothing else).
      if (pick.positions.some((p) => p < 0 || p >= f * f) || columns.length !== count || new Set(columns).size !== count) continue;
      const ordered = columns.every((c, k) => c === k);
      const out = node.outputs[0]!;
      // The kernel reads T's row as it is stored (the [F, D] view is only a shape).
      const dots: Node = { name: `${node.name}:interaction`, op: "dot_interaction", inputs: [throughViews(a, byValue)], outputs: [ordered ? out : `${out}:pairs`], attrs: { f, d, self } };
      const reorder: Node[] = ordered ? [] : [{ name: `${node.name}:pair_order`, op: "select", inputs: [dots.outputs[0]!], outputs: [out], attrs: { columns } }];
      replaced.set(node, [dots, ...reorder]);
      fired.push(`dot_interaction(f=${f}, d=${d}${self ? ", self" : ""})${ordered ? "" : " with its columns permuted to the gathered order"}`);
    }
    graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-interaction: ${fired.length} bmm(T, Tᵀ) + triangle gathers -> ${fired.join("; ") || "dot_interaction"}` };
  },
};
