// AVX-512 GEMM: fp32 (FMA), bf16 (vdpbf16ps) and int8 (vpdpbusd) microkernels
// on a 12-row x 32-column register tile (24 zmm accumulators), packed weight
// panels read with aligned loads, X packed per call (gemm_driver.h).
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
// GCC 12 warns about _mm512_undefined_*() inside its own intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <type_traits>

namespace rf::avx512 {
namespace {

#include "gemm_driver.h"

constexpr int kMR = 12;
constexpr int kMB = 8;  // row tiles per task block: 96 rows of packed X stay in L2

inline size_t round64(size_t b) { return (b + 63) & ~size_t(63); }

// ------------------------------------------------------------------ zmm activations
// The formulas and constants of vector_math.h (same accuracy: exp ~2 ulp, erf
// ~2e-7 abs, tanh ~3 ulp), written with intrinsics: GCC 12 does not vectorise
// the scalar versions.

inline __m512 zexp(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

inline __m512 zabs(__m512 x) { return _mm512_abs_ps(x); }
inline __m512 zcopysign(__m512 mag, __m512 sgn) {
    const __m512i m = _mm512_set1_epi32(int(0x80000000u));
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(mag), _mm512_castps_si512(sgn), m, 0xd8));
}

inline __m512 zerf(__m512 x) {
    const __m512 a = zabs(x);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, one));
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    const __m512 y = _mm512_fnmadd_ps(p, zexp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a))), one);
    return zcopysign(y, x);
}

inline __m512 ztanh(__m512 x) {
    const __m512 a = zabs(x);
    const __m512 z = _mm512_mul_ps(x, x);
    __m512 s = _mm512_fmadd_ps(_mm512_set1_ps(-5.70498872745E-3f), z, _mm512_set1_ps(2.06390887954E-2f));
    s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(-5.37397155531E-2f));
    s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(1.33314422036E-1f));
    s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(-3.33332819422E-1f));
    s = _mm512_fmadd_ps(_mm512_mul_ps(s, z), x, x);
    const __m512 e = zexp(_mm512_mul_ps(_mm512_set1_ps(-2.0f), a));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 large = zcopysign(_mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e)), x);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, s);
}

inline __m512 zsigmoid(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, zexp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 zact(int act, __m512 v) {
    switch (act) {
    case RF_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case RF_ACT_GELU:
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                             _mm512_add_ps(_mm512_set1_ps(1.0f), zerf(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)))));
    case RF_ACT_SILU: return _mm512_mul_ps(v, zsigmoid(v));
    case RF_ACT_SIGMOID: return zsigmoid(v);
    case RF_ACT_TANH: return ztanh(v);
    default: return v;
    }
}

}  // namespace

namespace {

void tile_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile) {
    const __mmask16 m0 = nc >= 16 ? __mmask16(0xffff) : __mmask16((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? __mmask16(0xffff) : nc <= 16 ? __mmask16(0) : __mmask16((1u << (nc - 16)) - 1);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (a.bias) {
        b0 = _mm512_maskz_loadu_ps(m0, a.bias + j0);
        b1 = _mm512_maskz_loadu_ps(m1, a.bias + j0 + 16);
    }
    for (int r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        __m512 v0 = _mm512_add_ps(_mm512_load_ps(tile + r * kNR), b0);
        __m512 v1 = _mm512_add_ps(_mm512_load_ps(tile + r * kNR + 16), b1);
        if (a.act != RF_ACT_NONE) {
            v0 = zact(a.act, v0);
            if (m1) v1 = zact(a.act, v1);
        }
        if (a.mul) {
            const float *mi = a.mul + i * a.ldm + j0;
            v0 = _mm512_mul_ps(v0, _mm512_maskz_loadu_ps(m0, mi));
            v1 = _mm512_mul_ps(v1, _mm512_maskz_loadu_ps(m1, mi + 16));
        }
        if (a.res) {
            const float *ri = a.res + i * a.ldr + j0;
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ri));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ri + 16));
        }
        float *yi = a.y + i * a.ldy + j0;
        _mm512_mask_storeu_ps(yi, m0, v0);
        _mm512_mask_storeu_ps(yi + 16, m1, v1);
    }
}

// ------------------------------------------------------------------ fp32

// Small tiles (1-2 rows: batch-1 serving) would be one or two FMA chains per accumulator, bound by
// the FMA latency rather than its throughput: they split k into P phases with their own
// accumulators (8 chains in all), summed at the end.
template <int R>
inline void tile_f32(const float *A, const float *B, int64_t k, float *out) {
    constexpr int P = R == 1 ? 4 : R == 2 ? 2 : 1;
    __m512 c0[P][R], c1[P][R];
    for (int q = 0; q < P; ++q)
        for (int r = 0; r < R; ++r) c0[q][r] = c1[q][r] = _mm512_setzero_ps();
    int64_t l = 0;
    for (; l + P <= k; l += P) {
#pragma GCC unroll 4
        for (int q = 0; q < P; ++q) {
            const __m512 b0 = _mm512_load_ps(B + (l + q) * kNR), b1 = _mm512_load_ps(B + (l + q) * kNR + 16);
            const float *al = A + (l + q) * kMR;
#pragma GCC unroll 12
            for (int r = 0; r < R; ++r) {
                const __m512 av = _mm512_set1_ps(al[r]);
                c0[q][r] = _mm512_fmadd_ps(av, b0, c0[q][r]);
                c1[q][r] = _mm512_fmadd_ps(av, b1, c1[q][r]);
            }
        }
    }
    for (; l < k; ++l) {
        const __m512 b0 = _mm512_load_ps(B + l * kNR), b1 = _mm512_load_ps(B + l * kNR + 16);
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(A[l * kMR + r]);
            c0[0][r] = _mm512_fmadd_ps(av, b0, c0[0][r]);
            c1[0][r] = _mm512_fmadd_ps(av, b1, c1[0][r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int q = 1; q < P; ++q) {
            c0[0][r] = _mm512_add_ps(c0[0][r], c0[q][r]);
            c1[0][r] = _mm512_add_ps(c1[0][r], c1[q][r]);
        }
        _mm512_store_ps(out + r * kNR, c0[0][r]);
        _mm512_store_ps(out + r * kNR + 16, c1[0][r]);
    }
}

struct F32 {
    static constexpr int MR = kMR, MB_TILES = kMB;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.k) * kMR * sizeof(float)); }
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *) {
        pack_a_f32<kMR>(x, ldx, rows, w.k, static_cast<float *>(dst));
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<float>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t, const float *,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_f32<decltype(R)::value>(static_cast<const float *>(a), static_cast<const float *>(b), w.k, out);
        });
    }
};

// ------------------------------------------------------------------ bf16
// vdpbf16ps issues at 1 per 2 cycles on this machine class (measured: 0.5/cycle
// vs 2/cycle for vfmadd231ps, i.e. 32 vs 64 flop/cycle), so the bf16 path
// widens each packed pair of weights to fp32 (a shift and an and, shared by
// the 12 rows of the tile) and uses FMA with X kept in fp32 (weight-only bf16:
// half the weight bytes, and more accurate than rounding X too).

template <int R>
inline void tile_bf16(const float *A /* [kp][MR] */, const uint16_t *B, int64_t kpairs, float *out) {
    // 1-2 rows: even and odd k into their own accumulators (4-8 chains, as tile_f32 does).
    constexpr int P = R <= 2 ? 2 : 1;
    __m512 c0[P][R], c1[P][R];
    for (int q = 0; q < P; ++q)
        for (int r = 0; r < R; ++r) c0[q][r] = c1[q][r] = _mm512_setzero_ps();
    const __m512i hi = _mm512_set1_epi32(int(0xffff0000u));
    for (int64_t l = 0; l < kpairs; ++l) {
        const __m512i p0 = _mm512_load_si512(B + l * 2 * kNR), p1 = _mm512_load_si512(B + l * 2 * kNR + 32);
        const __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(p0, 16));
        const __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(p1, 16));
        const __m512 o0 = _mm512_castsi512_ps(_mm512_and_si512(p0, hi));
        const __m512 o1 = _mm512_castsi512_ps(_mm512_and_si512(p1, hi));
        const float *ae = A + (2 * l) * kMR, *ao = ae + kMR;
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(ae[r]);
            c0[0][r] = _mm512_fmadd_ps(av, e0, c0[0][r]);
            c1[0][r] = _mm512_fmadd_ps(av, e1, c1[0][r]);
        }
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(ao[r]);
            c0[P - 1][r] = _mm512_fmadd_ps(av, o0, c0[P - 1][r]);
            c1[P - 1][r] = _mm512_fmadd_ps(av, o1, c1[P - 1][r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        if constexpr (P == 2) {
            c0[0][r] = _mm512_add_ps(c0[0][r], c0[1][r]);
            c1[0][r] = _mm512_add_ps(c1[0][r], c1[1][r]);
        }
        _mm512_store_ps(out + r * kNR, c0[0][r]);
        _mm512_store_ps(out + r * kNR + 16, c1[0][r]);
    }
}

struct BF16 {
    static constexpr int MR = kMR, MB_TILES = kMB;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp) * kMR * sizeof(float)); }
    // fp32 [kp][MR] of X, zero padded to the pair boundary.
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *) {
        float *d = static_cast<float *>(dst);
        pack_a_f32<kMR>(x, ldx, rows, w.k, d);
        for (int64_t l = w.k; l < w.kp; ++l)
            for (int r = 0; r < kMR; ++r) d[l * kMR + r] = 0.f;
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<uint16_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t, const float *,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_bf16<decltype(R)::value>(static_cast<const float *>(a), static_cast<const uint16_t *>(b), w.kp / 2,
                                          out);
        });
    }
};

// ------------------------------------------------------------------ int8

// acc += u8(a) . s8(b) per 32-bit lane. Inline asm: with the intrinsic GCC 12
// copies and spills the 24 accumulators every iteration.
inline void dpbusd(__m512i &acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
}

#define RF_I8_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// Named accumulators (not an array): with an array GCC 12 keeps them in memory
// around the asm statements.
template <int R>
inline void tile_i8(const uint32_t *A, const int8_t *B, const rf_weight_s &w, int64_t p, const float *rparams, float *out) {
    static_assert(R >= 1 && R <= 12, "tile_i8: 1..12 rows");
    // Activation groups (rf_weight_set_act_groups): each group's int32 sums are rescaled by its own
    // row scale and zero point and added up in fp32 in out.
    const int G = w.act_groups();
    const int64_t kquads = w.kp / 4, gstride = w.panels * kNR;
    const float *wscale = w.scales.data() + p * kNR;
    for (int g = 0; g < G; ++g) {
        const int64_t q0 = G == 1 ? 0 : w.agroups[size_t(g)] / 4, q1 = g + 1 == G ? kquads : w.agroups[size_t(g) + 1] / 4;
#define RF_DECL(r) __m512i c0_##r = _mm512_setzero_si512(), c1_##r = _mm512_setzero_si512();
        RF_I8_ROWS(RF_DECL)
#undef RF_DECL
        for (int64_t l = q0; l < q1; ++l) {
            const __m512i b0 = _mm512_load_si512(B + l * 4 * kNR), b1 = _mm512_load_si512(B + l * 4 * kNR + 64);
            const uint32_t *al = A + l * kMR;
#define RF_STEP(r)                                                    \
    if constexpr (R > r) {                                            \
        const __m512i av = _mm512_set1_epi32(int(al[r]));             \
        dpbusd(c0_##r, av, b0);                                       \
        dpbusd(c1_##r, av, b1);                                       \
    }
            RF_I8_ROWS(RF_STEP)
#undef RF_STEP
        }
        // x ≈ s_x (q_x − z_x) per row (and group), so  sum x w = s_x s_w (acc − z_x · colsum(w)).
        const int32_t *colsum = G == 1 ? w.colsum.data() + p * kNR : w.gcolsum.data() + g * gstride + p * kNR;
        const float *xscale = rparams + g * 2 * kMR, *xzero = xscale + kMR;
        const __m512i cs0 = _mm512_loadu_si512(colsum), cs1 = _mm512_loadu_si512(colsum + 16);
        const __m512 s0 = _mm512_loadu_ps(wscale), s1 = _mm512_loadu_ps(wscale + 16);
#define RF_STORE(r)                                                                                              \
    if constexpr (R > r) {                                                                                       \
        const __m512 xs = _mm512_set1_ps(xscale[r]);                                                             \
        const __m512i zp = _mm512_set1_epi32(int(xzero[r]));                                                     \
        const __m512i z0 = _mm512_mullo_epi32(cs0, zp), z1 = _mm512_mullo_epi32(cs1, zp);                        \
        __m512 v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c0_##r, z0)), _mm512_mul_ps(s0, xs));      \
        __m512 v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c1_##r, z1)), _mm512_mul_ps(s1, xs));      \
        if (g > 0) {                                                                                             \
            v0 = _mm512_add_ps(v0, _mm512_load_ps(out + r * kNR));                                               \
            v1 = _mm512_add_ps(v1, _mm512_load_ps(out + r * kNR + 16));                                          \
        }                                                                                                        \
        _mm512_store_ps(out + r * kNR, v0);                                                                      \
        _mm512_store_ps(out + r * kNR + 16, v1);                                                                 \
    }
        RF_I8_ROWS(RF_STORE)
#undef RF_STORE
    }
}

struct I8 {
    static constexpr int MR = kMR, MB_TILES = kMB;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp / 4) * kMR * 4); }
    // X quantised per row (and activation group) to u8, 255 levels (pack_a_quantized, gemm_driver.h);
    // rows after a ReLU (min ≥ 0) get all 256. dst bytes [(l/4)*MR + r][l%4].
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rparams) {
        const auto range = [](const float *xr, int64_t l0, int64_t l1) {
            __m512 vmin = _mm512_setzero_ps(), vmax = _mm512_setzero_ps();
            int64_t l = l0;
            for (; l + 16 <= l1; l += 16) {
                const __m512 v = _mm512_loadu_ps(xr + l);
                vmin = _mm512_min_ps(vmin, v);
                vmax = _mm512_max_ps(vmax, v);
            }
            float lo = _mm512_reduce_min_ps(vmin), hi = _mm512_reduce_max_ps(vmax);
            for (; l < l1; ++l) {
                lo = std::min(lo, xr[l]);
                hi = std::max(hi, xr[l]);
            }
            return std::pair{lo, hi};
        };
        const auto quantize = [](const float *xr, int64_t l0, int64_t l1, float inv, float z, uint8_t *d, int r) {
            const __m512 vinv = _mm512_set1_ps(inv);
            const __m512i vz = _mm512_set1_epi32(int(z)), zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
            int64_t l = l0;
            for (; l + 16 <= l1; l += 16) {
                __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + l), vinv));  // round to nearest even
                q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, vz), zero), top);
                __m128i b = _mm512_cvtepi32_epi8(q);
                alignas(16) uint32_t quads[4];
                _mm_store_si128(reinterpret_cast<__m128i *>(quads), b);
                for (int t = 0; t < 4; ++t) std::memcpy(d + ((l / 4 + t) * kMR + r) * 4, &quads[t], 4);
            }
            return l;
        };
        pack_a_quantized<kMR>(x, ldx, rows, w, static_cast<uint8_t *>(dst), rparams, 255.f, range, quantize);
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<int8_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t p, const float *rscale,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_i8<decltype(R)::value>(static_cast<const uint32_t *>(a), static_cast<const int8_t *>(b), w, p, rscale, out);
        });
    }
};

// ------------------------------------------------------------------ int8 weights x int16 X
// rf_weight_set_act_bits(w, 16), and weights with activation groups: X quantised per row (per group)
// to int16 levels (avx2::pack_a_i16, 6-row tiles), weights sign-extended to int16 in registers,
// vpdpwssd (s16 x s16 pairs into s32; exact: i16_levels keeps every sum below 2^31). Half the MACs
// of a vpdpbusd, twice those of an fp32 FMA, at the resolution of int16 rather than u8.
// A: int16 [kp/4][6][4], a row's k-quad broadcast as a qword (32-bit lanes alternate pairs (0,1)
// and (2,3)); vpmovsxbw of 32 panel bytes gives columns 8v..8v+7 x 4 k, so lane 2c+h of
// accumulator v holds column 8v+c, pair h. 6 rows x 4 accumulators = 24 zmm.
constexpr int kW16Rows = ::rf::avx2::kI16TileRows;

// acc += s16 x s16 pair sums per 32-bit lane (inline asm, for the reason dpbusd gives).
inline void dpwssd(__m512i &acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
}

#define RF_W16_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

// Sum lane pairs (2c, 2c+1) of a (columns 0-7) and b (columns 8-15) into 16 columns.
inline __m512i pair_sums(__m512i a, __m512i b) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    return _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b), _mm512_permutex2var_epi32(a, odd, b));
}

template <int R>
inline void tile_i8w16(const int16_t *A, const int8_t *B, const rf_weight_s &w, int64_t p, const float *rparams, float *out) {
    static_assert(R >= 1 && R <= kW16Rows, "tile_i8w16: 1..6 rows");
    const int G = w.act_groups();
    const int64_t kquads = w.kp / 4, gstride = w.panels * kNR;
    const __m512 ws0 = _mm512_loadu_ps(w.scales.data() + p * kNR), ws1 = _mm512_loadu_ps(w.scales.data() + p * kNR + 16);
    for (int g = 0; g < G; ++g) {
        const int64_t q0 = G == 1 ? 0 : w.agroups[size_t(g)] / 4, q1 = g + 1 == G ? kquads : w.agroups[size_t(g) + 1] / 4;
#define RF_DECL(r) __m512i a0_##r = _mm512_setzero_si512(), a1_##r = a0_##r, a2_##r = a0_##r, a3_##r = a0_##r;
        RF_W16_ROWS(RF_DECL)
#undef RF_DECL
        for (int64_t l = q0; l < q1; ++l) {
            const int8_t *bl = B + l * 4 * kNR;
            const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i *>(bl)));
            const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i *>(bl + 32)));
            const __m512i w2 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i *>(bl + 64)));
            const __m512i w3 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i *>(bl + 96)));
            const int16_t *al = A + l * kW16Rows * 4;
#define RF_STEP(r)                                                \
    if constexpr (R > r) {                                        \
        int64_t q;                                                \
        std::memcpy(&q, al + r * 4, 8);                           \
        const __m512i av = _mm512_set1_epi64(q);                  \
        dpwssd(a0_##r, av, w0);                                   \
        dpwssd(a1_##r, av, w1);                                   \
        dpwssd(a2_##r, av, w2);                                   \
        dpwssd(a3_##r, av, w3);                                   \
    }
            RF_W16_ROWS(RF_STEP)
#undef RF_STEP
        }
        const int32_t *cs = G == 1 ? w.colsum.data() + p * kNR : w.gcolsum.data() + g * gstride + p * kNR;
        const __m512i cs0 = _mm512_loadu_si512(cs), cs1 = _mm512_loadu_si512(cs + 16);
        const float *xscale = rparams + g * 2 * kW16Rows, *xzero = xscale + kW16Rows;
#define RF_STORE(r)                                                                                                        \
    if constexpr (R > r) {                                                                                                 \
        const __m512i zp = _mm512_set1_epi32(int(xzero[r]));                                                               \
        const __m512 xs = _mm512_set1_ps(xscale[r]);                                                                       \
        __m512 v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(pair_sums(a0_##r, a1_##r), _mm512_mullo_epi32(cs0, zp))), _mm512_mul_ps(ws0, xs)); \
        __m512 v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(pair_sums(a2_##r, a3_##r), _mm512_mullo_epi32(cs1, zp))), _mm512_mul_ps(ws1, xs)); \
        float *o = out + r * kNR;                                                                                          \
        if (g > 0) {                                                                                                       \
            v0 = _mm512_add_ps(v0, _mm512_load_ps(o));                                                                     \
            v1 = _mm512_add_ps(v1, _mm512_load_ps(o + 16));                                                                \
        }                                                                                                                  \
        _mm512_store_ps(o, v0);                                                                                            \
        _mm512_store_ps(o + 16, v1);                                                                                       \
    }
        RF_W16_ROWS(RF_STORE)
#undef RF_STORE
    }
}

struct I8W16 {
    static constexpr int MR = kW16Rows, MB_TILES = 16;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp / 4) * kW16Rows * 4 * sizeof(int16_t)); }
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rparams) {
        ::rf::avx2::pack_a_i16(x, ldx, rows, w, dst, rparams);
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<int8_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t p, const float *rparams, float *out) {
        with_rows<kW16Rows>(rows, [&](auto R) {
            tile_i8w16<decltype(R)::value>(static_cast<const int16_t *>(a), static_cast<const int8_t *>(b), w, p, rparams, out);
        });
    }
};

}  // namespace

rf_status gemm(const GemmArgs &a) {
    switch (a.w->dtype) {
    case RF_BF16: return drive<BF16>(a);
    // 16-bit activations on the vpdpwssd tile, u8 ones on the vpdpbusd tile (both with activation groups).
    case RF_I8: return a.w->act_bits == 16 ? drive<I8W16>(a) : drive<I8>(a);
    default: return drive<F32>(a);
    }
}

}  // namespace rf::avx512
