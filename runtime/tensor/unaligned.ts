// Tensors whose bytes sit at an offset their element type cannot be viewed at
// (a msgpack bin payload at an odd place in a request body). Their `data` is
// an aligned copy made only when something asks for it; validation reads the
// bytes in place and staging copies them straight to where the kernels read
// them, so such a request's rows are still copied once on their way in.
import { type DType, type TypedArray, dtypes } from "./dtype";
import type { Tensor } from "./tensor";

const sources = new WeakMap<object, Uint8Array>();

/** A tensor over `bytes` (any offset); `data` is materialised (aligned, copied) on first access. */
export function unalignedTensor(dtype: DType, shape: number[], bytes: Uint8Array): Tensor {
  let data: TypedArray | undefined;
  const t = {
    dtype,
    shape,
    get data() {
      if (!data) {
        const aligned = new Uint8Array(bytes.byteLength);
        aligned.set(bytes);
        const Ctor = dtypes[dtype].array as unknown as new (b: ArrayBufferLike, o: number, n: number) => TypedArray;
        data = new Ctor(aligned.buffer, 0, bytes.byteLength / dtypes[dtype].bytes);
      }
      return data;
    },
  } as Tensor;
  sources.set(t, bytes);
  return t;
}

/** The unaligned bytes of `t` when it is such a tensor. */
export function unalignedBytes(t: unknown): Uint8Array | undefined {
  return typeof t === "object" && t !== null ? sources.get(t) : undefined;
}

/** Element i of `bytes` read as `dtype` (little-endian): f32 and i32 as numbers, i64 as its two 32-bit halves summed exactly below 2^53. */
export function elementReader(bytes: Uint8Array, dtype: DType): (i: number) => number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "f32") return (i) => view.getFloat32(4 * i, true);
  if (dtype === "i64") return (i) => view.getInt32(8 * i + 4, true) * 4294967296 + view.getUint32(8 * i, true);
  if (dtype === "i32") return (i) => view.getInt32(4 * i, true);
  return (i) => view.getUint8(i);
}
