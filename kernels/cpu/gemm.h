// Private contract of the GEMM family (rf_gemm, rf_cross_layer): the packed
// weight handle and the per-ISA drivers behind the entry points.
//
// Packed layout (one layout, read by every ISA path, built once by rf_weight_pack):
//   W [n][k] is cut into panels of kNR = 32 output channels (the last one
//   zero-padded). K is padded with zeros to a multiple of the dtype's group g
//   (fp32: 1, bf16: 2 = one vdpbf16ps pair, int8: 4 = one vpdpbusd quad), kp.
//   Inside a panel p the layout is [kp/g][32][g]:
//     packed[((p * (kp/g) + l/g) * 32 + c) * g + l%g] = W[p*32 + c][l]
//   so one k-group of a panel is 32*g elements = two zmm (fp32: 128 B, bf16:
//   128 B, int8: 128 B), loaded with aligned loads by the AVX-512 microkernels,
//   read directly by the AVX2 paths (fp32 as 16-column halves, bf16 widened in
//   registers, int8 sign-extended to 16 bits for vpmaddwd or to fp32 for small
//   M) and dequantised per panel by the portable path for bf16 and int8.
//   int8 also keeps, per padded column: scale[j] and colsum[j] = sum_l W[j][l]
//   (the zero-point compensation of the u8 x s8 VNNI dot product).
//   The original W (and scales) are kept for the scalar reference path.
#pragma once
#include "backend.h"

#include <cstdlib>
#include <vector>

namespace rf {

constexpr int kNR = 32;  // output channels per packed panel

// 64-byte aligned growable buffer (grow-only: reused across calls).
struct AlignedBuf {
    void *p = nullptr;
    size_t bytes = 0;
    AlignedBuf() = default;
    AlignedBuf(const AlignedBuf &) = delete;
    AlignedBuf &operator=(const AlignedBuf &) = delete;
    ~AlignedBuf() { std::free(p); }
    void *get(size_t n) {
        if (n > bytes || p == nullptr) {
            std::free(p);
            p = nullptr;
            bytes = 0;
            size_t r = (n + 63) & ~size_t(63);
            p = std::aligned_alloc(64, r == 0 ? 64 : r);
            if (!p) throw std::bad_alloc();
            bytes = r == 0 ? 64 : r;
        }
        return p;
    }
};

// Levels L of X's int16 quantisation against an int8 weight of padded depth kp: q − z spans at
// most L and |w| ≤ 128, so every dot product Σ (q − z)·w stays below 2^31 and the int32 lanes
// (vpmaddwd, vpdpwssd; wrapping sums whose final value fits) are exact without flushes.
// L = 32767 (15 bits) up to kp = 512, 16383 at 1024, 4853 at 3456, 4095 (12 bits) at 4096.
inline int32_t i16_levels(int64_t kp) {
    const int64_t fit = (int64_t(1) << 31) / (128 * (kp < 1 ? 1 : kp)) - 1;
    return int32_t(fit < 32767 ? (fit < 1 ? 1 : fit) : 32767);
}

inline int dtype_group(int dtype) { return dtype == RF_I8 ? 4 : dtype == RF_BF16 ? 2 : 1; }
inline size_t dtype_bytes(int dtype) { return dtype == RF_I8 ? 1 : dtype == RF_BF16 ? 2 : 4; }

}  // namespace rf

struct rf_weight_s {
    int32_t dtype = RF_F32;
    int64_t n = 0, k = 0;
    int64_t kp = 0;       // k padded to a multiple of dtype_group(dtype)
    int64_t panels = 0;   // ceil(n / kNR)
    rf::AlignedBuf packed;        // [panels][kp/g][kNR][g] elements of dtype
    std::vector<float> scales;    // int8: [panels*kNR], zero-padded
    std::vector<int32_t> colsum;  // int8: [panels*kNR], sum_l W[j][l]
    // int8 activation groups (rf_weight_set_act_groups): group starts, agroups[G] == k; empty = one group.
    std::vector<int64_t> agroups;
    std::vector<int32_t> gcolsum;  // int8 with groups: [G][panels*kNR], W[j] summed over group g's columns
    // int8: the fewest bits the kernels quantize X to (rf_weight_set_act_bits): 8 (u8) or 16 (int16 levels).
    int32_t act_bits = 8;

    int act_groups() const { return agroups.empty() ? 1 : int(agroups.size()) - 1; }

    template <class T> const T *panel(int64_t p) const {
        return static_cast<const T *>(packed.p) + p * kp * rf::kNR;
    }
};

namespace rf {

// Y = act(X·Wᵀ + bias) * mul + res, every operand already validated.
// mul (ldm) and res (ldr) may be NULL; res may alias y (ldr == ldy). y may
// alias x row for row (ldy == ldx) — every path reads all of X before it
// writes Y (the ref path row by row, the others pack X up front).
struct GemmArgs {
    int64_t m;
    const float *x;
    int64_t ldx;
    const rf_weight_s *w;
    const float *bias;
    int act;
    const float *mul;
    int64_t ldm;
    const float *res;
    int64_t ldr;
    float *y;
    int64_t ldy;
};

RF_DECLARE_ALL_ISAS(rf_status gemm(const GemmArgs &a);)

// Dispatch on the active ISA (defined in gemm.cpp; used by cross.cpp).
rf_status run_gemm(const GemmArgs &a);

namespace avx2 {
// Rows up to which rf::avx2::gemm runs the direct small-M kernels: 8, and 24 for int8,
// whose int16 x int8 vpmaddwd kernel stays ahead of fp32 up to there (measured on Zen 1:
// 1.12x fp32 at m = 12, 1.05x at 16, 1.0x at 24, 0.97x at 32), past the blocked int8 path.
static inline int64_t small_m_limit(int dtype) { return dtype == RF_I8 ? 24 : 8; }
// Direct small-M GEMM (m <= small_m_limit, gemm_small_avx2.cpp): X rows stay fp32 and
// each weight panel is read once, widened in registers (bf16, int8), no packing.
rf_status gemm_small(const GemmArgs &a);
// Rows of the int16 X tiles pack_a_i16 writes: [kp/4][kI16TileRows][4] int16 (gemm_avx2.cpp).
constexpr int kI16TileRows = 6;
// X rows [0, rows) quantised to int16 levels (i16_levels) per activation group, as one tile;
// read by the AVX2 vpmaddwd tile and the AVX-512 vpdpwssd tile.
void pack_a_i16(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *rparams);
}  // namespace avx2

}  // namespace rf
