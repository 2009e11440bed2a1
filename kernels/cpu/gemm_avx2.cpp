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

}  // namespace

rf_status gemm(const GemmArgs &a) { return drive<F32PanelKernel<kMR>>(a); }

}  // namespace rf::avx2
