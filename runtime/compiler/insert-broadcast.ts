// Lowering required before execution: wherever a candidate-row node reads a
// context value (one row per request), read a broadcast of it instead. The
// context subgraph itself still runs once per request; only its result is
// repeated for the request's candidates. target_attention reads its context
// keys and mask directly (it pairs each candidate with its request's row);
// hstu_candidates reads its request's history K/V, ids and times the same way
// (inputs 3 and 4 are weights unless its bias is by time: never broadcast either way);
// attention without a mask reads its request's K/V in place.
import { type GraphInfo, inferGraph } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";
import { type Pass, cloneGraph } from "./pass";

/** Inputs an op consumes at context granularity on purpose (by position). */
const contextAware: Record<string, Set<number>> = { target_attention: new Set([1, 2]), hstu_candidates: new Set([1, 2, 3, 4]) };

/**
 * Whether `node` reads input i at context granularity: the ops above, and attention's K and V
 * when it has no key padding mask and mask "none" (candidate queries over their request's tokens,
 * runtime/engine/steps/attention.ts; a causal mask would need each candidate's own positions).
 */
function readsContext(node: Node, i: number): boolean {
  // The candidates' half of a split HSTU attention reads the history's K, V and visible flags (last, of 7 or 8 inputs) per request.
  if (node.op === "pointwise_attention_candidates") return i === 3 || i === 4 || (node.inputs.length >= 7 && i === node.inputs.length - 1);
  // With `events`, input 3 is the history's ids, read per request for its event window.
  if (node.op === "attention") {
    const events = node.attrs.events !== undefined;
    return (i === 1 || i === 2 || (events && i === 3)) && (node.inputs.length === 3 || events) && (node.attrs.mask ?? "none") === "none";
  }
  return contextAware[node.op]?.has(i) ?? false;
}

/** Does a candidate-row node still read a context value directly (insert-broadcast has not run)? */
export function needsBroadcast(graph: Graph, info: GraphInfo): boolean {
  return graph.nodes.some((node) => {
    if (node.op === "broadcast" || info.values.get(node.outputs[0]!)!.role !== "candidate") return false;
    return node.inputs.some((input, i) => info.values.get(input)?.role === "context" && !readsContext(node, i));
  });
}

export const insertBroadcast: Pass = {
  name: "insert-broadcast",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const made = new Map<string, string>();
    const nodes: Node[] = [];
    for (const node of graph.nodes) {
      const outRole = info.values.get(node.outputs[0]!)!.role;
      if (outRole === "candidate" && node.op !== "broadcast") {
        node.inputs = node.inputs.map((input, i) => {
          const v = info.values.get(input);
          if (!v || v.role !== "context" || readsContext(node, i)) return input;
          let b = made.get(input);
          if (!b) {
            b = `${input}@candidates`;
            made.set(input, b);
            nodes.push({ name: `broadcast(${input})`, op: "broadcast", inputs: [input], outputs: [b], attrs: {} });
          }
          return b;
        });
      }
      nodes.push(node);
    }
    graph.nodes = nodes;
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `insert-broadcast: ${made.size} context values broadcast to candidates` };
  },
};
