// Vector primitives and register-blocked micro-kernels of the tiled sequence
// attention (kernels/cpu/multi/sequence_attention.cpp), compiled into each ISA's
// translation unit (internal linkage): 8-lane GCC vectors, FMA where the ISA has it; the Q·Kᵀ and
// P·V blocks in zmm where it has AVX-512 (twice the FMA width: 35% -> 58% of the fp32 peak at d = 64).
#pragma once
#include "../sequence_attention.h"
#include "../vector_math.h"
#include "vec16.h"

#include <cmath>
#include <cstring>
#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace rf::RF_ISA_NS {
namespace {

constexpr int MR = 6;   // query rows of a register block
constexpr int KT = 64;  // kv rows of a tile

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

inline v8 ld8(const float *p) {
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void st8(float *p, v8 v) { std::memcpy(p, &v, sizeof v); }
inline v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }
inline v8i splati(int32_t x) { return v8i{x, x, x, x, x, x, x, x}; }
inline v8 fma8(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
    return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}
inline v8 vmax8(v8 a, v8 b) { return a > b ? a : b; }
inline v8 select8(v8i m, v8 a, v8 b) { return m ? a : b; }

#if defined(__AVX512F__)
inline v16 fmav(v16 a, v16 b, v16 c) { return (v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
#endif
inline v8 fmav(v8 a, v8 b, v8 c) { return fma8(a, b, c); }

// e^x per lane (8 or, with AVX-512, 16): x = n ln2 + r (|r| <= ln2 / 2, two-constant reduction),
// e^r by a degree-5 polynomial fitted for relative error (max 2.1e-7 in f32, as vector_math.h's
// vexp's ~2 ulp, with 5 FMAs instead of its 9 operations: the exp is what the tile's elementwise
// pass costs).
template <class V, class VI>
inline V vexpv(V x) {
    const V zero = {};
    const V lo = zero - 87.33654f, hi = zero + 88.72283f;
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    const V n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
    V r = fmav(n, zero - 0.693359375f, x);
    r = fmav(n, zero + 2.12194440e-4f, r);
    V p = zero + 0.008297654800117016f;
    p = fmav(p, r, zero + 0.04191538318991661f);
    p = fmav(p, r, zero + 0.16667574644088745f);
    p = fmav(p, r, zero + 0.49998894333839417f);
    p = fmav(p, r, zero + 0.9999997019767761f);
    p = fmav(p, r, zero + 1.0000001192092896f);
    const VI e = (__builtin_convertvector(n, VI) + 127) << 23;
    return p * (V)e;
}
inline v8 vexp8(v8 x) { return vexpv<v8, v8i>(x); }

// SiLU(x) * inv_n (a divide: it runs beside the FMA pipes, which the exp already loads).
inline v8 silu8(v8 x, v8 inv_n) { return x / (1.f + vexp8(-x)) * inv_n; }

// S[MR][KT] (columns [0, cols), cols a multiple of 16) = Qs[MR][d] · Kt[d][KT].
// With AVX-512: 32 columns a pass in zmm (12 accumulators), a last 16 in 6; else 16 in two ymm.
inline void qk_block(const float *Qs, int64_t d, const float *Kt, int cols, float *S) {
    int j0 = 0;
#if defined(__AVX512F__)
    for (; j0 + 32 <= cols; j0 += 32) {
        __m512 acc[MR][2];
        for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t c = 0; c < d; ++c) {
            const __m512 k0 = _mm512_loadu_ps(Kt + c * KT + j0), k1 = _mm512_loadu_ps(Kt + c * KT + j0 + 16);
            for (int r = 0; r < MR; ++r) {
                const __m512 q = _mm512_set1_ps(Qs[r * d + c]);
                acc[r][0] = _mm512_fmadd_ps(q, k0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(q, k1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            _mm512_storeu_ps(S + r * KT + j0, acc[r][0]);
            _mm512_storeu_ps(S + r * KT + j0 + 16, acc[r][1]);
        }
    }
    for (; j0 < cols; j0 += 16) {
        __m512 acc[MR];
        for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
        for (int64_t c = 0; c < d; ++c) {
            const __m512 k0 = _mm512_loadu_ps(Kt + c * KT + j0);
            for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(Qs[r * d + c]), k0, acc[r]);
        }
        for (int r = 0; r < MR; ++r) _mm512_storeu_ps(S + r * KT + j0, acc[r]);
    }
#endif
    for (; j0 < cols; j0 += 16) {
        v8 acc[MR][2] = {};
        for (int64_t c = 0; c < d; ++c) {
            const v8 k0 = ld8(Kt + c * KT + j0), k1 = ld8(Kt + c * KT + j0 + 8);
            for (int r = 0; r < MR; ++r) {
                const v8 q = splat(Qs[r * d + c]);
                acc[r][0] = fma8(q, k0, acc[r][0]);
                acc[r][1] = fma8(q, k1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            st8(S + r * KT + j0, acc[r][0]);
            st8(S + r * KT + j0 + 8, acc[r][1]);
        }
    }
}

// O[MR][dvp] += P[MR][0..jn) · Vp[jn][dvp] (dvp a multiple of 16).
// With AVX-512: 32 columns a pass in zmm (12 accumulators), a last 16 in 6; else 16 in two ymm.
inline void pv_block(const float *P, const float *Vp, int64_t dvp, int jn, float *O) {
    int64_t c0 = 0;
#if defined(__AVX512F__)
    for (; c0 + 32 <= dvp; c0 += 32) {
        __m512 acc[MR][2];
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = _mm512_loadu_ps(O + r * dvp + c0);
            acc[r][1] = _mm512_loadu_ps(O + r * dvp + c0 + 16);
        }
        for (int j = 0; j < jn; ++j) {
            const __m512 v0 = _mm512_loadu_ps(Vp + j * dvp + c0), v1 = _mm512_loadu_ps(Vp + j * dvp + c0 + 16);
            for (int r = 0; r < MR; ++r) {
                const __m512 p = _mm512_set1_ps(P[r * KT + j]);
                acc[r][0] = _mm512_fmadd_ps(p, v0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(p, v1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            _mm512_storeu_ps(O + r * dvp + c0, acc[r][0]);
            _mm512_storeu_ps(O + r * dvp + c0 + 16, acc[r][1]);
        }
    }
    for (; c0 < dvp; c0 += 16) {
        __m512 acc[MR];
        for (int r = 0; r < MR; ++r) acc[r] = _mm512_loadu_ps(O + r * dvp + c0);
        for (int j = 0; j < jn; ++j) {
            const __m512 v0 = _mm512_loadu_ps(Vp + j * dvp + c0);
            for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(P[r * KT + j]), v0, acc[r]);
        }
        for (int r = 0; r < MR; ++r) _mm512_storeu_ps(O + r * dvp + c0, acc[r]);
    }
#endif
    for (; c0 < dvp; c0 += 16) {
        v8 acc[MR][2];
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = ld8(O + r * dvp + c0);
            acc[r][1] = ld8(O + r * dvp + c0 + 8);
        }
        for (int j = 0; j < jn; ++j) {
            const v8 v0 = ld8(Vp + j * dvp + c0), v1 = ld8(Vp + j * dvp + c0 + 8);
            for (int r = 0; r < MR; ++r) {
                const v8 p = splat(P[r * KT + j]);
                acc[r][0] = fma8(p, v0, acc[r][0]);
                acc[r][1] = fma8(p, v1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            st8(O + r * dvp + c0, acc[r][0]);
            st8(O + r * dvp + c0 + 8, acc[r][1]);
        }
    }
}

typedef int64_t v4l __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));

// seq_bucket(qp, kp[e], num_buckets) for 4 lanes (num_buckets <= 52): the bit width of
// |qp - kp| is the exponent of its double, exact below 2^52 (larger deltas are capped).
inline v4l bucket4(int64_t qp, const int64_t *kp, int64_t top) {
    v4l k;
    std::memcpy(&k, kp, sizeof k);
    const v4l q = {qp, qp, qp, qp}, cap = {int64_t(1) << 51, int64_t(1) << 51, int64_t(1) << 51, int64_t(1) << 51};
    v4l dl = q > k ? q - k : k - q;  // wraps to negative past 2^63, as seq_bucket's unsigned difference
    dl = (dl < 0) | (dl > cap) ? cap : dl;
    const v4d f = (v4d)(dl | 0x4330000000000000) - 4503599627370496.0;  // 2^52 + dl, minus 2^52
    v4l e = ((v4l)f >> 52) - 1022;                                      // 0 -> -1022, 1 -> 1, 2..3 -> 2, ...
    e = e < 0 ? 0 : e;
    return e > top ? v4l{top, top, top, top} : e;
}

// B[0..8) = rab[seq_bucket(qp, kp[e])], lanes of one row (lane loads: AVX2 gathers are no faster on Zen).
inline void bias8(const float *rab, int64_t qp, const int64_t *kp, int64_t num_buckets, float *B) {
    const v4l b0 = bucket4(qp, kp, num_buckets - 1), b1 = bucket4(qp, kp + 4, num_buckets - 1);
    for (int e = 0; e < 4; ++e) {
        B[e] = rab[b0[e]];
        B[e + 4] = rab[b1[e]];
    }
}

// dot(x, y) over n floats, 8 lanes at a time.
inline float dot_row(const float *x, const float *y, int64_t n) {
    v8 acc = {};
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) acc = fma8(ld8(x + c), ld8(y + c), acc);
    float s = 0.f;
    for (int e = 0; e < 8; ++e) s += acc[e];
    for (; c < n; ++c) s += x[c] * y[c];
    return s;
}

// Visible columns c of a row (relative to the tile): lo <= c < hi, or c == self.
inline v8i seen8(int jj, v8i lo, v8i hi, v8i self) {
    const v8i c = v8i{0, 1, 2, 3, 4, 5, 6, 7} + jj;
    return ((c >= lo) & (c < hi)) | (c == self);
}

// HSTU, one row of the tile in place: S = visible ? SiLU(S + bias) / n : 0.
template <bool MASKED>
inline void pointwise_row(float *Sr, const float *Br, int mcols, v8i lo, v8i hi, v8i self, v8 inv_n) {
#if defined(__AVX512F__)
    // 16 lanes (mcols is a multiple of 16): the SiLU's exp and divide are the row's cost.
    const v16i lo16 = v16i{} + lo[0], hi16 = v16i{} + hi[0], self16 = v16i{} + self[0];
    const v16i iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const v16 inv16 = v16{} + inv_n[0];
    for (int jj = 0; jj < mcols; jj += 16) {
        v16 x = load16(Sr + jj);
        if (Br) x += load16(Br + jj);
        const v16 y = x / (1.f + vexpv<v16, v16i>(-x)) * inv16;
        if (MASKED) {
            const v16i c = iota + jj;
            store16(Sr + jj, ((c >= lo16) & (c < hi16)) | (c == self16) ? y : v16{});
        } else {
            store16(Sr + jj, y);
        }
    }
    return;
#endif
    for (int jj = 0; jj < mcols; jj += 8) {
        v8 x = ld8(Sr + jj);
        if (Br) x += ld8(Br + jj);
        const v8 y = silu8(x, inv_n);
        st8(Sr + jj, MASKED ? select8(seen8(jj, lo, hi, self), y, v8{}) : y);
    }
}

// Softmax, one row of the tile in place: S = visible ? S + bias : -inf; returns the lane maxima.
template <bool MASKED>
inline v8 logits_row(float *Sr, const float *Br, int mcols, v8i lo, v8i hi, v8i self) {
    const v8 ninf = splat(-INFINITY);
    v8 mx = ninf;
    for (int jj = 0; jj < mcols; jj += 8) {
        v8 x = ld8(Sr + jj);
        if (Br) x += ld8(Br + jj);
        if (MASKED) x = select8(seen8(jj, lo, hi, self), x, ninf);
        st8(Sr + jj, x);
        mx = vmax8(mx, x);
    }
    return mx;
}

}  // namespace
}  // namespace rf::RF_ISA_NS
