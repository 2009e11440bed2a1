// NdArray: the strided N-d view the general tensor kernels take (any rank up
// to 8, strides in elements, possibly 0 or negative, with an element offset),
// its validation before native code, and numpy broadcasting.
import { TensorError } from "../errors";
import { contiguousStrides } from "../tensor/tensor";
import { type NdDType, ndDTypes } from "./tensor-op-codes";

export type NdData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** The storage array of each dtype (bool: one byte per element, 0 or 1). */
export interface NdDataOf {
  f32: Float32Array;
  i32: Int32Array;
  i64: BigInt64Array;
  bool: Uint8Array;
}

export interface NdArray {
  dtype: NdDType;
  shape: number[];
  data: NdData;
  /** Elements between consecutive indices per dim (0 broadcasts, negative reverses); omitted = contiguous. */
  strides?: number[];
  /** Element index in `data` of the element at index (0, …, 0); default 0. */
  offset?: number;
}

/** An NdArray of one dtype. */
export interface NdArrayOf<D extends NdDType> extends NdArray {
  dtype: D;
  data: NdDataOf[D];
}

/** The kernels' rank limit (kMaxRank in kernels/cpu/tensor_nd.h). */
export const MAX_RANK = 8;

const arrays = { f32: Float32Array, i32: Int32Array, i64: BigInt64Array, bool: Uint8Array } as const;

/** Row-major contiguous strides of `shape` (the Tensor type's own rule). */
export const contiguous: (shape: readonly number[]) => number[] = contiguousStrides;

/** Element count of a shape (1 for rank 0). */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A new zeroed contiguous NdArray. */
export function ndArray<D extends NdDType>(dtype: D, shape: number[], data?: NdArrayOf<D>["data"]): NdArrayOf<D> {
  const t = { dtype, shape, data: data ?? new arrays[dtype](numelOf(shape)) } as NdArrayOf<D>;
  checkNd(t, "ndArray");
  return t;
}

function checkShape(shape: unknown, name: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorError(`${name}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, "bad_shape");
  }
  if (shape.length > MAX_RANK) throw new TensorError(`${name}: rank ${shape.length} exceeds ${MAX_RANK}`, "bad_shape");
  return shape as number[];
}

/** Throws TensorError unless `t` is a well-formed NdArray (of `dtype` when given) whose elements all lie in its data. */
export function checkNd(t: unknown, name: string, dtype?: NdDType | readonly NdDType[]): asserts t is NdArray {
  if (typeof t !== "object" || t === null) throw new TensorError(`${name}: expected a tensor, got ${typeof t}`);
  const { dtype: dt, shape, data, strides, offset = 0 } = t as Partial<NdArray>;
  if (typeof dt !== "string" || !Object.hasOwn(ndDTypes, dt)) {
    throw new TensorError(`${name}: dtype ${JSON.stringify(dt)} is not one of ${Object.keys(ndDTypes).join(", ")}`, "bad_dtype");
  }
  const allowed = dtype === undefined ? null : typeof dtype === "string" ? [dtype] : dtype;
  if (allowed && !allowed.includes(dt as NdDType)) throw new TensorError(`${name}: expected dtype ${allowed.join(" or ")}, got ${dt}`, "bad_dtype");
  const sh = checkShape(shape, name);
  const ctor = arrays[dt as NdDType];
  if (!(data instanceof ctor)) {
    throw new TensorError(`${name}: dtype ${dt} needs a ${ctor.name}, got ${ArrayBuffer.isView(data) ? data.constructor.name : typeof data}`, "bad_dtype");
  }
  const st = strides ?? contiguous(sh);
  if (!Array.isArray(st) || st.length !== sh.length || !st.every((s) => Number.isSafeInteger(s))) {
    throw new TensorError(`${name}: strides ${JSON.stringify(strides)} must be ${sh.length} integers`, "bad_strides");
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TensorError(`${name}: offset must be a non-negative integer, got ${offset}`, "bad_strides");
  if (numelOf(sh) === 0) return;
  let lo = offset;
  let hi = offset;
  sh.forEach((d, i) => {
    const span = (d - 1) * st[i]!;
    if (span < 0) lo += span;
    else hi += span;
  });
  if (lo < 0 || hi >= data.length) {
    throw new TensorError(`${name}: shape [${sh.join(", ")}] with strides [${st.join(", ")}] and offset ${offset} reaches elements ${lo}..${hi}, data has ${data.length}`, "length_mismatch");
  }
}

/** Strides of a validated NdArray (explicit or contiguous). */
export function stridesOf(t: NdArray): number[] {
  return t.strides ?? contiguous(t.shape);
}

/** The data as seen from element (0, …, 0): what the kernel's pointer argument is. */
export function basePointer(t: NdArray): NdData {
  return t.offset ? t.data.subarray(t.offset) : t.data;
}

/** Is t contiguous row-major from its offset? */
export function isContiguous(t: NdArray): boolean {
  if (!t.strides) return true;
  const c = contiguous(t.shape);
  return t.shape.every((d, i) => d <= 1 || t.strides![i] === c[i]);
}

/** numpy broadcast of several shapes, or a TensorError naming them. */
export function broadcastShapes(shapes: readonly (readonly number[])[], name: string): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = rank - s.length + i;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new TensorError(`${name}: shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(", ")} do not broadcast`, "bad_shape");
    }
  }
  return out;
}

/** t's strides over the broadcast shape `to`: 0 along broadcast (size-1 or missing) dims. */
export function broadcastStrides(t: NdArray, to: readonly number[]): BigInt64Array {
  const st = stridesOf(t);
  const lead = to.length - t.shape.length;
  return BigInt64Array.from(to, (_, i) => (i < lead || t.shape[i - lead] === 1 ? 0n : BigInt(st[i - lead]!)));
}

/** An int64 array for a shape or strides argument. */
export function i64s(v: readonly number[]): BigInt64Array {
  return BigInt64Array.from(v, (x) => BigInt(x));
}

/** Normalise an axis in [-rank, rank) to [0, rank). */
export function normaliseAxis(axis: number, rank: number, name: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new TensorError(`${name}: axis ${axis} is outside [-${rank}, ${rank})`, "bad_axis");
  return axis < 0 ? axis + rank : axis;
}

/** [outer, n, inner] of a contiguous shape split at `axis`. */
export function splitAtAxis(shape: readonly number[], axis: number): [number, number, number] {
  return [numelOf(shape.slice(0, axis)), shape[axis]!, numelOf(shape.slice(axis + 1))];
}
