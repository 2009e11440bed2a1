// Histories stored jagged (issue 15, Deliver 1): values plus offsets, no padding.
// A batch stages a declared history's ids as each request's events concatenated, with
// offsets (stager.ts; `offsetInputs` below says which inputs a plan reads so), and every
// f32 value computed per history token — its embedding lookup, adds, the per-token
// linears and layer norms, self-attention over the events, an HSTU layer's tokens and
// K/V — is stored as the concatenated tokens of the batch's requests: request b's tokens
// are rows offsets[b] .. offsets[b + 1] of the value read as a [tokens, width] matrix.
// The embedding lookup writes them packed, so every per-token op runs over Σ events rows
// (one GEMM, one layer norm, one jagged attention call with these offsets), never over
// contextRows × maxLength.
//
// Memory planning: a token budget of contextCapacity × maxLength rows (the upper bound a
// batch can stage) sizes each jagged value's buffer, as the slot layout did; a run
// computes and touches only the first Σ events rows of it.
//
// Which values are jagged: the closure, from the embedding_sequence lookups of a history
// (the declared sequence inputs of one group), through ops that keep tokens apart
// (reshape, add/mul of two such values, per-slot linear with a jagged residual, layer norm
// over the token axis, self-attention with `events`, an HSTU history layer's tokens, and
// its K/V when only candidate halves read them). A history's values are jagged only when
// every reader of every one of them is such an op or a candidate attention over the
// history's events (the target reading K/V at the offsets), and all of them window the
// tokens by the events of one input; otherwise (a pooling, a graph output, a remote
// table) the history keeps the slot layout and its padded rows, as before. Request b's
// tokens are its events: its last e_b slots of that input, or its e_b values at its
// offset (history-events.ts), so every lookup of the group packs the same window.
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

/**
 * The jagged values of a graph: value -> its history's offsets (shared by every value of that
 * history), plus each history's offsets-writing node (its first embedding_sequence).
 * `excluded(table)`: tables whose lookups cannot write packed rows (remote tables).
 */
export function jaggedValues(graph: Graph, info: GraphInfo, contextCapacity: number, excluded: (table: string) => boolean): { values: Map<string, TokenOffsets>; writers: Set<string> } {
  const values = new Map<string, TokenOffsets>();
  const writers = new Set<string>();
  const readers = new Map<string, { node: Node; at: number }[]>();
  for (const n of graph.nodes) n.inputs.forEach((v, at) => (readers.get(v) ?? readers.set(v, []).get(v)!).push({ node: n, at }));
  // One history: the declared sequence inputs of a group (a history's per-event features), each of L slots.
  const groups = new Map<string, string[]>();
  for (const input of graph.inputs) {
    if (!input.sequence || input.role !== "context") continue;
    const key = `${input.sequence.group ?? input.name}/${input.shape.reduce((a, b) => a * b, 1)}`;
    groups.set(key, [...(groups.get(key) ?? []), input.name]);
  }
  for (const [key, inputs] of groups) {
    const L = Number(key.slice(key.lastIndexOf("/") + 1));
    const found = historyValues(graph, info, new Set(inputs), L, readers, excluded);
    if (!found) continue;
    const offsets = new TokenOffsets(found.events, L, contextCapacity);
    for (const v of found.values) values.set(v, offsets);
    writers.add(found.writer);
  }
  return { values, writers };
}

/** The input whose events a reader of history tokens windows them by, or undefined when it is no such reader. */
function eventsInput(node: Node): string | undefined {
  const a = (node.attrs ?? {}) as Record<string, unknown>;
  if (node.op === "attention" && a.events !== undefined) return node.inputs[3];
  if (node.op === "hstu_history") return node.inputs[1];
  return undefined;
}

/**
 * The closure of one history's token values (from its lookups on), or undefined when a reader
 * cannot take them jagged or its readers window them by different inputs' events.
 */
function historyValues(
  graph: Graph, info: GraphInfo, inputs: Set<string>, L: number, readers: Map<string, { node: Node; at: number }[]>, excluded: (table: string) => boolean,
): { values: Set<string>; writer: string; events: string } | undefined {
  const lookups = graph.nodes.filter((n) => n.op === "embedding_sequence" && inputs.has(n.inputs[0]!));
  if (lookups.length === 0 || lookups.some((n) => excluded(n.inputs[1]!))) return undefined;
  const set = new Set<string>(lookups.map((n) => n.outputs[0]!));
  const pending = [...set];
  const outputs = new Set(Object.values(graph.outputs));
  const shapeOf = (v: string) => info.values.get(v)?.shape ?? [];
  const roleOf = (v: string) => info.values.get(v)?.role;
  const windows = new Set<string>();
  /** The output a reader writes history tokens to, null when it only reads them (a target's K/V), undefined when it cannot read them jagged. */
  const tokensOut = (node: Node, at: number): string | null | undefined => {
    const a = (node.attrs ?? {}) as Record<string, any>;
    switch (node.op) {
      case "reshape":
        return node.outputs[0];
      case "add":
      case "mul":
        return roleOf(node.outputs[0]!) === "context" ? node.outputs[0] : undefined;
      case "linear": {
        const slots = ((a.slots as number[] | undefined) ?? []).reduce((p, q) => p * q, 1);
        return slots === L && (at === 0 || at === 3) ? node.outputs[0] : undefined;
      }
      case "layer_norm_axis": {
        const shape = shapeOf(node.inputs[0]!);
        const axis = (a.axis as number) < 0 ? shape.length + (a.axis as number) : (a.axis as number);
        return at === 0 && shape.length === 2 && shape[0] === L && axis === 1 ? node.outputs[0] : undefined;
      }
      case "attention":
        if (a.events === undefined) return undefined;
        if (roleOf(node.inputs[0]!) === "candidate") return at === 1 || at === 2 ? null : undefined;
        return at < 3 && shapeOf(node.inputs[0]!)[0] === L ? node.outputs[0] : undefined;
      case "hstu_history":
        return at === 0 ? node.outputs[0] : undefined;
      default:
        return undefined;
    }
  };
  while (pending.length > 0) {
    const v = pending.pop()!;
    if (outputs.has(v) || (graph.aliases ?? {})[v]) return undefined;
    for (const { node, at } of readers.get(v) ?? []) {
      const out = tokensOut(node, at);
      if (out === undefined) return undefined;
      const e = eventsInput(node);
      if (e !== undefined) windows.add(e);
      if (out !== null && !set.has(out)) {
        set.add(out);
        pending.push(out);
      }
    }
  }
  // An HSTU layer's K/V over jagged tokens are stored jagged too, when only candidate halves read them.
  for (const n of graph.nodes) {
    if (n.op !== "hstu_history" || !set.has(n.inputs[0]!)) continue;
    const kv = n.outputs[1]!;
    if (!outputs.has(kv) && (readers.get(kv) ?? []).every((r) => r.node.op === "hstu_candidates" && r.at === 1)) set.add(kv);
  }
  // One events window for the whole history, of one of its inputs.
  const events = [...windows][0];
  if (windows.size !== 1 || !inputs.has(events!)) return undefined;
  // Every token operand of a node writing a jagged value must be jagged too (a linear's x and
  // residual, both sides of an add, attention's q, k, v); a target reads K and V both jagged.
  for (const n of graph.nodes) {
    const writes = set.has(n.outputs[0]!);
    if (n.op === "embedding_sequence" || (!writes && !(n.op === "attention" && n.inputs.slice(1, 3).some((o) => set.has(o))))) continue;
    const operands =
      n.op === "linear" ? [n.inputs[0]!, ...(n.inputs[3] ? [n.inputs[3]] : [])]
      : n.op === "attention" ? n.inputs.slice(writes ? 0 : 1, 3)
      : n.op === "add" || n.op === "mul" ? n.inputs.slice(0, 2)
      : [n.inputs[0]!];
    if (operands.some((o) => !set.has(o))) return undefined;
  }
  return { values: set, writer: lookups[0]!.name, events: events! };
}

/** Readers of a history input that find its values at the batch's offsets when it was staged as values + offsets. */
const offsetReaders = new Set(["embedding_sequence", "hstu_history", "hstu_candidates", "attention"]);

/**
 * The history inputs a plan reads as values + offsets when a batch stages them so (stager.ts):
 * the declared sequence inputs of a jagged history whose every reader finds a request's
 * events through its offsets (a packed lookup, the HSTU layers and their KV cache, an
 * attention's `events` window over jagged tokens). A batch staging any other input so is
 * laid back into its [L] slots first (executor.ts).
 */
export function offsetInputs(graph: Graph, values: ReadonlyMap<string, TokenOffsets>): Set<string> {
  const histories = new Set([...values.values()].map((o) => o.history));
  const groupOf = new Map(graph.inputs.map((i) => [i.name, i.sequence ? `${i.sequence.group ?? i.name}/${i.shape.reduce((a, b) => a * b, 1)}` : undefined]));
  const groups = new Set([...histories].map((h) => groupOf.get(h)));
  const result = new Set<string>();
  for (const input of graph.inputs) {
    if (!input.sequence || !groups.has(groupOf.get(input.name))) continue;
    const ok = graph.nodes.every((n) => {
      if (!n.inputs.includes(input.name)) return true;
      if (!offsetReaders.has(n.op)) return false;
      if (n.op === "embedding_sequence") return values.has(n.outputs[0]!);
      if (n.op === "hstu_history") return values.has(n.inputs[0]!);
      if (n.op === "attention") return n.inputs[3] === input.name && (values.has(n.outputs[0]!) || values.has(n.inputs[1]!));
      return true;
    });
    if (ok) result.add(input.name);
  }
  return result;
}
