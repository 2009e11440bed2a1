// Compiler passes are pure functions from a model (graph + weights) to a new
// model, each reporting one summary line (printed under RANKFN_DEBUG=1).
import type { BuiltModel } from "../graph/builder";
import type { Graph, Node } from "../graph/schema";
import type { Tensor } from "../tensor/tensor";

export interface PassResult {
  model: BuiltModel;
  /** One line, e.g. "fusion: 12 -> 7 nodes (5 activations into linear)". */
  summary: string;
}

export interface Pass {
  name: string;
  run(model: BuiltModel): PassResult;
}

export function debugEnabled(): boolean {
  return process.env.RANKFN_DEBUG === "1";
}

/** Run passes in order, printing each summary line under RANKFN_DEBUG=1. */
export function runPasses(model: BuiltModel, passes: Pass[], log: (line: string) => void = (l) => console.error(l)): { model: BuiltModel; summaries: string[] } {
  const summaries: string[] = [];
  let current = model;
  for (const pass of passes) {
    const { model: next, summary } = pass.run(current);
    summaries.push(summary);
    if (debugEnabled()) log(`[rankfn compile] ${summary}`);
    current = next;
  }
  return { model: current, summaries };
}

/** A deep copy of the graph (passes never mutate their input). */
export function cloneGraph(graph: Graph): Graph {
  return structuredClone(graph);
}

/** Replace every use of value `from` by `to` in nodes and outputs. */
export function replaceUses(graph: Graph, from: string, to: string): void {
  for (const node of graph.nodes) node.inputs = node.inputs.map((i) => (i === from ? to : i));
  for (const [k, v] of Object.entries(graph.outputs)) if (v === from) graph.outputs[k] = to;
}

/** How many nodes (and graph outputs) read each value. */
export function useCounts(graph: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  const bump = (v: string) => counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const node of graph.nodes) node.inputs.forEach(bump);
  Object.values(graph.outputs).forEach(bump);
  return counts;
}

/** The node producing each value. */
export function producers(graph: Graph): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const node of graph.nodes) for (const o of node.outputs) out.set(o, node);
  return out;
}

/** Keep only the weights some node still reads (and their scales). */
export function pruneWeights(graph: Graph, weights: Map<string, Tensor>): Map<string, Tensor> {
  const used = new Set(graph.nodes.flatMap((n) => n.inputs).filter((i) => Object.hasOwn(graph.weights, i)));
  for (const name of [...used]) {
    const scales = graph.weights[name]!.scales;
    if (scales) used.add(scales);
  }
  for (const name of Object.keys(graph.weights)) if (!used.has(name)) delete graph.weights[name];
  return new Map([...weights].filter(([name]) => used.has(name)));
}

/** The one value of constant `name` when all its f32 elements are equal (a broadcast scalar); undefined otherwise. */
export function uniformConstant(model: BuiltModel, graph: Graph, name: string): number | undefined {
  const t = graph.weights[name] ? model.weights.get(name) : undefined;
  if (!t || t.dtype !== "f32" || t.data.length === 0) return undefined;
  const d = t.data as Float32Array;
  return d.every((x) => x === d[0]) ? d[0] : undefined;
}

/** The distinct kinds of a pass's rewrites in first-seen order, each with its count past one ("kind ×3"). */
export function tallyKinds(kinds: readonly string[]): string[] {
  return [...new Set(kinds)].map((kind) => {
    const times = kinds.filter((k) => k === kind).length;
    return times > 1 ? `${kind} ×${times}` : kind;
  });
}
