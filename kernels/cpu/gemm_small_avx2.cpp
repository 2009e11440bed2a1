// Direct small-M GEMM on AVX2+FMA (m <= avx2::small_m_limit: 8, int8 24): the
// small-batch case of serving, where the whole call is one pass over the
// weights. X rows stay fp32 (copied once, zero padded; quantised to int16 per row for int8 weights); each
// packed weight panel is read once from memory and widened in registers: bf16
// by a shift / an and, int8 by vpmovsxbw into vpmaddwd (exact int32 sums, the
// per-channel and per-row scales applied once at the end). Panels are split
// over the thread pool, so every thread streams weights.
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
constexpr int kWidenRows = 8;  // bf16 rows at most (small_m_limit(RF_BF16)): the widened path's tile

// fp32 panel [k][32]: out[r][c] = Σ_l x[r][l] · B[l][c] (accumulate: out[r][c] += that).
template <int R>
void panel_f32(const float *x, int64_t ldx, const float *B, int64_t k, float *out, bool accumulate = false) {
    constexpr int C = R <= 2 ? 4 : 2;  // ymm of 8 columns per pass
    constexpr int P = R == 1 ? 2 : 1;  // k phases with their own accumulators
    for (int c0 = 0; c0 < 4; c0 += C) {
        __m256 acc[P][R][C];
        for (int q = 0; q < P; ++q)
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c)
                    acc[q][r][c] = accumulate && q == 0 ? _mm256_load_ps(out + r * kNR + (c0 + c) * 8) : _mm256_setzero_ps();
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
// bf16 pairs [kpairs][32][2] -> fp32 [2 kpairs][32] (panel_f32's layout), for more than one row
// group: each chunk of a panel is widened once (into L1) and every group runs the fp32 kernel on
// it, accumulating over the chunks. Widening in registers per group did the shifts and ands once
// per group (0.81x fp32 at m = 8); widening a whole panel (128 KiB at k = 1024) into L2 left
// m = 5..7 near fp32 (1.06x at m = 5, cold weights, Zen 5 in AVX2 mode).
constexpr int64_t kWidenPairs = 32;  // k pairs per widened chunk: 64 x 32 fp32 = 8 KiB
void widen_bf16_panel(const uint16_t *B, int64_t kpairs, float *out) {
    const __m256i hi = _mm256_set1_epi32(int(0xffff0000u));
    for (int64_t l = 0; l < kpairs; ++l) {
        for (int c = 0; c < 4; ++c) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i *>(B + l * 2 * kNR + c * 16));
            _mm256_store_ps(out + (2 * l) * kNR + c * 8, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
            _mm256_store_ps(out + (2 * l + 1) * kNR + c * 8, _mm256_castsi256_ps(_mm256_and_si256(v, hi)));
        }
    }
}

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

// int8 panel [kp/4][32][4] against X quantised per row to int16 (symmetric, s = max|x| / 32767,
// an error of 1.5e-5 of the row's largest value, far below the weights' own): vpmovsxbw of 16
// weight bytes gives 4 columns x 4 k as int16, a row's 4 values of one k-quad are broadcast as
// a qword, and vpmaddwd sums each (column, k pair) into an int32 lane: exact products, 16 MACs
// an instruction (twice the fp32 conversion path: Zen 1 converts one ymm per 2 cycles). The
// int32 lanes are flushed to fp32 every kFlushQuads quads, before they can overflow:
// kFlushQuads * 2 * 32767 * 128 = 1.07e9 < 2^31.
constexpr int64_t kFlushQuads = 128;

template <int R>
void panel_i8(const int16_t *xq, int64_t ldq, const float *xscale, const int8_t *B, int64_t kquads, const float *wscale,
              float *out) {
    constexpr int C = R == 1 ? 8 : R == 2 ? 4 : 2;  // ymm of 4 columns per pass
    for (int c0 = 0; c0 < 8; c0 += C) {
        alignas(32) float fsum[R][C][8] = {};
        for (int64_t lb = 0; lb < kquads; lb += kFlushQuads) {
            const int64_t le = std::min(kquads, lb + kFlushQuads);
            __m256i acc[R][C];
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_si256();
            for (int64_t l = lb; l < le; ++l) {
                const int8_t *bl = B + l * 4 * kNR + c0 * 16;
                __m256i av[R];
#pragma GCC unroll 4
                for (int r = 0; r < R; ++r) {
                    int64_t q;
                    std::memcpy(&q, xq + r * ldq + 4 * l, 8);
                    av[r] = _mm256_set1_epi64x(q);
                }
#pragma GCC unroll 8
                for (int c = 0; c < C; ++c) {
                    const __m256i wv = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i *>(bl + c * 16)));
#pragma GCC unroll 4
                    for (int r = 0; r < R; ++r) acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(av[r], wv));
                }
            }
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c)
                    _mm256_store_ps(fsum[r][c], _mm256_add_ps(_mm256_load_ps(fsum[r][c]), _mm256_cvtepi32_ps(acc[r][c])));
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c)
                for (int j = 0; j < 4; ++j) {
                    const int col = (c0 + c) * 4 + j;
                    out[r * kNR + col] = (fsum[r][c][2 * j] + fsum[r][c][2 * j + 1]) * (xscale[r] * wscale[col]);
                }
    }
}

// Row r of x as int16, q = round(x / s) with s = max|x| / 32767 (1 for an all-zero row), zero padded to ldq.
void quantize_row_i16(const float *x, int64_t k, int64_t ldq, int16_t *q, float *scale) {
    float amax = 0.f;
    for (int64_t l = 0; l < k; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float s = amax > 0.f && std::isfinite(amax) ? amax / 32767.f : 1.f;
    const float inv = 1.f / s;
    int64_t l = 0;
    const __m256 vinv = _mm256_set1_ps(inv), lim = _mm256_set1_ps(32767.f);
    for (; l + 16 <= k; l += 16) {
        const __m256 a = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + l), vinv), _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
        const __m256 b = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + l + 8), vinv), _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
        // packs works per 128-bit half: [a0-3 b0-3 | a4-7 b4-7]; the qword permute restores k order.
        const __m256i p = _mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(q + l), _mm256_permute4x64_epi64(p, 0xd8));
    }
    for (; l < k; ++l) q[l] = int16_t(std::nearbyint(std::min(32767.f, std::max(-32767.f, x[l] * inv))));
    for (; l < ldq; ++l) q[l] = 0;
    *scale = s;
}

// X of one row group as the kernels read it: fp32 (fp32, bf16 weights) or int16 + row scales (int8).
struct SmallX {
    const float *f;
    const int16_t *q;
    const float *qscale;
    int64_t ld;
};

void panel_rows(int rows, const SmallX &x, const rf_weight_s &w, int64_t p, float *out) {
    with_rows<kRowGroup>(rows, [&](auto Rc) {
        constexpr int R = decltype(Rc)::value;
        switch (w.dtype) {
        case RF_BF16: panel_bf16<R>(x.f, x.ld, w.panel<uint16_t>(p), w.kp / 2, out); break;
        case RF_I8: panel_i8<R>(x.q, x.ld, x.qscale, w.panel<int8_t>(p), w.kp / 4, w.scales.data() + p * kNR, out); break;
        default: panel_f32<R>(x.f, x.ld, w.panel<float>(p), w.k, out); break;
        }
    });
}

}  // namespace

rf_status gemm_small(const GemmArgs &a) {
    const rf_weight_s &w = *a.w;
    const int64_t m = a.m, n = w.n, k = w.k;
    // X copied up front, zero padded to whole k-groups (the packed weights are zero
    // there): no reads past a row, and y may alias x (every panel reads all of X).
    const int64_t ldx = (w.kp + 15) / 16 * 16;
    thread_local AlignedBuf xbuf;
    float *xs = static_cast<float *>(xbuf.get(size_t(m) * size_t(ldx) * sizeof(float) + 64));
    int16_t *xq = reinterpret_cast<int16_t *>(xs);
    float *qscale = xs + (size_t(m) * size_t(ldx) + 1) / 2;  // after the int16 rows
    for (int64_t i = 0; i < m; ++i) {
        if (w.dtype == RF_I8) {
            quantize_row_i16(a.x + i * a.ldx, k, ldx, xq + i * ldx, qscale + i);
        } else {
            std::memcpy(xs + i * ldx, a.x + i * a.ldx, size_t(k) * sizeof(float));
            std::memset(xs + i * ldx + k, 0, size_t(ldx - k) * sizeof(float));
        }
    }
    const int64_t panels = w.panels;
    const int64_t per = chunk_size(panels, int64_t(num_threads()) * 4, 1);
    parallel_for((panels + per - 1) / per, [&](int64_t t, int) {
        alignas(32) float tile[kWidenRows * kNR];
        alignas(32) float widened[2 * kWidenPairs * kNR];
        // bf16 over several row groups: each chunk widened once (widen_bf16_panel), fp32 kernel per group.
        const bool widen = w.dtype == RF_BF16 && m > kRowGroup;
        const int64_t pend = std::min(panels, (t + 1) * per);
        for (int64_t p = t * per; p < pend; ++p) {
            const int nc = int(std::min<int64_t>(kNR, n - p * kNR));
            if (widen) {
                const uint16_t *B = w.panel<uint16_t>(p);
                for (int64_t l0 = 0; l0 < w.kp / 2; l0 += kWidenPairs) {
                    const int64_t pairs = std::min(kWidenPairs, w.kp / 2 - l0);
                    widen_bf16_panel(B + l0 * 2 * kNR, pairs, widened);
                    for (int64_t i0 = 0; i0 < m; i0 += kRowGroup)
                        with_rows<kRowGroup>(int(std::min<int64_t>(kRowGroup, m - i0)), [&](auto Rc) {
                            panel_f32<decltype(Rc)::value>(xs + i0 * ldx + 2 * l0, ldx, widened, 2 * pairs, tile + i0 * kNR, l0 > 0);
                        });
                }
                for (int64_t i0 = 0; i0 < m; i0 += kRowGroup)
                    tile_epilogue(a, i0, p * kNR, int(std::min<int64_t>(kRowGroup, m - i0)), nc, tile + i0 * kNR);
                continue;
            }
            for (int64_t i0 = 0; i0 < m; i0 += kRowGroup) {
                const int rows = int(std::min<int64_t>(kRowGroup, m - i0));
                const SmallX xg{xs + i0 * ldx, xq + i0 * ldx, qscale + i0, ldx};
                panel_rows(rows, xg, w, p, tile);
                tile_epilogue(a, i0, p * kNR, rows, nc, tile);
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::avx2
