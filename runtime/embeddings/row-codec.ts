// The binary layout of one embedding row outside the model file (Redis values,
// host-cache entries, update messages): the row exactly as the table stores it —
// f32/f16/bf16 little-endian values, u8q (dim bytes, fp16 scale, fp16 bias) or
// u4q (⌈dim/2⌉ bytes of nibbles, even columns low, then the same scale and bias) —
// so a remote row is bit-identical to the local one. Decoding matches the
// kernels' conversion (fp32 math, no fused multiply-add).
import { RankfnError } from "../errors";
import { f16ToF32, quantizeRowsU4, quantizeRowsU8, toBf16, toF16 } from "../tensor/quantize";
import { packedRowBytes } from "../ffi/emb-cache";
import type { RowDType } from "../ffi/emb-cache";

export type { RowDType };

export const rowDTypes: readonly RowDType[] = ["f32", "f16", "bf16", "u8q", "u4q"];

/** Bytes of one encoded row. */
export function rowBytes(dtype: RowDType, dim: number): number {
  return packedRowBytes(dtype, dim);
}

/** fp32 rows [n, dim] in the table's encoding (u8q, u4q: row-wise quantized). */
export function encodeRows(rows: Float32Array, n: number, dim: number, dtype: RowDType): Uint8Array {
  if (rows.length !== n * dim) throw new RankfnError(`rows: ${rows.length} values for ${n} rows of dim ${dim} (expected ${n * dim})`, "length_mismatch", 400);
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case "f32": return bytes(rows.slice());
    case "f16": return bytes(toF16(rows));
    case "bf16": return bytes(toBf16(rows));
    case "u8q": return quantizeRowsU8(rows, n, dim);
    case "u4q": return quantizeRowsU4(rows, n, dim);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decode one encoded row into out[at .. at + dim). */
export function decodeRow(src: Uint8Array, dtype: RowDType, dim: number, out: Float32Array, at: number): void {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (dtype) {
    case "f32":
      if (src.byteOffset % 4 === 0) out.set(new Float32Array(src.buffer, src.byteOffset, dim), at);
      else for (let c = 0; c < dim; c++) out[at + c] = view.getFloat32(4 * c, true);
      return;
    case "f16":
      for (let c = 0; c < dim; c++) out[at + c] = f16ToF32(view.getUint16(2 * c, true));
      return;
    case "bf16":
      for (let c = 0; c < dim; c++) {
        u32[0] = view.getUint16(2 * c, true) << 16;
        out[at + c] = f32[0]!;
      }
      return;
    case "u8q": {
      const scale = Math.fround(f16ToF32(view.getUint16(dim, true)));
      const bias = Math.fround(f16ToF32(view.getUint16(dim + 2, true)));
      for (let c = 0; c < dim; c++) out[at + c] = Math.fround(scale * src[c]!) + bias;
      return;
    }
    case "u4q": {
      const qb = Math.ceil(dim / 2);
      const scale = Math.fround(f16ToF32(view.getUint16(qb, true)));
      const bias = Math.fround(f16ToF32(view.getUint16(qb + 2, true)));
      for (let c = 0; c < dim; c++) out[at + c] = Math.fround(scale * ((src[c >> 1]! >> (4 * (c & 1))) & 15)) + bias;
    }
  }
}

/** Mean row of a table given as encoded rows (the "mean" default row of the fault policy). */
export function meanRow(encoded: Uint8Array, rows: number, dtype: RowDType, dim: number): Float32Array {
  const sum = new Float64Array(dim);
  const row = new Float32Array(dim);
  const rb = rowBytes(dtype, dim);
  for (let r = 0; r < rows; r++) {
    decodeRow(encoded.subarray(r * rb, (r + 1) * rb), dtype, dim, row, 0);
    for (let c = 0; c < dim; c++) sum[c]! += row[c]!;
  }
  return Float32Array.from(sum, (s) => (rows > 0 ? s / rows : 0));
}
