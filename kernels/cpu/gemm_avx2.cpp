// AVX2+FMA GEMM: fp32 microkernel on a 6-row x 16-column register tile (12 ymm
// accumulators), run twice per 32-column packed panel. bf16 and int8 weights
// are dequantised to fp32 one panel at a time per task (gemm_driver.h), so X
// stays fp32 on this path.
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
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

struct Kernel {
    static constexpr int MR = kMR, MB_TILES = 16;
    static size_t a_tile_bytes(const rf_weight_s &w) {
        return (size_t(w.k) * kMR * sizeof(float) + 63) & ~size_t(63);
    }
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *) {
        pack_a_f32<kMR>(x, ldx, rows, w.k, static_cast<float *>(dst));
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return panel_f32(w, p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t, const float *,
                     float *out) {
        with_rows<kMR>(rows, [&](auto R) {
            tile_f32<decltype(R)::value>(static_cast<const float *>(a), static_cast<const float *>(b), w.k, out);
        });
    }
};

}  // namespace

rf_status gemm(const GemmArgs &a) { return drive<Kernel>(a); }

}  // namespace rf::avx2
