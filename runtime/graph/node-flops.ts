// The estimated FLOPs of one node per row it computes (a multiply-add counts 2): per candidate
// row for candidate nodes, per request for context nodes (inferGraph's roles). Used by the zoo's
// size figures (sdk/zoo/stats.ts) and the parallel planner's cost model (runtime/parallel/graph-costs.ts).
import type { GraphInfo } from "./infer";
import type { Graph, Node } from "./schema";

export function nodeFlops(graph: Graph, info: GraphInfo, node: Node): number {
  const attrs = info.attrs.get(node.name)!;
  const w = (name: string) => graph.weights[name]?.shape ?? [];
  const width = (name: string) => (info.values.get(name)?.shape ?? []).reduce((a, b) => a * b, 1);
  const [x = ""] = node.inputs;
  const outW = width(node.outputs[0]!);
  switch (node.op) {
    case "linear":
    case "matmul": {
      // A per-slot linear (attrs.slots, e.g. per token) runs once per slot.
      const s = w(node.inputs[1]!);
      const slots = ((attrs.slots as number[] | undefined) ?? []).reduce((a, b) => a * b, 1);
      return 2 * s[0]! * s[1]! * slots;
    }
    case "cross": {
      const d = width(x);
      return (attrs.lowRank ? 4 * w(node.inputs[2]!)[0]! * d : 2 * d * d) + 3 * d;
    }
    case "embedding_bag":
      return width(x) * outW;
    case "embedding_bags": {
      // The fused lookups: ids inputs first, then one table per input (one add per pooled element).
      const ids = node.inputs.filter((i) => !graph.weights[i]);
      return ids.reduce((acc, id, t) => acc + width(id) * (w(node.inputs[ids.length + t]!)[1] ?? 0), 0);
    }
    case "experts":
      // Dense experts grouped for expert parallelism: every row through every chain's linears.
      return node.inputs.reduce((acc, i) => {
        const s = w(i);
        return acc + (s.length === 2 ? 2 * s[0]! * s[1]! : 0);
      }, 0);
    case "fm":
      return 3 * width(x) + 2 * (attrs.d as number);
    case "target_attention": {
      const T = attrs.T as number;
      const d = attrs.d as number;
      const h = w(node.inputs[3]!)[0]!;
      return T * (2 * h * 4 * d + 2 * d + 4 * h + 2 * d);
    }
    case "attention":
    case "pointwise_attention":
    case "pointwise_attention_candidates": {
      // Q·Kᵀ and P·V per head, and the softmax's exp, sum and scale (or SiLU and 1/n) per score.
      const [lq, lk] = [info.values.get(node.inputs[0]!)!.shape[0]!, info.values.get(node.inputs[1]!)!.shape[0]!];
      // The candidates' half of a split HSTU attention: one query over the history (input 3) and itself.
      if (node.op === "pointwise_attention_candidates") {
        const d = attrs.headDim as number;
        return (attrs.heads as number) * (info.values.get(node.inputs[3]!)!.shape[0]! + 1) * (2 * d + 2 * ((attrs.valueDim as number | undefined) ?? d) + 5);
      }
      const heads = attrs.heads as number;
      const d = attrs.headDim as number;
      const dv = (attrs.valueDim as number | undefined) ?? d;
      // Causal: query i sees keys j <= i + lk - lq.
      const pairs = attrs.mask === "causal" ? lq * lk - (lq * (lq - 1)) / 2 : lq * lk;
      return heads * pairs * (2 * d + 2 * dv + 5);
    }
    case "mixture":
      return 2 * width(node.inputs[0]!) * outW;
    case "moe": {
      const d = width(x);
      const E = attrs.experts as number;
      const k = attrs.topK as number; // ReLU routing runs at most topK (the count varies by row)
      const h = w(node.inputs[3]!)[0]!;
      return 2 * E * d + k * (2 * h * d + 2 * outW * h + 2 * outW);
    }
    case "hstu_history":
    case "hstu_candidates": {
      // W1 and W2 GEMMs per token, pointwise attention over the visible tokens (all events full).
      const history = node.op === "hstu_history";
      const L = width(node.inputs[history ? 1 : 2]!);
      const d = history ? width(x) / L : width(x);
      const hv = (attrs.heads as number) * (attrs.vDim as number);
      const hq = (attrs.heads as number) * (attrs.qkDim as number);
      const tokens = history ? L : 1;
      const visible = history ? (L * (L + 1)) / 2 : L + 1;
      // A history half whose tokens nothing reads (the last layer) computes only its K/V.
      const read = !history || graph.nodes.some((n) => n.inputs.includes(node.outputs[0]!)) || Object.values(graph.outputs).includes(node.outputs[0]!);
      return read ? tokens * (2 * d * (2 * hv + 2 * hq) + 2 * hv * d + 6 * hv) + visible * 2 * (hq + hv) : tokens * 2 * d * (hv + hq);
    }
    case "grouped_linear": {
      const s = w(node.inputs[1]!);
      return 2 * s[0]! * s[1]! * s[2]!;
    }
    case "concat":
    case "slice":
      return 0;
    default:
      return Math.max(width(x), outW) * (node.op === "layer_norm" || node.op === "softmax" ? 5 : 1);
  }
}
