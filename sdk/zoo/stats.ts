// Size and cost of a built model: parameter count and an estimate of the
// floating-point operations per scored row (a multiply-add counts 2), split
// into the part computed once per request (context) and once per candidate.
import type { BuiltModel } from "../../runtime/graph/builder";
import { inferGraph } from "../../runtime/graph/infer";
import { nodeFlops } from "../../runtime/graph/node-flops";
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
  for (const node of graph.nodes) out[info.values.get(node.outputs[0]!)!.role] += nodeFlops(graph, info, node);
  return out;
}
