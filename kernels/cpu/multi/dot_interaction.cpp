// DLRM dot interaction, compiled once per ISA (RF_ISA_NS). Per sample the f
// vectors are transposed once into T[c][j] (d x f, j padded to the vector
// width), then the lower triangle of X·Xᵀ is built as a small outer-product
// GEMM: for a block of 4 rows i and 2 vectors of columns j, every step c
// broadcasts x_i[c] and multiplies it into T[c][j..] — 8 FMAs per 2 vector
// loads + 4 broadcasts, and no horizontal sums. Vector width: 16 floats with
// AVX-512, 8 with AVX2, 4 portable (GCC vector types). Samples are split over the pool.
#include "../dot_interaction.h"

#include <cstring>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int VL = 16;
#elif defined(__AVX__)
constexpr int VL = 8;
#else
constexpr int VL = 4;  // SSE: wider GCC vector types would be lowered piecewise
#endif
typedef float vf __attribute__((vector_size(VL * 4)));
struct alignas(64) Block {  // storage for vf (std::vector<vf> would drop the alignment)
    float f[16];
};

constexpr int RB = 4;  // rows i per block
constexpr int JB = 2;  // vectors of j per block

}  // namespace

rf_status dot_interaction(int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx, int32_t concat_dense,
                          int32_t self_interaction, float *out, int64_t ldo) {
    const int64_t fp = (f + VL * JB - 1) / (VL * JB) * (VL * JB);  // padded row length of T
    const int64_t per_task = chunk_size(m, int64_t(num_threads()) * 4, 8);
    const int64_t tasks = (m + per_task - 1) / per_task;
    const int64_t first_i = self_interaction ? 0 : 1;
    parallel_for(tasks, [&](int64_t t, int) {
        std::vector<Block> buf(static_cast<size_t>((d * fp + 15) / 16 + 1));
        float *tr = buf.data()->f;
        std::memset(tr, 0, size_t(d * fp) * 4);
        const int64_t end = (t + 1) * per_task < m ? (t + 1) * per_task : m;
        for (int64_t b = t * per_task; b < end; ++b) {
            const float *xb = x + b * ldx;
            float *ob = out + b * ldo;
            for (int64_t j = 0; j < f; ++j)
                for (int64_t c = 0; c < d; ++c) tr[c * fp + j] = xb[j * d + c];
            int64_t o = 0;
            if (concat_dense) {
                std::memcpy(ob, xb, size_t(d) * 4);
                o = d;
            }
            for (int64_t i0 = first_i; i0 < f; i0 += RB) {
                const float *xr[RB];
                for (int r = 0; r < RB; ++r) xr[r] = xb + (i0 + r < f ? i0 + r : f - 1) * d;
                const int64_t ilast = i0 + RB - 1 < f - 1 ? i0 + RB - 1 : f - 1;
                const int64_t jend = self_interaction ? ilast + 1 : ilast;  // columns needed by this block
                for (int64_t j0 = 0; j0 < jend; j0 += VL * JB) {
                    vf acc[RB][JB] = {};
                    const float *tc = tr + j0;
                    for (int64_t c = 0; c < d; ++c, tc += fp) {
                        vf tv[JB];
                        for (int q = 0; q < JB; ++q) tv[q] = *reinterpret_cast<const vf *>(tc + q * VL);
                        for (int r = 0; r < RB; ++r) {
                            const float s = xr[r][c];
                            for (int q = 0; q < JB; ++q) acc[r][q] += s * tv[q];
                        }
                    }
                    for (int r = 0; r < RB; ++r) {
                        const int64_t i = i0 + r;
                        if (i >= f) break;
                        const int64_t nj = self_interaction ? i + 1 : i;
                        const int64_t base = o + (self_interaction ? i * (i + 1) / 2 : i * (i - 1) / 2);
                        alignas(64) float row[VL * JB];
                        std::memcpy(row, acc[r], sizeof row);
                        for (int64_t j = j0; j < nj && j < j0 + VL * JB; ++j) ob[base + j] = row[j - j0];
                    }
                }
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
