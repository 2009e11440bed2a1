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

}  // namespace rf::portable
