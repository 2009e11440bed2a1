// History tokens stored jagged (issue 15, Deliver 1): values plus offsets, no padding.
// A declared history's ids are staged in [maxLength] slots per request (stager.ts), but
// every f32 value computed per history token — its embedding lookup, the per-token
// linears and layer norms, self-attention over the events — is stored as the
// concatenated tokens of the batch's requests: request b's tokens are rows
// offsets[b] .. offsets[b + 1] of the value read as a [tokens, width] matrix. The
// embedding lookup writes them packed, so every per-token op runs over Σ events rows
// (one GEMM, one layer norm, one jagged attention call with these offsets), never
// over contextRows × maxLength.
//
// Memory planning: a token budget of contextCapacity × maxLength rows (the upper bound
// a batch can stage) sizes each jagged value's buffer, as before; a run computes and
// touches only the first Σ events rows of it.
//
// Which values are jagged: the closure, from embedding_sequence over a declared history
// input, through ops that keep tokens apart (reshape, per-slot linear with a jagged
// residual, layer norm over the token axis, self-attention with that history's `events`).
// A history's values are jagged only when every reader of every one of them is such an op
// or a candidate attention over the history's events (the target reading K/V at the
// offsets); otherwise (a pooling, a graph output, a remote table, sharded lookups) the
// history keeps the slot layout and its padded rows, as before.
import type { GraphInfo } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";
import type { RunState } from "./plan-context";

/** Tokens computed over histories since an executor was made (RunState.tokens). */
export interface TokenCounts {
  /** History tokens the jagged per-token ops ran over (Σ events per run). */
  computed: number;
  /** Slots those runs' batches hold (contextRows × maxLength per run): what a padded layout would compute. */
  slots: number;
}

/** One history's batch offsets, written by its first embedding_sequence step each run. */
export class TokenOffsets {
  /** offsets[b] .. offsets[b + 1]: context row b's tokens (BigInt64 for the kernels; low words written). */
  readonly offsets: BigInt64Array;
  readonly #words: Int32Array;
  /** Σ events of the current run. */
  total = 0;

  constructor(
    readonly history: string,
    readonly length: number,
    contextCapacity: number,
  ) {
    this.offsets = new BigInt64Array(contextCapacity + 1);
    this.#words = new Int32Array(this.offsets.buffer);
  }

  /** Row b's first token. */
  start(b: number): number {
    return this.#words[2 * b]!;
  }

  /** Row b's token count. */
  count(b: number): number {
    return this.#words[2 * b + 2]! - this.#words[2 * b]!;
  }

  /** Set the offsets of `rows` context rows from each row's event count; counted into s.tokens. */
  set(s: RunState, rows: number, eventsOf: (b: number) => number): void {
    let t = 0;
    for (let b = 0; b < rows; b++) {
      this.#words[2 * b] = t;
      t += eventsOf(b);
    }
    this.#words[2 * rows] = t;
    this.total = t;
    if (s.tokens) {
      s.tokens.computed += t;
      s.tokens.slots += rows * this.length;
    }
  }
}

/** Ops whose output is a jagged value when their token input is. */
const tokenOps = new Set(["reshape", "linear", "layer_norm_axis", "attention"]);

/**
 * The jagged values of a graph: value -> its history's offsets (shared by every value of that
 * history), plus each history's offsets-writing node (its first embedding_sequence).
 * `excluded(table)`: tables whose lookups cannot write packed rows (remote, sharded).
 */
export function jaggedValues(graph: Graph, info: GraphInfo, contextCapacity: number, excluded: (table: string) => boolean): { values: Map<string, TokenOffsets>; writers: Set<string> } {
  const values = new Map<string, TokenOffsets>();
  const writers = new Set<string>();
  const readers = new Map<string, { node: Node; at: number }[]>();
  for (const n of graph.nodes) n.inputs.forEach((v, at) => (readers.get(v) ?? readers.set(v, []).get(v)!).push({ node: n, at }));
  const outputs = new Set(Object.values(graph.outputs));
  for (const input of graph.inputs) {
    if (!input.sequence || input.role !== "context") continue;
    const L = input.shape.reduce((a, b) => a * b, 1);
    const set = historyValues(graph, info, input.name, L, readers, outputs, excluded);
    if (!set) continue;
    const offsets = new TokenOffsets(input.name, L, contextCapacity);
    for (const v of set.values) values.set(v, offsets);
    writers.add(set.writer);
  }
  return { values, writers };
}

/** The closure of one history's token values, or undefined when a reader cannot take them jagged. */
function historyValues(
  graph: Graph, info: GraphInfo, history: string, L: number, readers: Map<string, { node: Node; at: number }[]>, outputs: Set<string>, excluded: (table: string) => boolean,
): { values: Set<string>; writer: string } | undefined {
  const lookups = graph.nodes.filter((n) => n.op === "embedding_sequence" && n.inputs[0] === history);
  if (lookups.length === 0 || lookups.some((n) => excluded(n.inputs[1]!))) return undefined;
  const set = new Set<string>(lookups.map((n) => n.outputs[0]!));
  const pending = [...set];
  const shapeOf = (v: string) => info.values.get(v)?.shape ?? [];
  const keepsTokens = (node: Node, at: number): boolean => {
    const a = (node.attrs ?? {}) as Record<string, any>;
    switch (node.op) {
      case "reshape":
        return true;
      case "linear": {
        const slots = ((a.slots as number[] | undefined) ?? []).reduce((p, q) => p * q, 1);
        return slots === L && (at === 0 || at === 3);
      }
      case "layer_norm_axis": {
        const shape = shapeOf(node.inputs[0]!);
        const axis = (a.axis as number) < 0 ? shape.length + (a.axis as number) : (a.axis as number);
        return at === 0 && shape.length === 2 && shape[0] === L && axis === 1;
      }
      case "attention":
        return at < 3 && a.events !== undefined && node.inputs[3] === history && info.values.get(node.inputs[0]!)?.role === "context" && shapeOf(node.inputs[0]!)[0] === L;
      default:
        return false;
    }
  };
  const targetRead = (node: Node, at: number): boolean => {
    const a = (node.attrs ?? {}) as Record<string, any>;
    return node.op === "attention" && (at === 1 || at === 2) && a.events !== undefined && node.inputs[3] === history && info.values.get(node.inputs[0]!)?.role === "candidate";
  };
  while (pending.length > 0) {
    const v = pending.pop()!;
    if (outputs.has(v) || (graph.aliases ?? {})[v]) return undefined;
    for (const { node, at } of readers.get(v) ?? []) {
      if (targetRead(node, at)) continue;
      if (!tokenOps.has(node.op) || !keepsTokens(node, at)) return undefined;
      const out = node.outputs[0]!;
      if (!set.has(out)) {
        set.add(out);
        pending.push(out);
      }
    }
  }
  // Every token operand of a node writing a jagged value must be jagged too (a linear's x and
  // residual; attention's q, k, v).
  for (const n of graph.nodes) {
    if (!set.has(n.outputs[0]!) || n.op === "embedding_sequence") continue;
    const operands = n.op === "linear" ? [n.inputs[0]!, ...(n.inputs[3] ? [n.inputs[3]] : [])] : n.op === "attention" ? n.inputs.slice(0, 3) : [n.inputs[0]!];
    if (operands.some((o) => !set.has(o))) return undefined;
  }
  for (const n of graph.nodes) {
    if (n.op === "attention" && !set.has(n.outputs[0]!) && n.inputs.slice(1, 3).some((o) => set.has(o)) && n.inputs.slice(1, 3).some((o) => !set.has(o))) return undefined;
  }
  return { values: set, writer: lookups[0]!.name };
}
