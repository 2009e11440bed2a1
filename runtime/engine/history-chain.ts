// Which part of a graph the user-history KV cache may skip (issue 16): a chain of
// hstu_history layers whose history tokens are a per-event function of the
// request's history inputs. Reusing a user's cached K/V is exact only when
//   - token t of layer 0 depends on event t's inputs alone (embedding lookups and
//     adds of per-slot context inputs), so a cached prefix's tokens are the same;
//   - layer l + 1 reads layer l's history output and nothing else does (cached
//     tokens' outputs are never computed, only their K/V are restored);
//   - every layer's K/V feed candidate halves only (candidates' K/V stay out).
// The fingerprint that proves a cached prefix covers every input the tokens read.
import type { Graph, Node } from "../graph/schema";

export interface HistoryChain {
  /** The hstu_history nodes, layer 0 first. */
  layers: Node[];
  /** The history ids (padding marks the empty, oldest slots). */
  ids: string;
  /** The history timestamps (rabBy "time"), also hashed into the fingerprint. */
  timestamps?: string;
  /** Every other per-slot context input the tokens read (e.g. actions), hashed too. */
  others: string[];
  heads: number;
  qkDim: number;
  vDim: number;
  /** History slots per request (L). */
  length: number;
}

/** Ops through which a history token stays a function of its own slot's inputs. */
const perSlotOps = new Set(["embedding_sequence", "add"]);

const chains = new WeakMap<Graph, HistoryChain | string>();

/** The graph's cacheable history chain, or why it has none (memoised per graph). */
export function historyChain(graph: Graph): HistoryChain | string {
  let c = chains.get(graph);
  if (c === undefined) chains.set(graph, (c = analyse(graph)));
  return c;
}

function analyse(graph: Graph): HistoryChain | string {
  const layers = graph.nodes.filter((n) => n.op === "hstu_history");
  if (layers.length === 0) return "it has no hstu_history layer";
  const producer = new Map<string, Node>();
  const consumers = new Map<string, { node: Node; at: number }[]>();
  for (const n of graph.nodes) {
    n.outputs.forEach((o) => producer.set(o, n));
    n.inputs.forEach((v, at) => {
      const list = consumers.get(v) ?? [];
      list.push({ node: n, at });
      consumers.set(v, list);
    });
  }
  const outputs = new Set(Object.values(graph.outputs));
  const inputs = new Map(graph.inputs.map((i) => [i.name, i]));
  const attrs = layers[0]!.attrs as Record<string, unknown>;
  const time = attrs.rabBy === "time";
  const ids = layers[0]!.inputs[1]!;
  const timestamps = time ? layers[0]!.inputs[2] : undefined;
  const length = inputs.get(ids)?.shape.reduce((a, b) => a * b, 1);
  if (length === undefined) return `the history ids "${ids}" are not a graph input`;
  for (let l = 0; l < layers.length; l++) {
    const node = layers[l]!;
    const a = node.attrs as Record<string, unknown>;
    if (node.inputs[1] !== ids || (time && node.inputs[2] !== timestamps) || a.rabBy !== attrs.rabBy || a.padding !== attrs.padding) {
      return `layer "${node.name}" reads other history inputs than layer "${layers[0]!.name}"`;
    }
    const [y, kv] = node.outputs as [string, string];
    if (outputs.has(y) || outputs.has(kv)) return `layer "${node.name}"'s history values are graph outputs`;
    const next = layers[l + 1];
    const readers = consumers.get(y) ?? [];
    if (readers.some((r) => r.node !== next || r.at !== 0)) return `"${y}" is read by more than the next history layer`;
    if (next && readers.length !== 1) return `"${next.name}" does not read "${y}"`;
    if ((consumers.get(kv) ?? []).some((r) => r.node.op !== "hstu_candidates" || r.at !== 1)) return `"${kv}" is read by more than candidate layers`;
  }
  // Layer 0's tokens: per-slot ops over context inputs of L slots, and weights.
  const others = new Set<string>();
  const walk = (value: string): string | undefined => {
    const input = inputs.get(value);
    if (input) {
      if (input.role !== "context" || input.shape.reduce((a, b) => a * b, 1) !== length) return `token input "${value}" is not a per-slot context input of ${length} slots`;
      if (value !== ids && value !== timestamps) others.add(value);
      return undefined;
    }
    if (graph.weights[value]) return undefined;
    const n = producer.get(value);
    if (!n) return `"${value}" has no producer`;
    if (!perSlotOps.has(n.op)) return `the history tokens pass through "${n.name}" (${n.op}), which is not known to keep slots apart`;
    for (const v of n.inputs) {
      const why = walk(v);
      if (why) return why;
    }
    return undefined;
  };
  const why = walk(layers[0]!.inputs[0]!);
  if (why) return why;
  return { layers, ids, timestamps, others: [...others].sort(), heads: attrs.heads as number, qkDim: attrs.qkDim as number, vDim: attrs.vDim as number, length };
}
