// The blocked GEMM driver shared by the ISA paths (gemm_avx512.cpp,
// gemm_avx2.cpp, gemm_portable.cpp). Each of those includes this file INSIDE
// `namespace rf::<isa> { namespace { ... } }`, so that every function here,
// including the copy of vector_math.h pulled in below, gets internal linkage
// and is compiled with that file's ISA flags: an `inline` function shared by
// translation units built with different -m flags would otherwise be merged
// by the linker into one copy (possibly an AVX-512 one called on the portable
// path). Include <algorithm>, <bit>, <cmath> and gemm.h before the namespace.
//
// Driver, per call:
//   1. pack X into MR-row tiles in the kernel's A format (fp32 [k][MR], bf16
//      pairs [k/2][MR], u8 quads [k/4][MR] with a per-row scale), in parallel
//      over row tiles, into a grow-only buffer of the calling thread;
//   2. tasks over (block of mb row tiles) x (block of nb panels of 32 columns):
//      for each panel, for each row tile: the kernel computes the MR x 32 fp32
//      tile over all of k into an L1 buffer, then the epilogue adds bias,
//      applies the activation, multiplies by `mul`, adds the residual and
//      stores only the valid rows/columns.
//   X is packed completely before any Y is written, which is what makes y
//   aliasing the residual or x (cross layer, in place) safe.
#include "vector_math.h"

// Bias, activation, mul, residual and the store of one rows x nc tile (tile
// rows are kNR floats apart). Each ISA file defines tile_epilogue: AVX-512
// with its own zmm activations, the others with generic_epilogue.
void tile_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile);

inline void generic_epilogue(const GemmArgs &a, int64_t i0, int64_t j0, int rows, int nc, float *tile) {
    for (int r = 0; r < rows; ++r) {
        float *t = tile + r * kNR;
        const int64_t i = i0 + r;
        if (a.bias)
            for (int c = 0; c < nc; ++c) t[c] += a.bias[j0 + c];
        if (a.act != RF_ACT_NONE) rf::apply_act_row(a.act, t, t, nc);
        if (a.mul) {
            const float *mi = a.mul + i * a.ldm + j0;
            for (int c = 0; c < nc; ++c) t[c] *= mi[c];
        }
        float *yi = a.y + i * a.ldy + j0;
        if (a.res) {
            const float *ri = a.res + i * a.ldr + j0;
            for (int c = 0; c < nc; ++c) yi[c] = t[c] + ri[c];
        } else {
            for (int c = 0; c < nc; ++c) yi[c] = t[c];
        }
    }
}

// fp32 A tile: dst[l*MR + r] = x[r*ldx + l], rows >= `rows` zero.
template <int MR>
inline void pack_a_f32(const float *x, int64_t ldx, int rows, int64_t k, float *dst) {
    constexpr int64_t B = 64;  // k block: keeps the MR source lines and dst in L1
    for (int64_t l0 = 0; l0 < k; l0 += B) {
        int64_t l1 = l0 + B < k ? l0 + B : k;
        for (int r = 0; r < MR; ++r) {
            if (r < rows) {
                const float *xr = x + r * ldx;
                for (int64_t l = l0; l < l1; ++l) dst[l * MR + r] = xr[l];
            } else {
                for (int64_t l = l0; l < l1; ++l) dst[l * MR + r] = 0.f;
            }
        }
    }
}

// Dequantise panel p of a bf16 / int8 weight to fp32 [k][32] (AVX2 / portable paths).
inline void dequant_panel(const rf_weight_s &w, int64_t p, float *out) {
    const int64_t k = w.k;
    if (w.dtype == RF_BF16) {
        const uint16_t *b = w.panel<uint16_t>(p);
        for (int64_t l = 0; l < k; ++l) {
            const uint16_t *s = b + (l / 2) * (kNR * 2) + (l % 2);
            for (int c = 0; c < kNR; ++c) out[l * kNR + c] = bf16_to_f32(s[c * 2]);
        }
    } else {
        const int8_t *b = w.panel<int8_t>(p);
        const float *sc = w.scales.data() + p * kNR;
        for (int64_t l = 0; l < k; ++l) {
            const int8_t *s = b + (l / 4) * (kNR * 4) + (l % 4);
            for (int c = 0; c < kNR; ++c) out[l * kNR + c] = sc[c] * float(s[c * 4]);
        }
    }
}

// Panel p as fp32 [k][32]: the packed data itself for fp32, else a per-thread dequantised copy.
inline const float *panel_f32(const rf_weight_s &w, int64_t p) {
    if (w.dtype == RF_F32) return w.panel<float>(p);
    thread_local AlignedBuf buf;
    float *out = static_cast<float *>(buf.get(size_t(w.k) * kNR * sizeof(float)));
    dequant_panel(w, p, out);
    return out;
}

// K (kernel traits):
//   static constexpr int MR, MB_TILES;
//   static size_t a_tile_bytes(const rf_weight_s &);           multiple of 64
//   static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &, void *dst,
//                      float *rparams /* [act_groups][2*MR] */);
//   static const void *panel(const rf_weight_s &, int64_t p);
//   static void tile(int rows, const void *a, const void *b, const rf_weight_s &, int64_t p,
//                    const float *rscale, float *out /* [MR][32] */);
template <class K>
rf_status drive(const GemmArgs &a) {
    const rf_weight_s &w = *a.w;
    constexpr int MR = K::MR;
    const int64_t m = a.m, n = w.n;
    const int64_t mtiles = (m + MR - 1) / MR;
    const size_t tile_bytes = K::a_tile_bytes(w);
    thread_local AlignedBuf abuf, sbuf;  // the caller's; grow-only, reused across calls
    char *ap = static_cast<char *>(abuf.get(size_t(mtiles) * tile_bytes));
    // Per-row quantisation parameters of A (int8 path): 2·MR floats per row tile and activation group.
    const int64_t rper = int64_t(MR) * 2 * w.act_groups();
    float *rs = static_cast<float *>(sbuf.get(size_t(mtiles) * size_t(rper) * sizeof(float)));
    const int T = num_threads();

    // 1. pack X
    const int64_t per = chunk_size(mtiles, int64_t(T) * 2, 4);
    const int64_t ptasks = (mtiles + per - 1) / per;
    parallel_for(ptasks, [&](int64_t t, int) {
        int64_t end = (t + 1) * per < mtiles ? (t + 1) * per : mtiles;
        for (int64_t i = t * per; i < end; ++i) {
            int rows = int(m - i * MR < MR ? m - i * MR : MR);
            K::pack_a(a.x + i * MR * a.ldx, a.ldx, rows, w, ap + size_t(i) * tile_bytes, rs + i * rper);
        }
    });

    // 2. tiles. Kernels that widen each panel before using it (K::widen, bf16 / int8 on FMA)
    // redo that once per row block; past a few blocks (m > 2 x MB_TILES x MR) the whole weight
    // is widened once into a buffer of the calling thread instead (n x k floats, the size of
    // the fp32 weight), and the tiles then run in fp32's 16-tile blocks, whose A stays in L2.
    const int64_t panels = w.panels;
    const float *widened = nullptr;
    int64_t block_tiles = K::MB_TILES;
    if constexpr (requires { K::widen(w, int64_t(0), static_cast<float *>(nullptr)); }) {
        if (mtiles > 2 * int64_t(K::MB_TILES)) {
            thread_local AlignedBuf wbuf;
            const size_t per_panel = size_t(w.kp) * kNR;
            float *wb = static_cast<float *>(wbuf.get(size_t(panels) * per_panel * sizeof(float)));
            parallel_for(panels, [&](int64_t p, int) { K::widen(w, p, wb + size_t(p) * per_panel); });
            widened = wb;
            block_tiles = 16;
        }
    }
    const int64_t mb = mtiles < block_tiles ? mtiles : block_tiles;
    const int64_t mblocks = (mtiles + mb - 1) / mb;
    int64_t nb = panels * mblocks / (4 * int64_t(T));
    nb = nb < 1 ? 1 : (nb > 8 ? 8 : nb);
    const int64_t nblocks = (panels + nb - 1) / nb;
    parallel_for(mblocks * nblocks, [&](int64_t t, int) {
        const int64_t bm = t % mblocks, bn = t / mblocks;
        alignas(64) float tile[MR * kNR];
        const int64_t pend = (bn + 1) * nb < panels ? (bn + 1) * nb : panels;
        const int64_t iend = (bm + 1) * mb < mtiles ? (bm + 1) * mb : mtiles;
        for (int64_t p = bn * nb; p < pend; ++p) {
            const void *bp = widened ? widened + size_t(p) * size_t(w.kp) * kNR : K::panel(w, p);
            const int nc = int(n - p * kNR < kNR ? n - p * kNR : kNR);
            for (int64_t i = bm * mb; i < iend; ++i) {
                const int rows = int(m - i * MR < MR ? m - i * MR : MR);
                K::tile(rows, ap + size_t(i) * tile_bytes, bp, w, p, rs + i * rper, tile);
                tile_epilogue(a, i * MR, p * kNR, rows, nc, tile);
            }
        }
    });
    return RF_OK;
}

// Call f(std::integral_constant<int, R>) for R = rows in [1, MR].
template <int MR, class F>
inline void with_rows(int rows, F &&f) {
    if constexpr (MR >= 1) {
        if (rows == MR) {
            f(std::integral_constant<int, MR>{});
            return;
        }
        if constexpr (MR > 1) with_rows<MR - 1>(rows, f);
    }
}

// The fp32 tile of the including ISA file: out[r][c] = Σ_l A[l·MR + r] · B[l·32 + c] for
// r < R, l < k (A a packed X tile, B a weight panel as fp32 [k][32]).
template <int R>
inline void tile_f32(const float *A, const float *B, int64_t k, float *out);

// The kernel traits of the paths without native bf16/int8 math (AVX2, portable): X packed
// as fp32 MR-row tiles, weight panels as fp32 (dequantised per panel when stored bf16/int8),
// and the file's tile_f32.
template <int kRows>
struct F32PanelKernel {
    static constexpr int MR = kRows, MB_TILES = 16;
    static size_t a_tile_bytes(const rf_weight_s &w) { return (size_t(w.k) * kRows * sizeof(float) + 63) & ~size_t(63); }
    static void pack_a(const float *x, int64_t ldx, int rows, const rf_weight_s &w, void *dst, float *) {
        pack_a_f32<kRows>(x, ldx, rows, w.k, static_cast<float *>(dst));
    }
    static const void *panel(const rf_weight_s &w, int64_t p) { return panel_f32(w, p); }
    static void tile(int rows, const void *a, const void *b, const rf_weight_s &w, int64_t, const float *, float *out) {
        with_rows<kRows>(rows, [&](auto R) {
            tile_f32<decltype(R)::value>(static_cast<const float *>(a), static_cast<const float *>(b), w.k, out);
        });
    }
};

// The dynamic asymmetric per-row quantisation of X that the int8 tiles share, per activation group
// [l0, l1) of each row (one group, the whole row, by default), into `levels` levels of T (u8 with
// levels 255, or int16 with levels L for rf_weight_set_act_bits(w, 16)): over the group's range
// widened to include 0, s = (max − min) / levels, zero point z = round(−min / s), and
// q = clamp(round(x / s) + z, 0, levels), so x ≈ s (q − z). dst T [(l/4)*MR + r][l%4];
// rparams = [group][scale × MR][zero point × MR]; rows past `rows` are zeros with parameters 0;
// padding columns k..kp hold the last group's z (their weights are 0). The ISA supplies the vector
// parts: range(xr, l0, l1) -> {min, max} with its tail, and quantize(xr, l0, l1, inv, z, row, r),
// which writes a vector-sized prefix of the group and returns where it stopped (a multiple of 4
// past l0); the scalar tail is here.
template <int MR, class T, class Range, class Quantize>
inline void pack_a_quantized(const float *x, int64_t ldx, int rows, const rf_weight_s &w, T *d, float *rparams, float levels,
                             Range range, Quantize quantize) {
    const int64_t k = w.k, kp = w.kp;
    const int G = w.act_groups();
    for (int r = 0; r < MR; ++r) {
        if (r >= rows) {
            for (int g = 0; g < G; ++g) rparams[g * 2 * MR + r] = rparams[g * 2 * MR + MR + r] = 0.f;
            for (int64_t l = 0; l < kp; ++l) d[((l / 4) * MR + r) * 4 + (l % 4)] = 0;
            continue;
        }
        const float *xr = x + r * ldx;
        float z = 0.f;
        for (int g = 0; g < G; ++g) {
            const int64_t l0 = G == 1 ? 0 : w.agroups[size_t(g)], l1 = G == 1 ? k : w.agroups[size_t(g) + 1];
            const auto [lo, hi] = range(xr, l0, l1);
            const float s = hi > lo ? (hi - lo) / levels : 1.f;
            const float inv = 1.f / s;
            z = std::min(levels, std::max(0.f, std::nearbyint(-lo * inv)));
            rparams[g * 2 * MR + r] = s;
            rparams[g * 2 * MR + MR + r] = z;
            for (int64_t l = quantize(xr, l0, l1, inv, z, d, r); l < l1; ++l)
                d[((l / 4) * MR + r) * 4 + (l % 4)] = T(std::min(levels, std::max(0.f, std::nearbyint(xr[l] * inv) + z)));
        }
        for (int64_t l = k; l < kp; ++l) d[((l / 4) * MR + r) * 4 + (l % 4)] = T(z);
    }
}
