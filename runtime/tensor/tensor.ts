// The Tensor type shared by the SDK, the wire format and the kernel wrappers:
// a dtype, a shape, optional strides (elements; row-major contiguous when
// absent) and a TypedArray. Validation happens here, before any native call.
import { TensorError } from "../errors";
import { type ArrayOfDType, type DType, type TypedArray, dtypes, isDType, matchesDType, storageLength } from "./dtype";

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: ArrayOfDType[D];
  /** Elements between consecutive indices of each dimension; omitted = contiguous. */
  strides?: number[];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * A new contiguous tensor; `data` is allocated (zeroed) when omitted.
 * @example const x = tensor("f32", [2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
 */
export function tensor<D extends DType>(dtype: D, shape: number[], data?: ArrayOfDType[D]): Tensor<D> {
  if (!isDType(dtype)) throw new TensorError(`tensor: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(dtypes).join(", ")})`, "bad_dtype");
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorError(`tensor: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, "bad_shape");
  }
  const t = { dtype, shape, data: data ?? new dtypes[dtype].array(storageLength(dtype, shape)) } as Tensor<D>;
  validateTensor(t, "tensor");
  return t;
}

/** Throws TensorError unless `t` is a well-formed tensor whose data covers its shape. */
export function validateTensor(t: unknown, name: string): asserts t is Tensor {
  if (typeof t !== "object" || t === null) throw new TensorError(`${name}: expected a tensor, got ${typeof t}`);
  const { dtype, shape, data, strides } = t as Partial<Tensor>;
  if (!isDType(dtype)) throw new TensorError(`${name}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(dtypes).join(", ")})`, "bad_dtype");
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorError(`${name}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, "bad_shape");
  }
  if (!ArrayBuffer.isView(data) || data instanceof DataView || !matchesDType(dtype, data as TypedArray)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
    throw new TensorError(`${name}: dtype ${dtype} needs a ${dtypes[dtype].array.name}, got ${got}`, "bad_dtype");
  }
  const arr = data as TypedArray;
  if (strides === undefined) {
    const need = storageLength(dtype, shape);
    if (arr.length !== need) {
      throw new TensorError(`${name}: shape [${shape.join(", ")}] (${dtype}) needs ${need} elements, data has ${arr.length}`, "length_mismatch");
    }
    return;
  }
  if (dtype === "u8q" || dtype === "u4q") throw new TensorError(`${name}: ${dtype} tensors must be contiguous`, "bad_strides");
  if (!Array.isArray(strides) || strides.length !== shape.length || !strides.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new TensorError(`${name}: strides ${JSON.stringify(strides)} must be ${shape.length} non-negative integers`, "bad_strides");
  }
  if (numel(shape) === 0) return;
  const lastIndex = shape.reduce((acc, d, i) => acc + (d - 1) * strides[i]!, 0);
  if (lastIndex >= arr.length) {
    throw new TensorError(`${name}: shape [${shape.join(", ")}] with strides [${strides.join(", ")}] reaches element ${lastIndex}, data has ${arr.length}`, "length_mismatch");
  }
}

/** A validated 2-D view: rows × cols with leading dimension ld (unit column stride). */
export interface MatrixView<A extends TypedArray = TypedArray> {
  rows: number;
  cols: number;
  ld: number;
  data: A;
}

/** Validate `t` as a 2-D matrix of `dtype` with unit column stride. */
export function matrixView(t: unknown, name: string, dtype: DType = "f32"): MatrixView {
  validateTensor(t, name);
  if (t.dtype !== dtype) throw new TensorError(`${name}: expected dtype ${dtype}, got ${t.dtype}`, "bad_dtype");
  if (t.shape.length !== 2) throw new TensorError(`${name}: expected a 2-D tensor, got shape [${t.shape.join(", ")}]`, "bad_shape");
  const [rows, cols] = t.shape as [number, number];
  const strides = t.strides ?? [cols, 1];
  if (strides[1] !== 1 && cols > 1) throw new TensorError(`${name}: columns must be contiguous (stride 1), got stride ${strides[1]}`, "bad_strides");
  const ld = rows <= 1 ? Math.max(strides[0]!, cols) : strides[0]!;
  if (ld < cols) throw new TensorError(`${name}: row stride ${ld} is smaller than the row width ${cols}`, "bad_strides");
  return { rows, cols, ld, data: t.data };
}

/** Validate `t` as a 1-D tensor of `dtype` (any length unless `length` is given). */
export function vectorData(t: unknown, name: string, dtype: DType, length?: number): TypedArray {
  validateTensor(t, name);
  if (t.dtype !== dtype) throw new TensorError(`${name}: expected dtype ${dtype}, got ${t.dtype}`, "bad_dtype");
  if (t.shape.length !== 1 || t.strides !== undefined) throw new TensorError(`${name}: expected a contiguous 1-D tensor, got shape [${t.shape.join(", ")}]`, "bad_shape");
  if (length !== undefined && t.shape[0] !== length) throw new TensorError(`${name}: expected ${length} elements, got ${t.shape[0]}`, "length_mismatch");
  return t.data;
}

/** A column slice [*, from, from+width) of a contiguous-row matrix, as a strided view. */
export function columnSlice(t: Tensor, from: number, width: number): Tensor {
  const m = matrixView(t, "columnSlice", t.dtype);
  if (from < 0 || width < 0 || from + width > m.cols) {
    throw new TensorError(`columnSlice: columns [${from}, ${from + width}) outside 0..${m.cols}`, "bad_shape");
  }
  return { dtype: t.dtype, shape: [m.rows, width], strides: [m.ld, 1], data: m.data.subarray(from) };
}
