// AVX2+FMA GEMM. m <= small_m_limit(dtype): the direct kernels of gemm_small_avx2.cpp;
// fp32 with n <= 16 output channels: gemm_narrow, one or two ymm of outputs per row.
// Otherwise the blocked driver (gemm_driver.h) with 6-row register tiles:
//   fp32: FMA on a 6 x 16 tile (12 ymm accumulators), twice per 32-column panel;
//   bf16: weights widened to fp32 with vector code one panel at a time per task;
//   int8: X quantised per row to u8 (as the VNNI path does), or to int16 levels
//         with rf_weight_set_act_bits(w, 16), and held as int16,
//         weights sign-extended to int16 in registers, vpmaddwd (s16 x s16 pairs
//         summed into s32: exact, |2 * 255 * 128| << 2^31) on a 6 x 8 tile.
//         Not vpmaddubsw: its u8 x s8 pair sum saturates at s16 (2 * 255 * 127 >
//         32767). Except on AMD Zen 1 / Zen+, whose one 128-bit vector integer
//         multiplier gives vpmaddwd 0.79-0.83x the MAC rate of its two FMA
//         pipes (kernels/tests/avx2_mac_rates.cpp): there int8 runs the fp32
//         tile on panels dequantised with vector code, once per 288 rows.
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cpuid.h>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <type_traits>

namespace rf::avx2 {
namespace {

#include "gemm_driver.h"

void tile_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile) {
    generic_epilogue(a, i0, j0, rows, nc, tile);
}

constexpr int kMR = 6;

template <int R>
inline void tile_f32(const float *A, const float *B, int64_t k, float *out) {
    for (int h = 0; h < 2; ++h) {
        __m256 c0[R], c1[R];
        for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
        const float *Bh = B + h * 16;
        for (int64_t l = 0; l < k; ++l) {
            const __m256 b0 = _mm256_load_ps(Bh + l * kNR), b1 = _mm256_load_ps(Bh + l * kNR + 8);
            const float *al = A + l * kMR;
#pragma GCC unroll 6
            for (int r = 0; r < R; ++r) {
                const __m256 av = _mm256_broadcast_ss(al + r);
                c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
            }
        }
        for (int r = 0; r < R; ++r) {
            _mm256_store_ps(out + r * kNR + h * 16, c0[r]);
            _mm256_store_ps(out + r * kNR + h * 16 + 8, c1[r]);
        }
    }
}

// ------------------------------------------------------------------ int8

inline size_t round64(size_t b) { return (b + 63) & ~size_t(63); }

// acc += the s16 x s16 pair sums of a and b per 32-bit lane (vpmaddwd, then vpaddd into acc). Inline
// asm, so the 12 accumulators of a 6-row tile stay in registers: with the intrinsics (and an
// accumulator array) GCC 12 kept 9 of them on the stack, a load and a store per vpmaddwd, which
// held the tile to the fp32 tile's speed instead of twice it.
inline void madd_acc(__m256i &acc, __m256i a, __m256i b) {
    __m256i t;
    __asm__("vpmaddwd %2, %3, %1\n\tvpaddd %1, %0, %0" : "+x"(acc), "=&x"(t) : "x"(a), "x"(b));
}

#define RF_I16_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

// acc[r][0..1] = the int32 pair sums of rows r < R over k-quads [q0, q1) of 8 panel columns (the
// layout tile_i8 describes); shared by tile_i8 and tile_i8_groups. Named accumulators, stored to
// acc once at the end (16 ymm: 12 accumulators, 2 weight vectors, the broadcast row, a product).
template <int R>
__attribute__((always_inline)) inline void madd_quads(const int16_t *A, const int8_t *Bp, int64_t q0, int64_t q1, __m256i (&acc)[R][2]) {
    static_assert(R >= 1 && R <= 6, "madd_quads: 1..6 rows");
#define RF_DECL(r) __m256i c0_##r = _mm256_setzero_si256(), c1_##r = c0_##r;
    RF_I16_ROWS(RF_DECL)
#undef RF_DECL
    for (int64_t l = q0; l < q1; ++l) {
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i *>(Bp + l * 4 * kNR)));
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i *>(Bp + l * 4 * kNR + 16)));
        const int16_t *al = A + l * kMR * 4;
#define RF_STEP(r)                                          \
    if constexpr (R > r) {                                  \
        int64_t q;                                          \
        std::memcpy(&q, al + r * 4, 8);                     \
        const __m256i av = _mm256_set1_epi64x(q);           \
        madd_acc(c0_##r, av, w0);                           \
        madd_acc(c1_##r, av, w1);                           \
    }
        RF_I16_ROWS(RF_STEP)
#undef RF_STEP
    }
#define RF_OUT(r)          \
    if constexpr (R > r) { \
        acc[r][0] = c0_##r; \
        acc[r][1] = c1_##r; \
    }
    RF_I16_ROWS(RF_OUT)
#undef RF_OUT
}
#undef RF_I16_ROWS

// out[r][c] = s_x[r] s_w[c] (Σ_l q_x[r][l] q_w[c][l] − z_x[r] colsum[c]) for one 32-column panel.
// A: int16 [kp/4][MR][4] (a row's 4 values of one k-quad are 8 bytes, broadcast as a qword so
// the 32-bit lanes alternate k pairs (0,1) and (2,3)); B: int8 [kp/4][32][4]. vpmovsxbw of 16
// bytes gives 4 columns x 4 k as int16, so after vpmaddwd lane 2c+h holds column c, pair h.
template <int R>
inline void tile_i8(const int16_t *A, const int8_t *B, int64_t kquads, const int32_t *colsum, const float *wscale,
                    const float *xscale, const float *xzero, float *out) {
    for (int pass = 0; pass < 4; ++pass) {  // 8 columns per pass
        __m256i acc[R][2];
        const int8_t *Bp = B + pass * 32;
        madd_quads<R>(A, Bp, 0, kquads, acc);
        const int c0 = pass * 8;
        const __m256i cs = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(colsum + c0));
        const __m256 ws = _mm256_loadu_ps(wscale + c0);
        for (int r = 0; r < R; ++r) {
            // hadd: [c0 c1 c4 c5 | c2 c3 c6 c7]; the qword permute puts the columns in order.
            const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xd8);
            const __m256i zc = _mm256_mullo_epi32(cs, _mm256_set1_epi32(int(xzero[r])));
            const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(s, zc));
            _mm256_store_ps(out + r * kNR + c0, _mm256_mul_ps(v, _mm256_mul_ps(ws, _mm256_set1_ps(xscale[r]))));
        }
    }
}

// tile_i8 with activation groups (rf_weight_set_act_groups): the int32 sums of each group's k-quads
// are rescaled by that group's row scale and zero point and summed in fp32 into out.
// rparams = [group][scale × MR][zero point × MR]; gcolsum = [group][gstride] (this panel's 32 first).
template <int R>
inline void tile_i8_groups(const int16_t *A, const int8_t *B, const rf_weight_s &w, int64_t p, const float *rparams, float *out) {
    const int G = w.act_groups();
    const int64_t kquads = w.kp / 4, gstride = w.panels * kNR;
    const float *wscale = w.scales.data() + p * kNR;
    for (int pass = 0; pass < 4; ++pass) {  // 8 columns per pass
        const int c0 = pass * 8;
        const __m256 ws = _mm256_loadu_ps(wscale + c0);
        const int8_t *Bp = B + pass * 32;
        for (int g = 0; g < G; ++g) {
            const int64_t q0 = w.agroups[size_t(g)] / 4, q1 = g + 1 == G ? kquads : w.agroups[size_t(g) + 1] / 4;
            __m256i acc[R][2];
            madd_quads<R>(A, Bp, q0, q1, acc);
            const __m256i cs = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w.gcolsum.data() + g * gstride + p * kNR + c0));
            const float *xscale = rparams + g * 2 * kMR, *xzero = xscale + kMR;
            for (int r = 0; r < R; ++r) {
                const __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xd8);
                const __m256i zc = _mm256_mullo_epi32(cs, _mm256_set1_epi32(int(xzero[r])));
                const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, zc)), _mm256_mul_ps(ws, _mm256_set1_ps(xscale[r])));
                float *o = out + r * kNR + c0;
                _mm256_store_ps(o, g == 0 ? v : _mm256_add_ps(_mm256_load_ps(o), v));
            }
        }
    }
}

}  // namespace

// The dynamic per-row quantisation of X against an int8 weight (pack_a_quantized, gemm_driver.h)
// into L levels held as int16: u8's L = 255 (the VNNI path's math), or L = i16_levels(kp) (gemm.h)
// for rf_weight_set_act_bits(w, 16). dst int16 [(l/4)*MR + r][l%4].
// Shared by this file's vpmaddwd tile and the AVX-512 vpdpwssd tile (gemm_avx512.cpp).
void pack_a_i16(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rparams) {
    static_assert(kMR == kI16TileRows, "pack_a_i16 packs kI16TileRows-row tiles");
    const float levels = w.act_bits == 16 ? float(i16_levels(w.kp)) : 255.f;
    const auto range = [](const float *xr, int64_t l0, int64_t l1) {
        __m256 vmin = _mm256_setzero_ps(), vmax = _mm256_setzero_ps();
        int64_t l = l0;
        for (; l + 8 <= l1; l += 8) {
            const __m256 v = _mm256_loadu_ps(xr + l);
            vmin = _mm256_min_ps(vmin, v);
            vmax = _mm256_max_ps(vmax, v);
        }
        alignas(32) float tmin[8], tmax[8];
        _mm256_store_ps(tmin, vmin);
        _mm256_store_ps(tmax, vmax);
        float lo = tmin[0], hi = tmax[0];
        for (int t = 1; t < 8; ++t) {
            lo = std::min(lo, tmin[t]);
            hi = std::max(hi, tmax[t]);
        }
        for (; l < l1; ++l) {
            lo = std::min(lo, xr[l]);
            hi = std::max(hi, xr[l]);
        }
        return std::pair{lo, hi};
    };
    const auto quantize = [levels](const float *xr, int64_t l0, int64_t l1, float inv, float z, int16_t *d, int r) {
        const __m256 vinv = _mm256_set1_ps(inv);
        const __m256i vz = _mm256_set1_epi32(int(z)), zero = _mm256_setzero_si256(), top = _mm256_set1_epi32(int(levels));
        int64_t l = l0;
        for (; l + 8 <= l1; l += 8) {
            __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + l), vinv));  // round to nearest even
            q = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q, vz), zero), top);
            // 8 int16 (no saturation: q <= L <= 32767) = the row's k-quads l/4 and l/4 + 1 (l0 is a multiple of 4).
            const __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            int16_t *dq = d + ((l / 4) * kMR + r) * 4;
            _mm_storel_epi64(reinterpret_cast<__m128i *>(dq), p);
            _mm_storeh_pd(reinterpret_cast<double *>(dq + kMR * 4), _mm_castsi128_pd(p));
        }
        return l;
    };
    pack_a_quantized<kMR>(x, ldx, rows, w, static_cast<int16_t *>(dst), rparams, levels, range, quantize);
}

namespace {

struct I8 {
    static constexpr int MR = kMR, MB_TILES = 16;
    static size_t a_tile_bytes(const rf_weight_s &w) { return round64(size_t(w.kp / 4) * kMR * 4 * sizeof(int16_t)); }
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rparams) {
        pack_a_i16(x, ldx, rows, w, dst, rparams);
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return w.panel<int8_t>(p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t p, const float *rparams,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            constexpr int kR = decltype(R)::value;
            if (w.act_groups() > 1) {
                tile_i8_groups<kR>(static_cast<const int16_t *>(a), static_cast<const int8_t *>(b), w, p, rparams, out);
                return;
            }
            tile_i8<kR>(static_cast<const int16_t *>(a), static_cast<const int8_t *>(b), w.kp / 4, w.colsum.data() + p * kNR,
                        w.scales.data() + p * kNR, rparams, rparams + kMR, out);
        });
    }
};

// Panel p of an int8 weight as fp32 [k][32] (scale applied): each 32-bit lane of a 32-byte
// load is one column's 4 k, so byte j is a shift left by 24 - 8j and an arithmetic shift right by 24.
void dequant_i8_panel(const rf_weight_s &w, int64_t p, float *out) {
    const int8_t *b = w.panel<int8_t>(p);
    const float *sc = w.scales.data() + p * kNR;
    const int64_t k = w.k;
    for (int c = 0; c < 4; ++c) {
        const __m256 s = _mm256_loadu_ps(sc + c * 8);
        for (int64_t q = 0; q < w.kp / 4; ++q) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i *>(b + q * 4 * kNR + c * 32));
            float *o = out + q * 4 * kNR + c * 8;
            _mm256_store_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24)), s));
            if (4 * q + 1 < k)
                _mm256_store_ps(o + kNR, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 16), 24)), s));
            if (4 * q + 2 < k)
                _mm256_store_ps(o + 2 * kNR, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 8), 24)), s));
            if (4 * q + 3 < k) _mm256_store_ps(o + 3 * kNR, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(v, 24)), s));
        }
    }
}

// Panel p of a bf16 weight as fp32 [k][32]: the low half of each 32-bit lane is the even k.
void dequant_bf16_panel(const rf_weight_s &w, int64_t p, float *out) {
    const uint16_t *b = w.panel<uint16_t>(p);
    const __m256i hi = _mm256_set1_epi32(int(0xffff0000u));
    for (int64_t q = 0; q < w.kp / 2; ++q)
        for (int c = 0; c < 4; ++c) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i *>(b + q * 2 * kNR + c * 16));
            float *o = out + q * 2 * kNR + c * 8;
            _mm256_store_ps(o, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
            if (2 * q + 1 < w.k) _mm256_store_ps(o + kNR, _mm256_castsi256_ps(_mm256_and_si256(v, hi)));
        }
}

// Row tiles per task block of the kernels that widen a panel before using it. The widening
// (a store of the whole fp32 panel plus 4-5 vector ops per 8 weights) costs ~4% of a 96-row
// block's FMAs (int8 measured 0.95-0.97x fp32 at m = 512 on Zen 1), so it is amortised over
// 288 rows: int8 0.99-1.02x, bf16 1.0-1.04x. Larger blocks (768, 2400 rows) lost 3-5% again
// at m = 2048, where the A block no longer stays in L3 across a task's panels.
constexpr int kWidenedBlockTiles = 48;

// The fp32 tile on bf16 panels widened with vector code, once per task block of rows.
struct BF16Fma : F32PanelKernel<kMR> {
    static constexpr int MB_TILES = kWidenedBlockTiles;
    static void widen(const rf_weight_s &w, int64_t p, float *out) { dequant_bf16_panel(w, p, out); }
    static const void *panel(const rf_weight_s &w, int64_t p) {
        thread_local AlignedBuf buf;
        float *out = static_cast<float *>(buf.get(size_t(w.kp) * kNR * sizeof(float)));
        widen(w, p, out);
        return out;
    }
};

// The fp32 tile on dequantised int8 panels (the Zen 1 int8 path).
struct I8Fma : F32PanelKernel<kMR> {
    static constexpr int MB_TILES = kWidenedBlockTiles;
    static void widen(const rf_weight_s &w, int64_t p, float *out) { dequant_i8_panel(w, p, out); }
    static const void *panel(const rf_weight_s &w, int64_t p) {
        thread_local AlignedBuf buf;
        float *out = static_cast<float *>(buf.get(size_t(w.kp) * kNR * sizeof(float)));
        widen(w, p, out);
        return out;
    }
};

// AMD family 17h models below 30h: Zen / Zen+ (128-bit SIMD halves, one vector integer multiplier).
bool is_zen1() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
    const bool amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "AuthenticAMD"
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned base = (a >> 8) & 0xf;
    const unsigned family = base == 0xf ? base + ((a >> 20) & 0xff) : base;
    const unsigned model = ((a >> 4) & 0xf) | (base == 0xf ? ((a >> 12) & 0xf0) : 0);
    return family == 0x17 && model < 0x30;
}

// The int8 GEMM of this CPU: vpmaddwd, or FMA on dequantised panels on Zen 1 (see the top of the
// file). RANKFN_AVX2_INT8=vpmaddwd|fma forces one, read once (tests run both on any machine).
bool int8_vpmaddwd() {
    static const bool use = [] {
        const char *e = std::getenv("RANKFN_AVX2_INT8");
        if (e && std::strcmp(e, "vpmaddwd") == 0) return true;
        if (e && std::strcmp(e, "fma") == 0) return false;
        return !is_zen1();
    }();
    return use;
}

// fp32 weights with n <= 16 output channels past the small-M kernels: ranking heads ([k] -> 1),
// gates ([k] -> experts), attention scorers, narrow towers. Row l of the packed panel holds its
// first 16 columns contiguously (panel(0)[l*kNR .. +16)), so a row's whole output is V = 1 or 2
// ymm: k broadcast FMAs per vector per row, 4 rows per pass over the weights — where the panel
// kernel computes all 32 of the panel's columns, 32 - n of them zeros.
constexpr int kNarrowN = 16;
constexpr int kNarrowRows = 4;

// One group of `rows` rows: x0 its first row, tile its kNR-strided output rows.
template <int V>
inline void narrow_rows(const float *x0, int64_t ldx, int rows, int64_t k, const float *wp, float *tile) {
    if (rows == kNarrowRows) {
        // Named accumulators stay in registers (an array indexed in the loop spills).
        const float *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        __m256 c0[V], c1[V], c2[V], c3[V];
        for (int v = 0; v < V; ++v) c0[v] = c1[v] = c2[v] = c3[v] = _mm256_setzero_ps();
        for (int64_t l = 0; l < k; ++l) {
            const __m256 b0 = _mm256_broadcast_ss(x0 + l), b1 = _mm256_broadcast_ss(x1 + l);
            const __m256 b2 = _mm256_broadcast_ss(x2 + l), b3 = _mm256_broadcast_ss(x3 + l);
            for (int v = 0; v < V; ++v) {
                const __m256 wv = _mm256_loadu_ps(wp + l * kNR + 8 * v);
                c0[v] = _mm256_fmadd_ps(b0, wv, c0[v]);
                c1[v] = _mm256_fmadd_ps(b1, wv, c1[v]);
                c2[v] = _mm256_fmadd_ps(b2, wv, c2[v]);
                c3[v] = _mm256_fmadd_ps(b3, wv, c3[v]);
            }
        }
        for (int v = 0; v < V; ++v) {
            _mm256_store_ps(tile + 8 * v, c0[v]);
            _mm256_store_ps(tile + kNR + 8 * v, c1[v]);
            _mm256_store_ps(tile + 2 * kNR + 8 * v, c2[v]);
            _mm256_store_ps(tile + 3 * kNR + 8 * v, c3[v]);
        }
        return;
    }
    for (int r = 0; r < rows; ++r) {
        const float *xr = x0 + r * ldx;
        __m256 c[V];
        for (int v = 0; v < V; ++v) c[v] = _mm256_setzero_ps();
        for (int64_t l = 0; l < k; ++l) {
            const __m256 b = _mm256_broadcast_ss(xr + l);
            for (int v = 0; v < V; ++v) c[v] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + l * kNR + 8 * v), c[v]);
        }
        for (int v = 0; v < V; ++v) _mm256_store_ps(tile + r * kNR + 8 * v, c[v]);
    }
}

rf_status gemm_narrow(const GemmArgs &a) {
    const float *wp = a.w->panel<float>(0);
    const int64_t k = a.w->k, ldx = a.ldx;
    const int nc = int(a.w->n);
    const int64_t blocks = (a.m + kNarrowRows - 1) / kNarrowRows;
    const int64_t per = chunk_size(blocks, int64_t(num_threads()) * 4, 2048 / (k + 1) + 1);
    parallel_for((blocks + per - 1) / per, [&](int64_t t, int) {
        alignas(32) float tile[kNarrowRows * kNR];
        const int64_t b1 = (t + 1) * per < blocks ? (t + 1) * per : blocks;
        for (int64_t b = t * per; b < b1; ++b) {
            const int64_t i0 = b * kNarrowRows;
            const int rows = a.m - i0 < kNarrowRows ? int(a.m - i0) : kNarrowRows;
            if (nc <= 8) narrow_rows<1>(a.x + i0 * ldx, ldx, rows, k, wp, tile);
            else narrow_rows<2>(a.x + i0 * ldx, ldx, rows, k, wp, tile);
            tile_epilogue(a, i0, 0, rows, nc, tile);
        }
    });
    return RF_OK;
}

}  // namespace

rf_status gemm(const GemmArgs &a) {
    if (a.m <= small_m_limit(a.w->dtype)) return gemm_small(a);
    if (a.w->dtype == RF_F32 && a.w->n <= kNarrowN) return gemm_narrow(a);
    if (a.w->dtype == RF_I8) return int8_vpmaddwd() ? drive<I8>(a) : drive<I8Fma>(a);
    if (a.w->dtype == RF_BF16) return drive<BF16Fma>(a);
    return drive<F32PanelKernel<kMR>>(a);
}

}  // namespace rf::avx2
