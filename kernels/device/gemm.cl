// Tiled GEMM with a fused epilogue, one kernel per weight dtype:
//   Y[i][j] = act(bias[j] + Σ_l X[i][l] · W[j][l]) · (mul ? mul[i][j] : 1) + (res ? res[i][j] : 0)
// A work-group of RF_GEMM_WG² work-items computes a TILE×TILE block of Y
// (TILE = 2·RF_GEMM_WG, 2×2 outputs per work-item), staging TK-wide slices of
// X and W in local memory. W is [n][k] as packed (fp32, bf16 bits or int8
// with per-row scales, widened to fp32 as it is staged: weight-only
// quantisation, like the CPU reference path).
#define WG RF_GEMM_WG
#define TILE (2 * RF_GEMM_WG)
#define TK 16

#define GEMM_KERNEL(NAME, WT, LOAD_W)                                                                         \
RF_KERNEL RF_WG_SIZE(WG, WG)                                                     \
void NAME(long m, long n, long k, GBUF(const float, x), long ldx, GBUF(const WT, w), GBUF(const float, scales), \
          GBUF(const float, bias), int act, GBUF(const float, mul), long ldm, GBUF(const float, res), long ldr,  \
          GBUF(float, y), long ldy) {                                                                          \
    RF_LOCAL float xs[TILE][TK + 1];                                                                           \
    RF_LOCAL float ws[TILE][TK + 1];                                                                           \
    RF_GLOBAL const float *X = AT(const float, x);                                                             \
    RF_GLOBAL const WT *W = AT(const WT, w);                                                                   \
    RF_GLOBAL const float *S = OPT(const float, scales);                                                       \
    const int tx = get_local_id(0), ty = get_local_id(1);                                                     \
    const long j0 = get_group_id(0) * TILE, i0 = get_group_id(1) * TILE;                                      \
    const int lid = ty * WG + tx;                                                                             \
    float acc00 = 0.f, acc01 = 0.f, acc10 = 0.f, acc11 = 0.f;                                                 \
    for (long l0 = 0; l0 < k; l0 += TK) {                                                                     \
        for (int e = lid; e < TILE * TK; e += WG * WG) {                                                      \
            int r = e / TK, c = e % TK;                                                                       \
            long i = i0 + r, j = j0 + r, l = l0 + c;                                                          \
            xs[r][c] = (i < m && l < k) ? X[i * ldx + l] : 0.f;                                               \
            ws[r][c] = (j < n && l < k) ? LOAD_W : 0.f;                                                       \
        }                                                                                                     \
        RF_BARRIER();                                                                         \
        for (int c = 0; c < TK; ++c) {                                                                        \
            float a0 = xs[ty][c], a1 = xs[ty + WG][c];                                                        \
            float b0 = ws[tx][c], b1 = ws[tx + WG][c];                                                        \
            acc00 = fma(a0, b0, acc00); acc01 = fma(a0, b1, acc01);                                           \
            acc10 = fma(a1, b0, acc10); acc11 = fma(a1, b1, acc11);                                           \
        }                                                                                                     \
        RF_BARRIER();                                                                         \
    }                                                                                                         \
    RF_GLOBAL const float *B = OPT(const float, bias);                                                         \
    RF_GLOBAL const float *M = OPT(const float, mul);                                                          \
    RF_GLOBAL const float *R = OPT(const float, res);                                                          \
    RF_GLOBAL float *Y = AT(float, y);                                                                         \
    float acc[2][2] = {{acc00, acc01}, {acc10, acc11}};                                                       \
    for (int a = 0; a < 2; ++a) {                                                                             \
        long i = i0 + ty + a * WG;                                                                            \
        if (i >= m) continue;                                                                                 \
        for (int b = 0; b < 2; ++b) {                                                                         \
            long j = j0 + tx + b * WG;                                                                        \
            if (j >= n) continue;                                                                             \
            float v = act_apply(act, acc[a][b] + (B ? B[j] : 0.f));                                           \
            if (M) v *= M[i * ldm + j];                                                                       \
            if (R) v += R[i * ldr + j];                                                                       \
            Y[i * ldy + j] = v;                                                                               \
        }                                                                                                     \
    }                                                                                                         \
}

GEMM_KERNEL(gemm_f32, float, W[j * k + l])
GEMM_KERNEL(gemm_bf16, ushort, bf16_to_f32(W[j * k + l]))
GEMM_KERNEL(gemm_i8, rf_i8, S[j] * (float)W[j * k + l])

// The same GEMM for CPU-type devices (PoCL): no local memory or barriers, which
// such drivers run as serial loops. W is stored as panels of 16 output columns
// (the last zero-padded), each panel [k][16] contiguous — so a work-item
// streams one contiguous panel, not k pages — and each work-item computes a block
// of 4 rows x 16 columns with 16-float vectors (one wide weight load feeds 4
// fma), the register blocking of a CPU microkernel written in OpenCL C.
// Dimension 0 runs over row blocks, so the work-items of a group (run one
// after another by a CPU driver) share one column block of W while it is in cache.
#define GEMM_COLS_KERNEL(NAME, WT, LOAD_W16, SCALE16)                                                       \
RF_KERNEL void NAME(long m, long n, long k, GBUF(const float, x), long ldx, GBUF(const WT, w),                \
                   GBUF(const float, scales), GBUF(const float, bias), int act, GBUF(const float, mul),      \
                   long ldm, GBUF(const float, res), long ldr, GBUF(float, y), long ldy) {                  \
    const long i0 = get_global_id(0) * 4, j0 = get_global_id(1) * 16;                                       \
    if (j0 >= n || i0 >= m) return;                                                                        \
    RF_GLOBAL const float *X = AT(const float, x);                                                           \
    RF_GLOBAL const WT *W = AT(const WT, w) + j0 * k;  /* this column block's panel */                     \
    RF_GLOBAL const float *S = OPT(const float, scales);                                                     \
    RF_GLOBAL const float *x0 = X + i0 * ldx;                                                                \
    RF_GLOBAL const float *x1 = X + min(i0 + 1, m - 1) * ldx;                                                \
    RF_GLOBAL const float *x2 = X + min(i0 + 2, m - 1) * ldx;                                                \
    RF_GLOBAL const float *x3 = X + min(i0 + 3, m - 1) * ldx;                                                \
    rf_float16 a0 = rf_splat16(0.f), a1 = a0, a2 = a0, a3 = a0;                                              \
    for (long l = 0; l < k; ++l) {                                                                          \
        const rf_float16 wv = LOAD_W16;                                                                     \
        a0 = fma(rf_splat16(x0[l]), wv, a0); a1 = fma(rf_splat16(x1[l]), wv, a1);                         \
        a2 = fma(rf_splat16(x2[l]), wv, a2); a3 = fma(rf_splat16(x3[l]), wv, a3);                         \
    }                                                                                                       \
    RF_GLOBAL const float *B = OPT(const float, bias);                                                       \
    RF_GLOBAL const float *M = OPT(const float, mul);                                                        \
    RF_GLOBAL const float *R = OPT(const float, res);                                                        \
    RF_GLOBAL float *Y = AT(float, y);                                                                       \
    float acc[4][16];                                                                                       \
    rf_vstore16(a0, 0, acc[0]); rf_vstore16(a1, 0, acc[1]); rf_vstore16(a2, 0, acc[2]); rf_vstore16(a3, 0, acc[3]); \
    for (int r = 0; r < 4 && i0 + r < m; ++r) {                                                             \
        const long i = i0 + r;                                                                              \
        for (int c = 0; c < 16 && j0 + c < n; ++c) {                                                        \
            const long j = j0 + c;                                                                          \
            float v = act_apply(act, acc[r][c] * SCALE16 + (B ? B[j] : 0.f));                               \
            if (M) v *= M[i * ldm + j];                                                                     \
            if (R) v += R[i * ldr + j];                                                                     \
            Y[i * ldy + j] = v;                                                                             \
        }                                                                                                   \
    }                                                                                                       \
}

GEMM_COLS_KERNEL(gemm_cols_f32, float, rf_vload16(l, W), 1.f)
GEMM_COLS_KERNEL(gemm_cols_bf16, ushort, rf_vload_bf16x16(l, W), 1.f)
GEMM_COLS_KERNEL(gemm_cols_i8, rf_i8, rf_vload_i8x16(l, W), S[j])
