// Turns validated requests into one staged batch: checks every feature
// (name, role, dtype, shape, finiteness) before anything reaches native code,
// concatenates the rows of several requests, and records which rows belong to
// which request so outputs can be sliced back. Buffers grow once and are reused.
import { RankfnError } from "../errors";
import type { Graph, GraphInput } from "../graph/schema";
import type { TypedArray } from "../tensor/dtype";
import { type Tensor, validateTensor } from "../tensor/tensor";
import type { StagedBatch } from "./executor";

export type StageRequest = { rows: Record<string, Tensor> } | { context?: Record<string, Tensor>; candidates: Record<string, Tensor> };

export interface RequestSlice {
  /** First candidate row of the request in the batch, and its row count. */
  start: number;
  count: number;
  /** First context row of the request, and its count (1 for ranking requests, count for flat). */
  contextStart: number;
  contextCount: number;
}

/** A request field is malformed: 400, naming the field. */
export class RequestError extends RankfnError {
  override readonly name = "RequestError";
  constructor(message: string, code = "bad_request") {
    super(message, code, 400);
  }
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
   * Validate and stage `requests` (prefix of the error: "request i: ..." when several).
   * `into` supplies the batch's buffers (e.g. shared memory a worker reads); by default the
   * stager's own, reused by the next call.
   */
  stage(requests: StageRequest[], into: StagingBuffers = this.#own): { batch: StagedBatch; slices: RequestSlice[] } {
    const slices: RequestSlice[] = [];
    let n = 0;
    let r = 0;
    const plans = requests.map((req, i) => {
      const where = requests.length > 1 ? `request ${i}: ` : "";
      const p = this.#check(req, where);
      slices.push({ start: n, count: p.rows, contextStart: r, contextCount: p.contextRows });
      n += p.rows;
      r += p.contextRows;
      return p;
    });
    const requestOfRow = into.requestOfRow(n);
    const inputs: Record<string, TypedArray> = {};
    for (const input of this.#inputs) {
      const rows = input.role === "candidate" ? n : r;
      const buf = into.input(input, rows * width(input));
      let at = 0;
      plans.forEach((p, i) => {
        const t = p.tensors.get(input.name)!;
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

  #check(req: StageRequest, where: string): { rows: number; contextRows: number; tensors: Map<string, Tensor> } {
    if (typeof req !== "object" || req === null) throw new RequestError(`${where}request must be an object with "rows" or "candidates"`);
    const flat = "rows" in req;
    const groups: [string, Record<string, Tensor> | undefined][] = flat ? [["rows", req.rows]] : [["context", req.context], ["candidates", req.candidates]];
    const tensors = new Map<string, Tensor>();
    const known = new Set(this.#inputs.map((i) => i.name));
    for (const [group, feats] of groups) {
      if (feats === undefined) continue;
      if (typeof feats !== "object" || feats === null) throw new RequestError(`${where}${group} must be an object of tensors`);
      for (const [name, t] of Object.entries(feats)) {
        if (!known.has(name)) throw new RequestError(`${where}${group}.${name}: unknown feature (the model's inputs are ${[...known].join(", ")})`, "unknown_feature");
        validateTensorAt(t, `${where}${group}.${name}`);
        tensors.set(name, t);
      }
    }
    let rows = -1;
    let contextRows = flat ? -1 : 1;
    for (const input of this.#inputs) {
      const group = flat ? "rows" : input.role === "context" ? "context" : "candidates";
      const t = (flat ? req.rows : input.role === "context" ? req.context : req.candidates)?.[input.name];
      if (!t) {
        const misplaced = !flat && (input.role === "context" ? req.candidates?.[input.name] : req.context?.[input.name]);
        throw new RequestError(`${where}${group}.${input.name}: missing ${misplaced ? `(it is a ${input.role} feature: put it in "${group}")` : "feature"}`, "missing_feature");
      }
      const field = `${where}${group}.${input.name}`;
      const w = width(input);
      const okShape = (t.shape.length === 2 && t.shape[1] === w) || (t.shape.length === 1 && w === 1);
      if (!okShape) throw new RequestError(`${field}: expected shape [rows, ${w}]${w === 1 ? " or [rows]" : ""}, got [${t.shape.join(", ")}]`, "bad_shape");
      const okDtype = input.dtype === "f32" ? t.dtype === "f32" : t.dtype === "i32" || t.dtype === "i64";
      if (!okDtype) throw new RequestError(`${field}: expected dtype ${input.dtype === "f32" ? "f32" : "i32 or i64"}, got ${t.dtype}`, "bad_dtype");
      const count = t.shape[0]!;
      if (!flat && input.role === "context") {
        if (count !== 1) throw new RequestError(`${field}: context features have exactly 1 row, got ${count}`, "bad_shape");
        continue;
      }
      if (rows >= 0 && count !== rows) throw new RequestError(`${field}: has ${count} rows, other features have ${rows}`, "row_mismatch");
      rows = count;
    }
    if (rows < 0) rows = flat ? Number(tensors.values().next().value?.shape[0] ?? 0) : 0;
    if (rows === 0) throw new RequestError(`${where}${flat ? "rows" : "candidates"}: empty — nothing to score`, "empty_request");
    if (flat) contextRows = rows;
    for (const input of this.#inputs) {
      if (input.dtype !== "f32" || input.nonFinite === "zero") continue;
      const t = tensors.get(input.name)!;
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          const group = flat ? "rows" : input.role === "context" ? "context" : "candidates";
          throw new RequestError(`${where}${group}.${input.name}: row ${Math.floor(i / width(input))} has a non-finite value (${data[i]}); send finite numbers or declare the input with nonFinite: "zero"`, "non_finite");
        }
      }
    }
    return { rows, contextRows, tensors };
  }
}

function validateTensorAt(t: unknown, field: string): asserts t is Tensor {
  try {
    validateTensor(t, field);
  } catch (err) {
    throw new RequestError((err as Error).message, "bad_tensor");
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
    for (let i = 0; i < count; i++) {
      const hi = s32[2 * i + 1]!;
      const lo = s32[2 * i]!;
      if (!((hi === 0 && lo >= 0) || (hi === -1 && lo < 0))) throw new RequestError(`${input.name}: id ${src[i]} does not fit the model's i32 ids`, "id_out_of_range");
      dst[at + i] = lo;
    }
    return;
  }
  (dst as Float32Array).set(src.subarray(0, count) as Float32Array, at);
  if (input.dtype === "f32" && input.nonFinite === "zero") {
    const f = dst as Float32Array;
    for (let i = at; i < at + count; i++) if (!Number.isFinite(f[i]!)) f[i] = 0;
  }
}
