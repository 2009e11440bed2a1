// Turns validated requests (validate.ts) into one staged batch: concatenates
// the rows of several requests, converting ids between i32 and i64 where the
// request and the model differ, and records which rows belong to which
// request so outputs can be sliced back. Buffers grow once and are reused.
import type { Graph, GraphInput } from "../graph/schema";
import type { TypedArray } from "../tensor/dtype";
import type { Tensor } from "../tensor/tensor";
import type { StagedBatch } from "./executor";
import type { ValidRequest } from "./validate";

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
}

/** A typed array for `length` values of `dtype` (capacity: a power of two, at least 64), on shared memory when `shared`. */
export function rowBuffer(dtype: GraphInput["dtype"], length: number, shared = false): TypedArray {
  const capacity = 2 ** Math.ceil(Math.log2(Math.max(64, length)));
  const bytes = capacity * (dtype === "i64" ? 8 : 4);
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return dtype === "f32" ? new Float32Array(buf) : dtype === "i64" ? new BigInt64Array(buf) : new Int32Array(buf);
}

/** The stager's own buffers: grow-only, reused by the next call. */
class ReusedBuffers implements StagingBuffers {
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

export class Stager {
  readonly #inputs: GraphInput[];
  readonly #own = new ReusedBuffers();

  constructor(graph: Graph) {
    this.#inputs = graph.inputs;
  }

  /**
   * Stage validated requests into one batch (nothing here can fail for a request's input).
   * `into` supplies the batch's buffers (e.g. shared memory a worker reads); by default the
   * stager's own, reused by the next call.
   */
  stage(requests: readonly ValidRequest[], into: StagingBuffers = this.#own): { batch: StagedBatch; slices: RequestSlice[] } {
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
    for (const input of this.#inputs) {
      const rows = input.role === "candidate" ? n : r;
      const buf = into.input(input, rows * width(input));
      let at = 0;
      requests.forEach((req, i) => {
        const t = req.tensors.get(input.name)!;
        const count = (input.role === "candidate" ? slices[i]!.count : slices[i]!.contextCount) * width(input);
        copyInto(buf, at, t, count, input);
        at += count;
      });
      inputs[input.name] = buf.subarray(0, rows * width(input));
    }
    slices.forEach((s) => {
      for (let j = 0; j < s.count; j++) requestOfRow[s.start + j] = s.contextCount === 1 ? s.contextStart : s.contextStart + j;
    });
    return { batch: { n, r, requestOfRow, inputs }, slices };
  }
}

/** Copy `count` values of `t` into `dst` at `at`, converting ids between i32/i64 and zeroing non-finite values where allowed. */
function copyInto(dst: TypedArray, at: number, t: Tensor, count: number, input: GraphInput): void {
  const src = t.data;
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
