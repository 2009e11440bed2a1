// Turns validated requests (validate.ts) into one staged batch: concatenates
// the rows of several requests, converting ids between i32 and i64 where the
// request and the model differ, and records which rows belong to which
// request so outputs can be sliced back. A request's rows are copied at most
// once on their way to the kernels: a batch of one request is passed as its
// own arrays where nothing needs converting (the executor reads them in
// place), and a batch of several is written straight into the storage it
// runs from (the plan's input slots, or a worker's shared lane).
//
// History (sequence) inputs: a ranking request's history of any length is
// measured by validate() (its events: the most recent maxLength values after any
// leading padding), and the batch carries each context row's event count
// (`sequenceLengths`). Where the model reads a history group as values + offsets
// (jagged-tokens.ts: its lookups, HSTU layers, KV cache and attention windows
// find a request's events at its offset), the group's inputs are staged so: each
// request's events concatenated, `sequenceOffsets[name]` = [r + 1] offsets, no
// padding; the buffer's token budget is contextRows × maxLength (the upper bound),
// of which a batch writes Σ events. Otherwise (flat rows sent as slots, a group
// whose inputs keep different events, a model reading the slot layout) a history
// is written into fixed [maxLength] slots — its most recent values after the
// padding slots — and a plan that reads slots gets a values + offsets batch laid
// back into them (intoSlots, executor.ts). From the lookups on, the tokens (and
// HSTU's K/V) are values + offsets too (jagged-tokens.ts).
import type { Graph, GraphInput } from "../graph/schema";
import { type TypedArray, dtypes } from "../tensor/dtype";
import type { Tensor } from "../tensor/tensor";
import { elementReader, unalignedBytes } from "../tensor/unaligned";
import type { StagedBatch } from "./executor";
import type { ValidRequest } from "./validate";
import type { SequenceExtent } from "./sequence-inputs";
import { inferGraph } from "../graph/infer";
import { jaggedValues, offsetInputs } from "./jagged-tokens";

export interface RequestSlice {
  /** First candidate row of the request in the batch, and its row count. */
  start: number;
  count: number;
  /** First context row of the request, and its count (1 for ranking requests, count for flat). */
  contextStart: number;
  contextCount: number;
}

const width = (input: GraphInput) => input.shape.reduce((a, b) => a * b, 1);

/** Where a batch is staged: a buffer of at least `length` values per input, and the row -> request map. */
export interface StagingBuffers {
  input(input: GraphInput, length: number): TypedArray;
  requestOfRow(length: number): Int32Array;
  /** Room for the context rows' user keys (default: a fresh array). */
  users?(length: number): BigUint64Array;
  /** Room for one history input's per-context-row event counts (default: a fresh array). */
  sequenceLengths?(input: GraphInput, length: number): Int32Array;
}

/** A typed array for `length` values of `dtype` (capacity: a power of two, at least 64), on shared memory when `shared`. */
export function rowBuffer(dtype: GraphInput["dtype"], length: number, shared = false): TypedArray {
  const capacity = 2 ** Math.ceil(Math.log2(Math.max(64, length)));
  const bytes = capacity * (dtype === "i64" ? 8 : dtype === "bool" ? 1 : 4);
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return dtype === "f32" ? new Float32Array(buf) : dtype === "i64" ? new BigInt64Array(buf) : dtype === "bool" ? new Uint8Array(buf) : new Int32Array(buf);
}

/** Grow-only buffers reused by the next batch staged into them. */
export class ReusedBuffers implements StagingBuffers {
  readonly #inputs = new Map<string, TypedArray>();
  #requestOfRow = rowBuffer("i32", 64) as Int32Array;

  input(input: GraphInput, length: number): TypedArray {
    let b = this.#inputs.get(input.name);
    if (!b || b.length < length) this.#inputs.set(input.name, (b = rowBuffer(input.dtype, length)));
    return b;
  }

  requestOfRow(length: number): Int32Array {
    if (this.#requestOfRow.length < length) this.#requestOfRow = rowBuffer("i32", length) as Int32Array;
    return this.#requestOfRow;
  }
}

/** Buffers of one batch alone (it outlives an await: nothing else stages into them). */
export class BatchBuffers implements StagingBuffers {
  input(input: GraphInput, length: number): TypedArray {
    return rowBuffer(input.dtype, length);
  }

  requestOfRow(length: number): Int32Array {
    return rowBuffer("i32", length) as Int32Array;
  }
}

/** Staging into storage the run reads directly (the plan's input slots), falling back to `rest` for inputs it lacks. */
export class DirectBuffers implements StagingBuffers {
  constructor(
    readonly storage: ReadonlyMap<string, TypedArray>,
    readonly rest: StagingBuffers,
  ) {}

  input(input: GraphInput, length: number): TypedArray {
    const slot = this.storage.get(input.name);
    return slot && slot.length >= length ? slot : this.rest.input(input, length);
  }

  requestOfRow(length: number): Int32Array {
    return this.rest.requestOfRow(length);
  }
}

/** Copies made while staging (per input of each request), since the stager was made. */
export interface StagingCopies {
  inPlace: number;
  copied: number;
  bytesCopied: number;
}

export class Stager {
  readonly #inputs: GraphInput[];
  readonly #own = new ReusedBuffers();
  readonly copies: StagingCopies = { inPlace: 0, copied: 0, bytesCopied: 0 };
  /** History groups the model reads as values + offsets (jagged-tokens.ts): group -> its inputs. */
  readonly #offsetGroups = new Map<string, GraphInput[]>();

  constructor(graph: Graph) {
    this.#inputs = graph.inputs;
    const readable = offsetInputs(graph, jaggedValues(graph, inferGraph(graph), 1, () => false).values);
    for (const input of graph.inputs) {
      if (!input.sequence) continue;
      const group = input.sequence.group ?? input.name;
      const members = graph.inputs.filter((i) => (i.sequence?.group ?? i.name) === group);
      if (members.every((m) => readable.has(m.name))) this.#offsetGroups.set(group, members);
    }
  }

  /**
   * The history inputs this batch stages as values + offsets: every input of a group the model
   * reads so, when each request's inputs of that group keep the same events (then whichever
   * input the model windows by, its offsets are every input's).
   */
  #offsetInputs(requests: readonly ValidRequest[]): Set<string> {
    const names = new Set<string>();
    for (const members of this.#offsetGroups.values()) {
      const same = requests.every((req) => {
        const events = members.map((m) => req.sequences?.get(m.name)?.events);
        return events[0] !== undefined && events.every((e) => e === events[0]);
      });
      if (same) for (const m of members) names.add(m.name);
    }
    return names;
  }

  /**
   * Stage validated requests into one batch (nothing here can fail for a request's input).
   * `into` supplies the batch's buffers (the plan's slots, a worker's shared lane, a batch's own);
   * by default the stager's own, reused by the next call. With `inPlace` (the inputs the run can
   * read from the caller's arrays), a batch of one request passes its arrays themselves for those
   * inputs where the model takes them as they are; every other input is copied once into `into`.
   */
  stage(requests: readonly ValidRequest[], into: StagingBuffers = this.#own, { inPlace }: { inPlace?: ReadonlySet<string> } = {}): { batch: StagedBatch; slices: RequestSlice[] } {
    const slices: RequestSlice[] = [];
    let n = 0;
    let r = 0;
    for (const req of requests) {
      slices.push({ start: n, count: req.rows, contextStart: r, contextCount: req.contextRows });
      n += req.rows;
      r += req.contextRows;
    }
    const requestOfRow = into.requestOfRow(n);
    const inputs: Record<string, TypedArray> = {};
    const sequenceLengths: Record<string, Int32Array> = {};
    const sequenceOffsets: Record<string, Int32Array> = {};
    const packable = this.#offsetGroups.size > 0 ? this.#offsetInputs(requests) : undefined;
    const copies = this.copies;
    for (const input of this.#inputs) {
      const rows = input.role === "candidate" ? n : r;
      const length = rows * width(input);
      if (input.sequence) sequenceLengths[input.name] = (into.sequenceLengths?.(input, r) ?? new Int32Array(r)).subarray(0, r);
      const whole = requests.length === 1 && (requests[0]!.sequences?.get(input.name)?.sent ?? width(input)) === width(input);
      if (inPlace?.has(input.name) && whole && !unalignedBytes(requests[0]!.tensors.get(input.name))) {
        const data = requests[0]!.tensors.get(input.name)!.data;
        if (readableAsIs(data, input, length)) {
          inputs[input.name] = data.length === length ? data : data.subarray(0, length);
          copies.inPlace++;
          if (input.sequence) countEvents(sequenceLengths[input.name]!, inputs[input.name]!, 0, requests[0]!, input);
          continue;
        }
      }
      const buf = into.input(input, length);
      if (packable?.has(input.name)) {
        // Values + offsets: each request's events, concatenated (the rest of the buffer is not read).
        const offsets = (sequenceOffsets[input.name] = new Int32Array(r + 1));
        let at = 0;
        requests.forEach((req, i) => {
          const extent = req.sequences!.get(input.name)!;
          offsets[slices[i]!.contextStart] = at;
          if (extent.events > 0) copyInto(buf, at, req.tensors.get(input.name)!, extent.events, input, extent.sent - extent.events);
          sequenceLengths[input.name]![slices[i]!.contextStart] = extent.events;
          at += extent.events;
          copies.copied++;
          copies.bytesCopied += extent.events * buf.BYTES_PER_ELEMENT;
        });
        offsets[r] = at;
        inputs[input.name] = buf.subarray(0, length);
        continue;
      }
      let at = 0;
      requests.forEach((req, i) => {
        const t = req.tensors.get(input.name)!;
        const count = (input.role === "candidate" ? slices[i]!.count : slices[i]!.contextCount) * width(input);
        const extent = req.sequences?.get(input.name);
        if (extent) copyHistory(buf, at, t, extent, input);
        else copyInto(buf, at, t, count, input);
        if (input.sequence) countEvents(sequenceLengths[input.name]!, buf.subarray(at, at + count), slices[i]!.contextStart, req, input);
        at += count;
        copies.copied++;
        copies.bytesCopied += count * buf.BYTES_PER_ELEMENT;
      });
      inputs[input.name] = buf.subarray(0, length);
    }
    slices.forEach((s) => {
      for (let j = 0; j < s.count; j++) requestOfRow[s.start + j] = s.contextCount === 1 ? s.contextStart : s.contextStart + j;
    });
    // User keys only when a request names one: without, the KV cache is not consulted.
    let users: BigUint64Array | undefined;
    if (requests.some((req) => req.user !== undefined)) {
      users = into.users?.(r) ?? new BigUint64Array(r);
      users.fill(0n, 0, r);
      requests.forEach((req, i) => {
        if (req.user !== undefined) users![slices[i]!.contextStart] = req.user;
      });
      users = users.subarray(0, r);
    }
    const sequences = Object.keys(sequenceLengths).length > 0 ? { sequenceLengths, ...(Object.keys(sequenceOffsets).length > 0 ? { sequenceOffsets } : {}) } : {};
    return { batch: { n, r, requestOfRow, inputs, ...(users ? { userKeys: users } : {}), ...sequences }, slices };
  }
}

/**
 * A history's event counts from `rows` (its staged [rows, maxLength] slots, starting at context
 * row `at`): measured by validate() for a ranking request's history, counted past each row's
 * leading padding for flat rows (their histories are sent as the slots).
 */
function countEvents(lengths: Int32Array, rows: TypedArray, at: number, req: ValidRequest, input: GraphInput): void {
  const extent = req.sequences?.get(input.name);
  if (extent) {
    lengths[at] = extent.events;
    return;
  }
  const L = width(input);
  const pad = input.padding!;
  for (let b = 0; b < req.contextRows; b++) {
    let t = 0;
    if (rows instanceof BigInt64Array) {
      const p = BigInt(pad);
      while (t < L && rows[b * L + t] === p) t++;
    } else while (t < L && rows[b * L + t] === pad) t++;
    lengths[at + b] = L - t;
  }
}

/**
 * Lay a history staged as values + offsets back into [L] slots, in place (a plan that reads the
 * slot layout): row b's events move to the end of its slots, padding before them. Rows move
 * last to first, so none overwrites values not yet moved (offsets[b] <= b · L).
 */
export function intoSlots(buf: TypedArray, offsets: Int32Array, rows: number, L: number, padding: number): void {
  for (let b = rows - 1; b >= 0; b--) {
    const e = offsets[b + 1]! - offsets[b]!;
    const first = b * L + L - e;
    buf.copyWithin(first, offsets[b]!, offsets[b + 1]!);
    if (buf instanceof BigInt64Array) buf.fill(BigInt(padding), b * L, first);
    else (buf as Int32Array).fill(padding, b * L, first);
  }
}

/** Copy one request's history into its [maxLength] slots at `at`: padding, then its last `copied` values. */
function copyHistory(dst: TypedArray, at: number, t: Tensor, extent: SequenceExtent, input: GraphInput): void {
  const L = width(input);
  const pads = L - extent.copied;
  if (dst instanceof BigInt64Array) dst.fill(BigInt(input.padding!), at, at + pads);
  else (dst as Int32Array).fill(input.padding!, at, at + pads);
  if (extent.copied > 0) copyInto(dst, at + pads, t, extent.copied, input, extent.sent - extent.copied);
}

/** Can the kernels read `data` as the input's rows without converting it (dtype, finite values where the input zeroes the rest)? */
function readableAsIs(data: Tensor["data"], input: GraphInput, length: number): boolean {
  if (data.length < length) return false;
  if (input.dtype === "f32") {
    if (!(data instanceof Float32Array)) return false;
    if (input.nonFinite !== "zero") return true;
    for (let i = 0; i < length; i++) if (!Number.isFinite(data[i]!)) return false;
    return true;
  }
  if (input.dtype === "bool") return data instanceof Uint8Array;
  return input.dtype === "i64" ? data instanceof BigInt64Array : data instanceof Int32Array;
}

/** Copy `count` values of `t` from value `from` on into `dst` at `at`, converting ids between i32/i64 and zeroing non-finite values where allowed. */
function copyInto(dst: TypedArray, at: number, t: Tensor, count: number, input: GraphInput, from = 0): void {
  const raw = unalignedBytes(t);
  if (raw) return copyUnaligned(dst, at, raw.subarray(from * dtypes[t.dtype].bytes), t.dtype, count, input);
  const src = from === 0 ? t.data : t.data.subarray(from);
  if (dst instanceof BigInt64Array && src instanceof Int32Array) {
    const d32 = new Int32Array(dst.buffer, dst.byteOffset + at * 8, count * 2);
    for (let i = 0; i < count; i++) {
      d32[2 * i] = src[i]!;
      d32[2 * i + 1] = src[i]! < 0 ? -1 : 0;
    }
    return;
  }
  if (dst instanceof Int32Array && src instanceof BigInt64Array) {
    const s32 = new Int32Array(src.buffer, src.byteOffset, count * 2);
    // validate() proved every id fits in 32 bits.
    for (let i = 0; i < count; i++) dst[at + i] = s32[2 * i]!;
    return;
  }
  (dst as Float32Array).set(src.subarray(0, count) as Float32Array, at);
  if (input.dtype === "f32" && input.nonFinite === "zero") {
    const f = dst as Float32Array;
    for (let i = at; i < at + count; i++) if (!Number.isFinite(f[i]!)) f[i] = 0;
  }
}

/** copyInto from bytes at an unaligned offset: a byte copy where the dtypes agree, else converted element by element. */
function copyUnaligned(dst: TypedArray, at: number, raw: Uint8Array, dtype: Tensor["dtype"], count: number, input: GraphInput): void {
  const eb = dst.BYTES_PER_ELEMENT;
  const same = (dtype === "i64") === dst instanceof BigInt64Array && (dtype === "f32") === dst instanceof Float32Array && (dtype === "bool") === dst instanceof Uint8Array;
  if (same) new Uint8Array(dst.buffer, dst.byteOffset + at * eb, count * eb).set(raw.subarray(0, count * eb));
  else {
    const read = elementReader(raw, dtype);
    if (dst instanceof BigInt64Array) {
      const d32 = new Int32Array(dst.buffer, dst.byteOffset + at * 8, count * 2);
      for (let i = 0; i < count; i++) {
        const v = read(i);
        d32[2 * i] = v | 0;
        d32[2 * i + 1] = v < 0 ? -1 : 0;
      }
    } else for (let i = 0; i < count; i++) (dst as Int32Array)[at + i] = read(i); // validate() proved every id fits
  }
  if (input.dtype === "f32" && input.nonFinite === "zero") {
    const f = dst as Float32Array;
    for (let i = at; i < at + count; i++) if (!Number.isFinite(f[i]!)) f[i] = 0;
  }
}
