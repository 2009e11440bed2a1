// Size and cost of a built model: parameter count and an estimate of the
// floating-point operations per scored row (a multiply-add counts 2), split
// into the part computed once per request (context) and once per candidate.
import type { BuiltModel } from "../../runtime/graph/builder";
import { inferGraph } from "../../runtime/graph/infer";
import type { Graph } from "../../runtime/graph/schema";

/** Weight elements, all tensors together. */
export function parameterCount(model: BuiltModel | Graph): number {
  const weights = "graph" in model ? model.graph.weights : model.weights;
  return Object.values(weights).reduce((acc, w) => acc + w.shape.reduce((a, b) => a * b, 1), 0);
}

export interface FlopEstimate {
  /** Per request (context-only nodes), counted once however many candidates. */
  context: number;
  /** Per candidate row. */
  candidate: number;
}

/** Estimated FLOPs of one forward row. Embedding lookups count one add per pooled element (all slots full). */
export function flopsPerRow(graph: Graph): FlopEstimate {
  const info = inferGraph(graph);
  const out: FlopEstimate = { context: 0, candidate: 0 };
  const w = (name: string) => graph.weights[name]?.shape ?? [];
  const width = (name: string) => (info.values.get(name)?.shape ?? []).reduce((a, b) => a * b, 1);
  for (const node of graph.nodes) {
    const attrs = info.attrs.get(node.name)!;
    const [x = ""] = node.inputs;
    const outW = width(node.outputs[0]!);
    let f: number;
    switch (node.op) {
      case "linear":
      case "matmul": {
        // A per-slot linear (attrs.slots, e.g. per token) runs once per slot.
        const s = w(node.inputs[1]!);
        const slots = ((attrs.slots as number[] | undefined) ?? []).reduce((a, b) => a * b, 1);
        f = 2 * s[0]! * s[1]! * slots;
        break;
      }
      case "cross": {
        const d = width(x);
        f = (attrs.lowRank ? 4 * w(node.inputs[2]!)[0]! * d : 2 * d * d) + 3 * d;
        break;
      }
      case "embedding_bag":
        f = width(x) * outW;
        break;
      case "fm":
        f = 3 * width(x) + 2 * (attrs.d as number);
        break;
      case "target_attention": {
        const T = attrs.T as number;
        const d = attrs.d as number;
        const h = w(node.inputs[3]!)[0]!;
        f = T * (2 * h * 4 * d + 2 * d + 4 * h + 2 * d);
        break;
      }
      case "attention":
      case "pointwise_attention":
      case "pointwise_attention_candidates": {
        // Q·Kᵀ and P·V per head, and the softmax's exp, sum and scale (or SiLU and 1/n) per score.
        const [lq, lk] = [info.values.get(node.inputs[0]!)!.shape[0]!, info.values.get(node.inputs[1]!)!.shape[0]!];
        // The candidates' half of a split HSTU attention: one query over the history (input 3) and itself.
        if (node.op === "pointwise_attention_candidates") {
          const d = attrs.headDim as number;
          f = (attrs.heads as number) * (info.values.get(node.inputs[3]!)!.shape[0]! + 1) * (2 * d + 2 * ((attrs.valueDim as number | undefined) ?? d) + 5);
          break;
        }
        const heads = attrs.heads as number;
        const d = attrs.headDim as number;
        const dv = (attrs.valueDim as number | undefined) ?? d;
        // Causal: query i sees keys j <= i + lk - lq.
        const pairs = attrs.mask === "causal" ? lq * lk - (lq * (lq - 1)) / 2 : lq * lk;
        f = heads * pairs * (2 * d + 2 * dv + 5);
        break;
      }
      case "mixture":
        f = 2 * width(node.inputs[0]!) * outW;
        break;
      case "moe": {
        const d = width(x);
        const E = attrs.experts as number;
        const k = attrs.topK as number; // ReLU routing runs at most topK (the count varies by row)
        const h = w(node.inputs[3]!)[0]!;
        f = 2 * E * d + k * (2 * h * d + 2 * outW * h + 2 * outW);
        break;
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
        f = read ? tokens * (2 * d * (2 * hv + 2 * hq) + 2 * hv * d + 6 * hv) + visible * 2 * (hq + hv) : tokens * 2 * d * (hv + hq);
        break;
      }
      case "grouped_linear": {
        const s = w(node.inputs[1]!);
        f = 2 * s[0]! * s[1]! * s[2]!;
        break;
      }
      case "concat":
      case "slice":
        f = 0;
        break;
      default:
        f = Math.max(width(x), outW) * (node.op === "layer_norm" || node.op === "softmax" ? 5 : 1);
    }
    out[info.values.get(node.outputs[0]!)!.role] += f;
  }
  return out;
}
