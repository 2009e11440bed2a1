// Direct small-M GEMM on AVX2+FMA (m <= avx2::kSmallM): the batch-1..8 case of
// serving, where the whole call is one pass over the weights. X rows stay fp32
// (copied once, zero padded); each packed weight panel is read once from memory
// and widened in registers: bf16 by a shift / an and, int8 by vpmovsxbd +
// vcvtdq2ps with the per-channel scale applied to the sum (weight-only int8:
// no activation quantisation, so it is as accurate as the fp32 reference).
// Panels are split over the thread pool, so every thread streams weights.
//
// Accumulator shapes (16 ymm): enough independent chains to hide the 5-cycle
// FMA latency at one row (fp32 and bf16 split k into two phases there).
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <type_traits>

namespace rf::avx2 {
namespace {

#include "gemm_driver.h"

void tile_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile) {
    generic_epilogue(a, i0, j0, rows, nc, tile);
}

constexpr int kRowGroup = 4;  // rows computed together per pass over a panel

// fp32 panel [k][32]: out[r][c] = Σ_l x[r][l] · B[l][c].
template <int R>
void panel_f32(const float *x, int64_t ldx, const float *B, int64_t k, float *out) {
    constexpr int C = R <= 2 ? 4 : 2;  // ymm of 8 columns per pass
    constexpr int P = R == 1 ? 2 : 1;  // k phases with their own accumulators
    for (int c0 = 0; c0 < 4; c0 += C) {
        __m256 acc[P][R][C];
        for (int q = 0; q < P; ++q)
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c) acc[q][r][c] = _mm256_setzero_ps();
        int64_t l = 0;
        for (; l + P <= k; l += P) {
#pragma GCC unroll 2
            for (int q = 0; q < P; ++q) {
                const float *bl = B + (l + q) * kNR + c0 * 8;
                __m256 wv[C];
#pragma GCC unroll 4
                for (int c = 0; c < C; ++c) wv[c] = _mm256_load_ps(bl + c * 8);
#pragma GCC unroll 4
                for (int r = 0; r < R; ++r) {
                    const __m256 xv = _mm256_broadcast_ss(x + r * ldx + l + q);
#pragma GCC unroll 4
                    for (int c = 0; c < C; ++c) acc[q][r][c] = _mm256_fmadd_ps(xv, wv[c], acc[q][r][c]);
                }
            }
        }
        for (; l < k; ++l) {
            const float *bl = B + l * kNR + c0 * 8;
            for (int r = 0; r < R; ++r) {
                const __m256 xv = _mm256_broadcast_ss(x + r * ldx + l);
                for (int c = 0; c < C; ++c) acc[0][r][c] = _mm256_fmadd_ps(xv, _mm256_load_ps(bl + c * 8), acc[0][r][c]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) {
                __m256 s = acc[0][r][c];
                if constexpr (P == 2) s = _mm256_add_ps(s, acc[1][r][c]);
                _mm256_store_ps(out + r * kNR + (c0 + c) * 8, s);
            }
    }
}

// bf16 panel [kp/2][32][2]: the low half of each 32-bit lane is the even k, the high half the odd k.
template <int R>
void panel_bf16(const float *x, int64_t ldx, const uint16_t *B, int64_t kpairs, float *out) {
    constexpr int C = R <= 2 ? 4 : 2;
    constexpr int P = R == 1 ? 2 : 1;  // one row: even and odd k in separate accumulators
    const __m256i hi = _mm256_set1_epi32(int(0xffff0000u));
    for (int c0 = 0; c0 < 4; c0 += C) {
        __m256 acc[P][R][C];
        for (int q = 0; q < P; ++q)
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c) acc[q][r][c] = _mm256_setzero_ps();
        for (int64_t l = 0; l < kpairs; ++l) {
            const uint16_t *bl = B + l * 2 * kNR + c0 * 16;
            __m256 xe[R], xo[R];
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                xe[r] = _mm256_broadcast_ss(x + r * ldx + 2 * l);
                xo[r] = _mm256_broadcast_ss(x + r * ldx + 2 * l + 1);
            }
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) {
                const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i *>(bl + c * 16));
                const __m256 e = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
                const __m256 o = _mm256_castsi256_ps(_mm256_and_si256(v, hi));
#pragma GCC unroll 4
                for (int r = 0; r < R; ++r) {
                    acc[0][r][c] = _mm256_fmadd_ps(xe[r], e, acc[0][r][c]);
                    acc[P - 1][r][c] = _mm256_fmadd_ps(xo[r], o, acc[P - 1][r][c]);
                }
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) {
                __m256 s = acc[0][r][c];
                if constexpr (P == 2) s = _mm256_add_ps(s, acc[1][r][c]);
                _mm256_store_ps(out + r * kNR + (c0 + c) * 8, s);
            }
    }
}

// int8 panel [kp/4][32][4]: vpmovsxbd of 8 bytes gives two columns × 4 k as
// int32, converted to fp32 and multiplied by x[l..l+3] broadcast to both
// 128-bit halves; each lane sums one (column, k mod 4), reduced at the end.
// The integer weights are exact in fp32 and the scale is applied once per column.
template <int R>
void panel_i8(const float *x, int64_t ldx, const int8_t *B, int64_t kquads, const float *scale, float *out) {
    constexpr int C = R == 1 ? 8 : R == 2 ? 4 : 2;  // ymm of 2 columns per pass
    for (int c0 = 0; c0 < 16; c0 += C) {
        __m256 acc[R][C];
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
        for (int64_t l = 0; l < kquads; ++l) {
            const int8_t *bl = B + l * 4 * kNR + c0 * 8;
            __m256 xv[R];
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) xv[r] = _mm256_broadcast_ps(reinterpret_cast<const __m128 *>(x + r * ldx + 4 * l));
#pragma GCC unroll 8
            for (int c = 0; c < C; ++c) {
                const __m128i b8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(bl + c * 8));
                const __m256 wv = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b8));
#pragma GCC unroll 4
                for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) {
                alignas(32) float t[8];
                _mm256_store_ps(t, acc[r][c]);
                const int col = (c0 + c) * 2;
                out[r * kNR + col] = ((t[0] + t[1]) + (t[2] + t[3])) * scale[col];
                out[r * kNR + col + 1] = ((t[4] + t[5]) + (t[6] + t[7])) * scale[col + 1];
            }
    }
}

void panel_rows(int rows, const float *x, int64_t ldx, const rf_weight_s &w, int64_t p, float *out) {
    with_rows<kRowGroup>(rows, [&](auto Rc) {
        constexpr int R = decltype(Rc)::value;
        switch (w.dtype) {
        case RF_BF16: panel_bf16<R>(x, ldx, w.panel<uint16_t>(p), w.kp / 2, out); break;
        case RF_I8: panel_i8<R>(x, ldx, w.panel<int8_t>(p), w.kp / 4, w.scales.data() + p * kNR, out); break;
        default: panel_f32<R>(x, ldx, w.panel<float>(p), w.k, out); break;
        }
    });
}

}  // namespace

rf_status gemm_small(const GemmArgs &a) {
    const rf_weight_s &w = *a.w;
    const int64_t m = a.m, n = w.n, k = w.k;
    // X copied up front, zero padded to whole k-groups (the packed weights are zero
    // there): no reads past a row, and y may alias x (every panel reads all of X).
    const int64_t ldx = (w.kp + 7) / 8 * 8;
    thread_local AlignedBuf xbuf;
    float *xs = static_cast<float *>(xbuf.get(size_t(m) * size_t(ldx) * sizeof(float)));
    for (int64_t i = 0; i < m; ++i) {
        std::memcpy(xs + i * ldx, a.x + i * a.ldx, size_t(k) * sizeof(float));
        std::memset(xs + i * ldx + k, 0, size_t(ldx - k) * sizeof(float));
    }
    const int64_t panels = w.panels;
    const int64_t per = chunk_size(panels, int64_t(num_threads()) * 4, 1);
    parallel_for((panels + per - 1) / per, [&](int64_t t, int) {
        alignas(32) float tile[kRowGroup * kNR];
        const int64_t pend = std::min(panels, (t + 1) * per);
        for (int64_t p = t * per; p < pend; ++p) {
            const int nc = int(std::min<int64_t>(kNR, n - p * kNR));
            for (int64_t i0 = 0; i0 < m; i0 += kRowGroup) {
                const int rows = int(std::min<int64_t>(kRowGroup, m - i0));
                panel_rows(rows, xs + i0 * ldx, ldx, w, p, tile);
                tile_epilogue(a, i0, p * kNR, rows, nc, tile);
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::avx2
