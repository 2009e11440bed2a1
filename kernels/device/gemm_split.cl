// The operands and epilogue of CUDA's cuBLASLt bf16 and int8 GEMMs
// (kernels/cuda/gemm.cpp). cuBLASLt multiplies two matrices of one dtype, but
// rankfn.h keeps X in fp32 for bf16 weights and at >= 16 bits for int8 ones,
// so X is split into two digits of the weight's dtype and multiplied twice:
//   bf16: hi = bf16(x) (nearest even), lo = bf16(x - hi): x = hi + lo within 2^-16 |x|;
//   int8: per row s = max|x| / 32767 and q = round(x / s) in [-32767, 32767]
//         (int16 levels, as the AVX2 small-M kernels take them), with
//         hi = (q + 32768) / 256 - 128 and lo = (q + 32768) % 256 - 128 in [-128, 127]:
//         q = 256 hi + lo + 128, so
//         Σ_l q_l W[j][l] = 256 D_hi[i][j] + D_lo[i][j] + 128 Σ_l W[j][l],
//         exact in int64 (each int32 digit product is below 128 · 127 · k < 2^31 for k < 2^17).

// fp32 -> bf16 bits, rounded to nearest even (NaN stays NaN).
RF_FN ushort f32_to_bf16_bits(float v) {
    uint u = as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}

// hi, lo: [m][k] bf16 (ld k) from X [m][k] (ld ldx).
RF_KERNEL void split_bf16(long m, long k, GBUF(const float, x), long ldx, GBUF(ushort, hi), GBUF(ushort, lo)) {
    const long l = get_global_id(0), i = get_global_id(1);
    if (l >= k || i >= m) return;
    const float v = AT(const float, x)[i * ldx + l];
    const ushort h = f32_to_bf16_bits(v);
    AT(ushort, hi)[i * k + l] = h;
    AT(ushort, lo)[i * k + l] = f32_to_bf16_bits(v - bf16_to_f32(h));
}

// scale[i] = max_l |X[i][l]| / 32767 (0 for a zero row): one work-item per row.
RF_KERNEL void row_scale_i16(long m, long k, GBUF(const float, x), long ldx, GBUF(float, scale)) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    float a = 0.f;
    for (long l = 0; l < k; ++l) a = fmax(a, fabs(X[l]));
    AT(float, scale)[i] = a / 32767.f;
}

// hi, lo: [m][k] int8 digits (ld k) of X's int16 levels under scale.
RF_KERNEL void split_i8(long m, long k, GBUF(const float, x), long ldx, GBUF(const float, scale), GBUF(rf_i8, hi),
                        GBUF(rf_i8, lo)) {
    const long l = get_global_id(0), i = get_global_id(1);
    if (l >= k || i >= m) return;
    const float s = AT(const float, scale)[i];
    int q = s > 0.f ? (int)rint(AT(const float, x)[i * ldx + l] / s) : 0;
    q = q < -32767 ? -32767 : q > 32767 ? 32767 : q;
    const int u = q + 32768;  // in [1, 65535]
    AT(rf_i8, hi)[i * k + l] = (rf_i8)(u / 256 - 128);
    AT(rf_i8, lo)[i * k + l] = (rf_i8)(u % 256 - 128);
}

// Y = act(scale[i] · wscale[j] · (256 D_hi + D_lo + 128 colsum[j]) + bias[j]) · (mul ? mul : 1) + (res ? res : 0),
// D_hi, D_lo: the two int32 products, [m][n] each (ld n), one after the other.
RF_KERNEL void gemm_i8_split_epilogue(long m, long n, GBUF(const int, d), GBUF(const float, scale), GBUF(const float, wscale),
                                      GBUF(const int, colsum), GBUF(const float, bias), int act, GBUF(const float, mul),
                                      long ldm, GBUF(const float, res), long ldr, GBUF(float, y), long ldy) {
    const long j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    RF_GLOBAL const int *D = AT(const int, d);
    const long dot = 256L * (long)D[i * n + j] + (long)D[m * n + i * n + j] + 128L * (long)AT(const int, colsum)[j];
    RF_GLOBAL const float *B = OPT(const float, bias);
    RF_GLOBAL const float *M = OPT(const float, mul);
    RF_GLOBAL const float *R = OPT(const float, res);
    float v = act_apply(act, AT(const float, scale)[i] * AT(const float, wscale)[j] * (float)dot + (B ? B[j] : 0.f));
    if (M) v *= M[i * ldm + j];
    if (R) v += R[i * ldr + j];
    AT(float, y)[i * ldy + j] = v;
}
