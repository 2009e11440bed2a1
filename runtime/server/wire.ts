// The wire format of the rank endpoint, msgpack or JSON:
//   request  { user?, context?: {feature: value}, candidates: {feature: value} | [{feature: scalar|array}, ...]
//              | rows: {feature: value}, deadline_ms?, priority? }
//   value    msgpack: { dtype, shape, data: bin } (little-endian bytes; any byte offset: a payload
//            aligned to its element size is viewed in place, any other is checked in place and
//            copied once, where the batch is staged — runtime/tensor/unaligned.ts)
//            JSON:    nested arrays (dtype from the model's input), or { dtype, shape, data: flat array }
//            A history (an input the model declares a sequence) is one row of any length:
//            [n] or [1, n]; a JSON list of n ids is [n] (not n rows of one value).
//   response { outputs: {name: tensor}, model, version, timing: { queue_ms, compute_ms, cold_start_ms? },
//              degraded?, truncated?: { input: { length, kept } } (histories cut to the model's maximum) }
// Every field is checked here and named in the error; nothing malformed reaches the model.
import { Packr } from "msgpackr";
import { packValue } from "./msgpack-writer";
import type { GraphInput } from "../graph/schema";
import { type ArrayOfDType, type DType, dtypes, isDType, storageLength } from "../tensor/dtype";
import type { Tensor } from "../tensor/tensor";
import { unalignedTensor } from "../tensor/unaligned";
import { RequestError } from "../errors";
import type { RankRequest } from "../engine/request";

export const MSGPACK = "application/msgpack";
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

export interface WireRequest {
  request: RankRequest;
  deadlineMs?: number;
  priority?: number;
  /** Binary tensors viewed in place in the body, and those at unaligned offsets (read in place, copied once when staged). */
  copies: { inPlace: number; unaligned: number };
}

export interface WireLimits {
  /** Largest number of rows (candidates) in one request. */
  maxRows: number;
  /** Largest number of elements in one feature tensor. */
  maxElements: number;
}

/** A request value for an error message: JSON-like, BigInt-safe, shortened. */
function show(v: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : ArrayBuffer.isView(x) ? `<${x.byteLength} bytes>` : x)) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const requestFields = new Set(["user", "context", "candidates", "rows", "deadline_ms", "priority"]);
/** Each model's inputs by name (decoding looks a feature's spec up per tensor). */
const specsOf = new WeakMap<GraphInput[], Map<string, GraphInput>>();

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** Decode a request body (msgpack when `contentType` says so, else JSON). */
export function decodeRequest(body: Uint8Array, contentType: string | undefined, inputs: GraphInput[], limits: WireLimits): WireRequest {
  const msgpack = (contentType ?? "").split(";")[0]!.trim().toLowerCase() === MSGPACK;
  let raw: unknown;
  try {
    raw = msgpack ? packr.unpack(body) : JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    throw new RequestError(`body: not valid ${msgpack ? "msgpack" : "JSON"} (${(err as Error).message})`, "bad_body");
  }
  if (!isObject(raw)) throw new RequestError("body: expected an object with \"candidates\" or \"rows\"", "bad_body");
  for (const key in raw) if (!requestFields.has(key)) throw new RequestError(`${key}: unknown field (expected ${[...requestFields].join(", ")})`, "unknown_field");
  let specs = specsOf.get(inputs);
  if (!specs) specsOf.set(inputs, (specs = new Map(inputs.map((i) => [i.name, i]))));
  const copies = { inPlace: 0, unaligned: 0 };
  const group = (name: "context" | "candidates" | "rows"): Record<string, Tensor> | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (name === "candidates" && Array.isArray(value)) return rowsToTensors(value, specs, limits);
    if (!isObject(value)) throw new RequestError(`${name}: expected an object of features`, "bad_body");
    const out: Record<string, Tensor> = {};
    for (const feature in value) out[feature] = decodeTensor(value[feature], `${name}.${feature}`, specs!.get(feature), limits, copies);
    return out;
  };
  const rows = group("rows");
  const candidates = group("candidates");
  const context = group("context");
  if (rows && (candidates || context)) throw new RequestError("body: send either \"rows\" or \"context\"/\"candidates\", not both", "bad_body");
  if (!rows && !candidates) throw new RequestError("candidates: missing (or send \"rows\")", "missing_field");
  const deadline = raw.deadline_ms;
  if (deadline !== undefined && (typeof deadline !== "number" || !Number.isFinite(deadline) || deadline <= 0)) {
    throw new RequestError(`deadline_ms: must be a positive number of milliseconds, got ${show(deadline)}`, "bad_deadline");
  }
  const priority = raw.priority;
  if (priority !== undefined && (typeof priority !== "number" || !Number.isInteger(priority) || Math.abs(priority) > 1000)) {
    throw new RequestError(`priority: must be an integer in [-1000, 1000], got ${show(priority)}`, "bad_priority");
  }
  // `user` is checked by the model's validation (a string or an integer, ranking requests only).
  const user = raw.user;
  if (rows && user !== undefined) throw new RequestError("user: only ranking requests ({ context, candidates }) name a user; flat rows are not cached", "bad_user");
  const request: RankRequest = rows ? { rows } : { ...(user !== undefined ? { user: user as string | number } : {}), context: context ?? {}, candidates: candidates! };
  return { request, deadlineMs: deadline as number | undefined, priority: priority as number | undefined, copies };
}

/** A tensor from msgpack {dtype, shape, data: bin}, a JSON {dtype, shape, data: [...]}, or JSON nested arrays. */
function decodeTensor(v: unknown, field: string, spec: GraphInput | undefined, limits: WireLimits, copies?: WireRequest["copies"]): Tensor {
  if (Array.isArray(v)) {
    const dtype: DType = spec?.dtype ?? "f32";
    const history = spec?.sequence !== undefined;
    const shape = nestedShape(v, field, history);
    checkSize(shape, field, limits, history);
    return { dtype, shape, data: fromNumbers(v.flat(Infinity) as unknown[], dtype, field) };
  }
  if (!isObject(v)) throw new RequestError(`${field}: expected a tensor {dtype, shape, data} or nested arrays`, "bad_tensor");
  const { dtype, shape, data } = v as { dtype?: unknown; shape?: unknown; data?: unknown };
  if (!isDType(dtype)) throw new RequestError(`${field}.dtype: unknown dtype ${show(dtype)} (expected one of ${Object.keys(dtypes).join(", ")})`, "bad_dtype");
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape.length > 4) {
    throw new RequestError(`${field}.shape: expected up to 4 non-negative integers, got ${show(shape, 80)}`, "bad_shape");
  }
  checkSize(shape as number[], field, limits, spec?.sequence !== undefined);
  const count = storageLength(dtype, shape as number[]);
  if (data instanceof Uint8Array) {
    const bytes = count * dtypes[dtype].bytes;
    if (data.byteLength !== bytes) throw new RequestError(`${field}.data: ${dtype} [${(shape as number[]).join(", ")}] needs ${bytes} bytes, got ${data.byteLength}`, "length_mismatch");
    // msgpack bin payloads sit at any offset of the body: an aligned one is the tensor's data as
    // it is (the kernels may read it in place); another stays where it is, read in place by
    // validation and copied once, straight to where the batch is staged.
    if (data.byteOffset % dtypes[dtype].bytes === 0) {
      if (copies) copies.inPlace++;
      return { dtype, shape: shape as number[], data: view(data, dtype) } as Tensor;
    }
    if (copies) copies.unaligned++;
    return unalignedTensor(dtype, shape as number[], data);
  }
  if (Array.isArray(data)) {
    if (data.length !== count) throw new RequestError(`${field}.data: ${dtype} [${(shape as number[]).join(", ")}] needs ${count} values, got ${data.length}`, "length_mismatch");
    return { dtype, shape: shape as number[], data: fromNumbers(data, dtype, field) } as Tensor;
  }
  throw new RequestError(`${field}.data: expected binary (msgpack bin) or an array of numbers`, "bad_tensor");
}

function view<D extends DType>(bytes: Uint8Array, dtype: D): ArrayOfDType[D] {
  const Ctor = dtypes[dtype].array as unknown as new (b: ArrayBufferLike, o: number, n: number) => ArrayOfDType[D];
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / dtypes[dtype].bytes);
}

/** Element and row limits (a history's events are one row's values, not rows). */
function checkSize(shape: number[], field: string, limits: WireLimits, history = false): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > limits.maxElements) throw new RequestError(`${field}: ${n} elements exceed the limit of ${limits.maxElements}`, "too_large");
  if (!(history && shape.length === 1) && (shape[0] ?? 0) > limits.maxRows) throw new RequestError(`${field}: ${shape[0]} rows exceed the limit of ${limits.maxRows}`, "too_many_rows");
}

/** The shape of nested arrays; a flat list is one value per row, unless it is a history (one row of events). */
function nestedShape(v: unknown[], field: string, history = false): number[] {
  const shape = [v.length];
  let level: unknown = v[0];
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const check = (x: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof x !== "number" && typeof x !== "string" && typeof x !== "boolean") throw new RequestError(`${field}: nested arrays must hold numbers`, "bad_tensor");
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) throw new RequestError(`${field}: ragged nested arrays (expected shape [${shape.join(", ")}])`, "bad_shape");
    for (const e of x) check(e, depth + 1);
  };
  check(v, 0);
  if (shape.length === 1 && !history) shape.push(1); // a list of scalars is one value per row
  return shape;
}

function fromNumbers(values: unknown[], dtype: DType, field: string): Tensor["data"] {
  if (dtype === "i64") {
    const out = new BigInt64Array(values.length);
    values.forEach((x, i) => {
      if (typeof x === "number" && Number.isSafeInteger(x)) out[i] = BigInt(x);
      else if (typeof x === "string" && /^-?\d+$/.test(x)) out[i] = BigInt(x);
      else throw new RequestError(`${field}[${i}]: expected an integer id, got ${show(x)}`, "bad_value");
    });
    return out;
  }
  const Ctor = dtypes[dtype].array as unknown as new (n: number) => Float32Array;
  const out = new Ctor(values.length);
  values.forEach((x, i) => {
    // JSON cannot carry NaN/Infinity; strings "NaN"/"Infinity" are accepted so the model's policy decides.
    const n = typeof x === "number" ? x : typeof x === "boolean" && dtype === "bool" ? Number(x) : typeof x === "string" && /^-?(NaN|Infinity)$/.test(x) ? Number(x) : Number.NaN;
    if (dtype === "bool" && n !== 0 && n !== 1) throw new RequestError(`${field}[${i}]: expected true/false or 0/1 for bool, got ${show(x, 40)}`, "bad_value");
    if (typeof x !== "number" && Number.isNaN(n) && x !== "NaN") throw new RequestError(`${field}[${i}]: expected a number, got ${show(x, 40)}`, "bad_value");
    if (dtype !== "f32" && !Number.isInteger(n)) throw new RequestError(`${field}[${i}]: expected an integer for ${dtype}, got ${x}`, "bad_value");
    out[i] = n;
  });
  return out as unknown as Tensor["data"];
}

/** Row-wise candidates [{feature: scalar | array}, ...] -> columnar tensors. */
function rowsToTensors(rows: unknown[], specs: Map<string, GraphInput>, limits: WireLimits): Record<string, Tensor> {
  if (rows.length > limits.maxRows) throw new RequestError(`candidates: ${rows.length} rows exceed the limit of ${limits.maxRows}`, "too_many_rows");
  const columns = new Map<string, unknown[][]>();
  rows.forEach((row, r) => {
    if (!isObject(row)) throw new RequestError(`candidates[${r}]: expected an object of features`, "bad_body");
    for (const [feature, value] of Object.entries(row)) {
      const col = columns.get(feature) ?? [];
      col.push(Array.isArray(value) ? value : [value]);
      columns.set(feature, col);
    }
  });
  const out: Record<string, Tensor> = {};
  for (const [feature, col] of columns) {
    if (col.length !== rows.length) throw new RequestError(`candidates.${feature}: present in ${col.length} of ${rows.length} candidates`, "row_mismatch");
    out[feature] = decodeTensor(col, `candidates.${feature}`, specs.get(feature), limits);
  }
  return out;
}

export interface WireResponse {
  outputs: Record<string, Tensor<"f32">>;
  model: string;
  version: number;
  timing: { queue_ms: number; compute_ms: number; cold_start_ms?: number };
  /** Scored with default embedding rows because the remote tier failed (fault policy "default"). */
  degraded?: boolean;
  /** Histories longer than the model keeps, by input: events sent and kept (the most recent). */
  truncated?: Record<string, { length: number; kept: number }>;
}

/** Encode a response: msgpack tensors carry bin data, JSON tensors nested arrays. */
export function encodeResponse(res: WireResponse, msgpack: boolean): Uint8Array | string {
  if (msgpack) {
    const outputs: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(res.outputs)) {
      outputs[name] = { dtype: t.dtype, shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
    }
    return packValue({ ...res, outputs });
  }
  const outputs: Record<string, number[][]> = {};
  for (const [name, t] of Object.entries(res.outputs)) {
    const [rows = 0, width = 1] = t.shape;
    outputs[name] = Array.from({ length: rows }, (_, i) => Array.from(t.data.subarray(i * width, (i + 1) * width)));
  }
  return JSON.stringify({ ...res, outputs });
}

/** Encode a tensor the way the wire carries it in msgpack (for clients). */
export function encodeTensor(t: Tensor): { dtype: DType; shape: number[]; data: Uint8Array } {
  return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

export { packr };
