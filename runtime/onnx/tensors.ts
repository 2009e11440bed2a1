// ONNX TensorProto initializers -> rankfn tensors (raw or typed fields,
// external data files next to the model), with every size checked.
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import type { onnx } from "onnx-proto";
import { RankfnError } from "../errors";
import type { Tensor } from "../tensor/tensor";

export type Long = number | { toNumber(): number };
export const num = (x: Long | null | undefined): number => (x === null || x === undefined ? 0 : typeof x === "number" ? x : x.toNumber());

/** ONNX TensorProto.DataType codes rankfn reads. */
export const ONNX = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

export class OnnxError extends RankfnError {
  override readonly name = "OnnxError";
  constructor(message: string) {
    super(message, "unsupported_onnx", 400);
  }
}

/**
 * The initializer as a rankfn tensor (f32, i32, i64 or bool); external data is read relative to `modelDir`.
 * rankfn computes in f32, so a DOUBLE tensor (torch exports Python scalars, as in torch.where(c, 1.0, 0.0),
 * as double constants) is narrowed to f32 here.
 */
export function initializerTensor(t: onnx.ITensorProto, modelDir: string): Tensor {
  const name = t.name ?? "?";
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const elementBytes = type === ONNX.FLOAT || type === ONNX.INT32 ? 4 : type === ONNX.INT64 || type === ONNX.DOUBLE ? 8 : type === ONNX.BOOL ? 1 : 0;
  if (!elementBytes) throw new OnnxError(`initializer "${name}": data type ${type} is not supported (FLOAT, DOUBLE, INT32, INT64, BOOL)`);
  let bytes: Uint8Array | undefined;
  if (t.dataLocation === 1) bytes = externalBytes(t, modelDir, count * elementBytes);
  else if (t.rawData && t.rawData.byteLength > 0) bytes = t.rawData;
  const shape = dims.length === 0 ? [1] : dims;
  if (bytes) {
    if (bytes.byteLength !== count * elementBytes) throw new OnnxError(`initializer "${name}": [${dims.join(", ")}] needs ${count * elementBytes} bytes, has ${bytes.byteLength}`);
    const aligned = new Uint8Array(bytes.byteLength);
    aligned.set(bytes);
    if (type === ONNX.FLOAT) return { dtype: "f32", shape, data: new Float32Array(aligned.buffer) };
    if (type === ONNX.DOUBLE) return { dtype: "f32", shape, data: Float32Array.from(new Float64Array(aligned.buffer)) };
    if (type === ONNX.INT32) return { dtype: "i32", shape, data: new Int32Array(aligned.buffer) };
    if (type === ONNX.BOOL) return { dtype: "bool", shape, data: Uint8Array.from(aligned, (b) => (b ? 1 : 0)) };
    return { dtype: "i64", shape, data: new BigInt64Array(aligned.buffer) };
  }
  const values: Long[] = type === ONNX.FLOAT ? (t.floatData ?? []) : type === ONNX.DOUBLE ? (t.doubleData ?? []) : type === ONNX.INT32 || type === ONNX.BOOL ? (t.int32Data ?? []) : (t.int64Data ?? []);
  if (values.length !== count) throw new OnnxError(`initializer "${name}": [${dims.join(", ")}] needs ${count} values, has ${values.length}`);
  if (type === ONNX.FLOAT || type === ONNX.DOUBLE) return { dtype: "f32", shape, data: Float32Array.from(values as number[]) };
  if (type === ONNX.BOOL) return { dtype: "bool", shape, data: Uint8Array.from(values as number[], (v) => (v ? 1 : 0)) };
  if (type === ONNX.INT32) return { dtype: "i32", shape, data: Int32Array.from(values as number[]) };
  return { dtype: "i64", shape, data: BigInt64Array.from(values, (v) => BigInt(num(v))) };
}

/** Bytes of an external-data initializer (location/offset/length), confined to the model's folder. */
function externalBytes(t: onnx.ITensorProto, modelDir: string, expected: number): Uint8Array {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location");
  if (!location) throw new OnnxError(`initializer "${t.name}": external data without a location`);
  const path = resolve(modelDir, location);
  const rel = relative(resolve(modelDir), path);
  if (rel.startsWith("..") || isAbsolute(rel)) throw new OnnxError(`initializer "${t.name}": external data ${location} is outside the model's folder`);
  const offset = Number(entries.get("offset") ?? 0);
  const length = Number(entries.get("length") ?? expected);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new OnnxError(`initializer "${t.name}": external data file ${location} not found next to the model`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || length !== expected || offset + length > size) {
    throw new OnnxError(`initializer "${t.name}": external data [${offset}, ${offset + length}) of ${location} does not hold ${expected} bytes (file is ${size})`);
  }
  // The importer copies weights into the converted model anyway, so a plain read is enough.
  const file = readFileSync(path);
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength).subarray(offset, offset + length);
}
