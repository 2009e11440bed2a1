// Portable C++ GEMM (baseline ISA flags): the shared blocked driver with a
// plain 4-row x 32-column accumulator tile the compiler vectorises; bf16 and
// int8 weights are dequantised to fp32 per panel (gemm_driver.h).
#include "gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <type_traits>

namespace rf::portable {
namespace {

#include "gemm_driver.h"

void tile_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile) {
    generic_epilogue(a, i0, j0, rows, nc, tile);
}

constexpr int kMR = 4;

template <int R>
inline void tile_f32(const float *A, const float *B, int64_t k, float *out) {
    float acc[R][kNR] = {};
    for (int64_t l = 0; l < k; ++l) {
        const float *bl = B + l * kNR;
        for (int r = 0; r < R; ++r) {
            const float av = A[l * kMR + r];
            for (int c = 0; c < kNR; ++c) acc[r][c] += av * bl[c];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < kNR; ++c) out[r * kNR + c] = acc[r][c];
}

}  // namespace

rf_status gemm(const GemmArgs &a) { return drive<F32PanelKernel<kMR>>(a); }

}  // namespace rf::portable
