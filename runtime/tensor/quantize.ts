// Host-side conversions between fp32 and the stored dtypes the kernels read:
// bf16, fp16, int8 per-channel GEMM weights, u8q row-wise embedding rows
// (dim bytes, then fp16 scale and fp16 bias: value = scale * q + bias) and u4q
// rows (FBGEMM's fused 4-bit layout, unpadded: (dim + 1) / 2 bytes of nibbles,
// even columns in the low nibble, then fp16 scale and fp16 bias).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 -> bf16 bits, round to nearest even (NaN stays NaN). */
export function toBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i]!;
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function fromBf16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** One fp32 value -> IEEE half bits, round to nearest even. */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    if (a < 0x33000000) return sign;
    const man = (a & 0x7fffff) | 0x800000;
    const shift = 126 - (a >>> 23);
    let half = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let h = (a >>> 13) - ((127 - 15) << 10);
  const rem = a & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
  return sign | h;
}

/** IEEE half bits -> fp32 value. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

export function toF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16(src[i]!);
  return out;
}

export function fromF16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]!);
  return out;
}

/**
 * The affine range of row r of a [rows, dim] table for `levels` + 1 quantized values: bias = the
 * row's minimum, scale = its span / levels. Both are stored as fp16, so they are returned as the
 * kernel reads them back — what the row must be quantized with.
 */
function rowScaleBias(src: Float32Array, r: number, dim: number, levels: number): { scale: number; bias: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let c = 0; c < dim; c++) {
    const v = src[r * dim + c]!;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (dim === 0) lo = hi = 0;
  const bias = f16ToF32(f32ToF16(lo));
  return { bias, scale: f16ToF32(f32ToF16(hi > lo ? (hi - bias) / levels : 1)) };
}

/** Row-wise 8-bit quantization of a [rows, dim] table into u8q rows (dim + 4 bytes each). */
export function quantizeRowsU8(src: Float32Array, rows: number, dim: number): Uint8Array {
  const stride = dim + 4;
  const out = new Uint8Array(rows * stride);
  const view = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    const { scale, bias } = rowScaleBias(src, r, dim, 255);
    for (let c = 0; c < dim; c++) {
      const q = Math.round((src[r * dim + c]! - bias) / scale);
      out[r * stride + c] = Math.min(255, Math.max(0, q));
    }
    view.setUint16(r * stride + dim, f32ToF16(scale), true);
    view.setUint16(r * stride + dim + 2, f32ToF16(bias), true);
  }
  return out;
}

/** u8q rows back to fp32 [rows, dim] (what the kernels compute from). */
export function dequantizeRowsU8(src: Uint8Array, rows: number, dim: number): Float32Array {
  const stride = dim + 4;
  const out = new Float32Array(rows * dim);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let r = 0; r < rows; r++) {
    const scale = f16ToF32(view.getUint16(r * stride + dim, true));
    const bias = f16ToF32(view.getUint16(r * stride + dim + 2, true));
    for (let c = 0; c < dim; c++) out[r * dim + c] = scale * src[r * stride + c]! + bias;
  }
  return out;
}

/** Row-wise 4-bit quantization of a [rows, dim] table into u4q rows ((dim + 1) / 2 + 4 bytes each). */
export function quantizeRowsU4(src: Float32Array, rows: number, dim: number): Uint8Array {
  const qb = Math.ceil(dim / 2);
  const stride = qb + 4;
  const out = new Uint8Array(rows * stride);
  const view = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    const { scale, bias } = rowScaleBias(src, r, dim, 15);
    for (let c = 0; c < dim; c++) {
      const q = Math.min(15, Math.max(0, Math.round((src[r * dim + c]! - bias) / scale)));
      out[r * stride + (c >> 1)]! |= q << (4 * (c & 1));
    }
    view.setUint16(r * stride + qb, f32ToF16(scale), true);
    view.setUint16(r * stride + qb + 2, f32ToF16(bias), true);
  }
  return out;
}

/** u4q rows back to fp32 [rows, dim] (what the kernels compute from). */
export function dequantizeRowsU4(src: Uint8Array, rows: number, dim: number): Float32Array {
  const qb = Math.ceil(dim / 2);
  const stride = qb + 4;
  const out = new Float32Array(rows * dim);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let r = 0; r < rows; r++) {
    const scale = f16ToF32(view.getUint16(r * stride + qb, true));
    const bias = f16ToF32(view.getUint16(r * stride + qb + 2, true));
    for (let c = 0; c < dim; c++) out[r * dim + c] = scale * ((src[r * stride + (c >> 1)]! >> (4 * (c & 1))) & 15) + bias;
  }
  return out;
}

/** Symmetric per-output-channel int8 quantization of W [n, k]: W ≈ scales[j] * q[j][l]. */
export function quantizeInt8PerChannel(w: Float32Array, n: number, k: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let max = 0;
    for (let l = 0; l < k; l++) max = Math.max(max, Math.abs(w[j * k + l]!));
    const s = max > 0 ? max / 127 : 1;
    scales[j] = s;
    for (let l = 0; l < k; l++) q[j * k + l] = Math.max(-127, Math.min(127, Math.round(w[j * k + l]! / s)));
  }
  return { q, scales };
}

/** Dequantized int8 weights, fp32 [n, k]. */
export function dequantizeInt8PerChannel(q: Int8Array, scales: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) out[j * k + l] = scales[j]! * q[j * k + l]!;
  return out;
}
