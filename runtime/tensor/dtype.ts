// Element types of rankfn tensors, their storage and their kernel-ABI codes.

export type DType = "f32" | "f16" | "bf16" | "i8" | "u8q" | "u4q" | "i32" | "i64" | "bool";

export type TypedArray = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

/** The storage array of each dtype. */
export interface ArrayOfDType {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  i8: Int8Array;
  u8q: Uint8Array;
  /** Row-wise 4-bit rows: (dim + 1) / 2 bytes of nibbles (even columns low), fp16 scale, fp16 bias. */
  u4q: Uint8Array;
  i32: Int32Array;
  i64: BigInt64Array;
  /** One byte per element, 0 or 1 (rf_dtype RF_BOOL). */
  bool: Uint8Array;
}

interface DTypeInfo {
  /** Storage array type. f16/bf16 are raw uint16 bits; u8q rows are bytes. */
  array: { new (length: number): TypedArray; readonly BYTES_PER_ELEMENT: number };
  /** Bytes per element (u8q: per value; each row adds 4 bytes of fp16 scale and bias). */
  bytes: number;
  /** rf_dtype in kernels/include/rankfn.h. */
  code: number;
}

export const dtypes: Record<DType, DTypeInfo> = {
  f32: { array: Float32Array, bytes: 4, code: 0 },
  f16: { array: Uint16Array, bytes: 2, code: 1 },
  bf16: { array: Uint16Array, bytes: 2, code: 2 },
  i8: { array: Int8Array, bytes: 1, code: 3 },
  u8q: { array: Uint8Array, bytes: 1, code: 4 },
  u4q: { array: Uint8Array, bytes: 1, code: 8 },
  i32: { array: Int32Array, bytes: 4, code: 5 },
  i64: { array: BigInt64Array, bytes: 8, code: 6 },
  bool: { array: Uint8Array, bytes: 1, code: 7 },
};

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && Object.hasOwn(dtypes, value);
}

/** Storage elements a contiguous tensor of this dtype and shape needs. */
export function storageLength(dtype: DType, shape: readonly number[]): number {
  if (dtype === "u8q") {
    // [rows, dim]: each row is dim bytes + fp16 scale + fp16 bias.
    const [rows = 1, dim = 0] = shape.length === 1 ? [1, shape[0]] : shape;
    return rows * (dim + 4);
  }
  if (dtype === "u4q") {
    const [rows = 1, dim = 0] = shape.length === 1 ? [1, shape[0]] : shape;
    return rows * (Math.ceil(dim / 2) + 4);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/** Does `data` have the storage type `dtype` requires? */
export function matchesDType(dtype: DType, data: TypedArray): boolean {
  return data instanceof dtypes[dtype].array;
}
