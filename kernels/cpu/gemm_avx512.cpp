// AVX-512 GEMM: fp32 (FMA), bf16 (vdpbf16ps) and int8 (vpdpbusd) microkernels
// on a 12-row x 32-column register tile (24 zmm accumulators), packed weight
// panels read with aligned loads, X packed per call (gemm_driver.h).
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
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

// ------------------------------------------------------------------ fp32

template <int R>
inline void tile_f32(const float *A, const float *B, int64_t k, float *out) {
    __m512 c0[R], c1[R];
    for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t l = 0; l < k; ++l) {
        const __m512 b0 = _mm512_load_ps(B + l * kNR), b1 = _mm512_load_ps(B + l * kNR + 16);
        const float *al = A + l * kMR;
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(al[r]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        _mm512_store_ps(out + r * kNR, c0[r]);
        _mm512_store_ps(out + r * kNR + 16, c1[r]);
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

template <int R>
inline void tile_bf16(const uint32_t *A, const uint16_t *B, int64_t kpairs, float *out) {
    __m512 c0[R], c1[R];
    for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t l = 0; l < kpairs; ++l) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(B + l * 2 * kNR);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(B + l * 2 * kNR + 32);
        const uint32_t *al = A + l * kMR;
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(int(al[r]));
            c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
    }
    for (int r = 0; r < R; ++r) {
        _mm512_store_ps(out + r * kNR, c0[r]);
        _mm512_store_ps(out + r * kNR + 16, c1[r]);
    }
}

struct BF16 {
    static constexpr int MR = kMR, MB_TILES = kMB;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp / 2) * kMR * 4); }
    // dst[(l/2)*MR + r] = bf16(x[r][l]) | bf16(x[r][l+1]) << 16, rounded to nearest even.
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *) {
        uint32_t *d = static_cast<uint32_t *>(dst);
        const int64_t k = w.k, kp2 = w.kp / 2;
        for (int r = 0; r < kMR; ++r) {
            if (r >= rows) {
                for (int64_t l = 0; l < kp2; ++l) d[l * kMR + r] = 0;
                continue;
            }
            const float *xr = x + r * ldx;
            int64_t l = 0;
            for (; l + 32 <= k; l += 32) {
                // cvtne2ps_pbh(hi, lo): lanes 0..15 from lo, 16..31 from hi -> pairs (x[l+2i], x[l+2i+1])
                __m512 v0 = _mm512_loadu_ps(xr + l), v1 = _mm512_loadu_ps(xr + l + 16);
                __m512i h = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
                alignas(64) uint32_t tmp[16];
                _mm512_store_si512(tmp, h);
                for (int q = 0; q < 16; ++q) d[(l / 2 + q) * kMR + r] = tmp[q];
            }
            for (; l < k; l += 2) {
                uint32_t lo = f32_to_bf16(xr[l]);
                uint32_t hi = l + 1 < k ? f32_to_bf16(xr[l + 1]) : 0u;
                d[(l / 2) * kMR + r] = lo | hi << 16;
            }
        }
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<uint16_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t, const float *,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_bf16<decltype(R)::value>(static_cast<const uint32_t *>(a), static_cast<const uint16_t *>(b),
                                          w.kp / 2, out);
        });
    }
};

// ------------------------------------------------------------------ int8

template <int R>
inline void tile_i8(const uint32_t *A, const int8_t *B, int64_t kquads, const int32_t *colsum, const float *wscale,
                    const float *xscale, float *out) {
    __m512i c0[R], c1[R];
    for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_si512();
    for (int64_t l = 0; l < kquads; ++l) {
        const __m512i b0 = _mm512_load_si512(B + l * 4 * kNR), b1 = _mm512_load_si512(B + l * 4 * kNR + 64);
        const uint32_t *al = A + l * kMR;
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            const __m512i av = _mm512_set1_epi32(int(al[r]));
            c0[r] = _mm512_dpbusd_epi32(c0[r], av, b0);
            c1[r] = _mm512_dpbusd_epi32(c1[r], av, b1);
        }
    }
    // acc = sum (q_x + 128) * q_w  ->  sum q_x q_w = acc - 128 * colsum
    const __m512i z0 = _mm512_slli_epi32(_mm512_loadu_si512(colsum), 7);
    const __m512i z1 = _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16), 7);
    const __m512 s0 = _mm512_loadu_ps(wscale), s1 = _mm512_loadu_ps(wscale + 16);
    for (int r = 0; r < R; ++r) {
        const __m512 xs = _mm512_set1_ps(xscale[r]);
        _mm512_store_ps(out + r * kNR, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c0[r], z0)), _mm512_mul_ps(s0, xs)));
        _mm512_store_ps(out + r * kNR + 16,
                        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c1[r], z1)), _mm512_mul_ps(s1, xs)));
    }
}

struct I8 {
    static constexpr int MR = kMR, MB_TILES = kMB;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp / 4) * kMR * 4); }
    // Dynamic per-row quantisation: q = round(x / s) in [-127, 127], s = max|x| / 127,
    // stored as u8 q + 128; dst bytes [(l/4)*MR + r][l%4].
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rscale) {
        uint8_t *d = static_cast<uint8_t *>(dst);
        const int64_t k = w.k, kp = w.kp;
        for (int r = 0; r < kMR; ++r) {
            if (r >= rows) {
                rscale[r] = 0.f;
                for (int64_t l = 0; l < kp; ++l) d[((l / 4) * kMR + r) * 4 + (l % 4)] = 128;
                continue;
            }
            const float *xr = x + r * ldx;
            __m512 mx = _mm512_setzero_ps();
            int64_t l = 0;
            for (; l + 16 <= k; l += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xr + l)));
            float amax = _mm512_reduce_max_ps(mx);
            for (; l < k; ++l) amax = std::max(amax, std::fabs(xr[l]));
            const float s = amax / 127.f;
            const float inv = amax > 0.f ? 127.f / amax : 0.f;
            rscale[r] = s;
            const __m512 vinv = _mm512_set1_ps(inv);
            const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
            l = 0;
            for (; l + 16 <= k; l += 16) {
                __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + l), vinv));  // round to nearest even
                q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), off);
                __m128i b = _mm512_cvtepi32_epi8(q);
                alignas(16) uint32_t quads[4];
                _mm_store_si128(reinterpret_cast<__m128i *>(quads), b);
                for (int t = 0; t < 4; ++t) std::memcpy(d + ((l / 4 + t) * kMR + r) * 4, &quads[t], 4);
            }
            for (; l < kp; ++l) {
                uint8_t q = 128;
                if (l < k) {
                    float v = std::nearbyint(xr[l] * inv);
                    v = std::min(127.f, std::max(-127.f, v));
                    q = uint8_t(int(v) + 128);
                }
                d[((l / 4) * kMR + r) * 4 + (l % 4)] = q;
            }
        }
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<int8_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t p, const float *rscale,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_i8<decltype(R)::value>(static_cast<const uint32_t *>(a), static_cast<const int8_t *>(b), w.kp / 4,
                                        w.colsum.data() + p * kNR, w.scales.data() + p * kNR, rscale, out);
        });
    }
};

}  // namespace

rf_status gemm(const GemmArgs &a) {
    switch (a.w->dtype) {
    case RF_BF16: return drive<BF16>(a);
    case RF_I8: return drive<I8>(a);
    default: return drive<F32>(a);
    }
}

}  // namespace rf::avx512
