// DLRM dot interaction, compiled once per ISA (RF_ISA_NS). Per sample the f
// vectors are copied once into a zero-padded block (d rounded up to 16), then
// the lower triangle of X·Xᵀ is computed four dots at a time: each 16-float
// slice of v_i is loaded once and multiplied into four 16-lane accumulators
// (GCC vector types: one zmm on AVX-512, two ymm on AVX2, four xmm portable).
// Samples are split over the pool in blocks.
#include "../dot_interaction.h"

#include <cstring>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

typedef float v16 __attribute__((vector_size(64)));
struct alignas(64) Block {  // storage for one v16 (std::vector<v16> would drop the alignment)
    float f[16];
};

inline float hsum(v16 v) {
    float s = 0.f;
    for (int l = 0; l < 16; ++l) s += v[l];
    return s;
}

// Dots of row i with rows j0..j0+NJ-1 of the padded block p (dp floats per row).
template <int NJ>
inline void dots(const float *p, int64_t dp, int64_t i, int64_t j0, float *o) {
    v16 acc[NJ] = {};
    const v16 *vi = reinterpret_cast<const v16 *>(p + i * dp);
    for (int64_t c = 0; c < dp / 16; ++c) {
        v16 a = vi[c];
        for (int k = 0; k < NJ; ++k) acc[k] += a * reinterpret_cast<const v16 *>(p + (j0 + k) * dp)[c];
    }
    for (int k = 0; k < NJ; ++k) o[k] = hsum(acc[k]);
}

}  // namespace

rf_status dot_interaction(int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx, int32_t concat_dense,
                          int32_t self_interaction, float *out, int64_t ldo) {
    const int64_t dp = (d + 15) / 16 * 16;
    const int64_t per_task = chunk_size(m, int64_t(num_threads()) * 4, 8);
    const int64_t tasks = (m + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        std::vector<Block> buf(static_cast<size_t>(f * dp / 16 + 1));
        float *p = buf.data()->f;
        const int64_t end = (t + 1) * per_task < m ? (t + 1) * per_task : m;
        for (int64_t b = t * per_task; b < end; ++b) {
            const float *xb = x + b * ldx;
            float *ob = out + b * ldo;
            for (int64_t r = 0; r < f; ++r) {
                std::memcpy(p + r * dp, xb + r * d, size_t(d) * 4);
                for (int64_t c = d; c < dp; ++c) p[r * dp + c] = 0.f;
            }
            int64_t o = 0;
            if (concat_dense) {
                std::memcpy(ob, xb, size_t(d) * 4);
                o = d;
            }
            for (int64_t i = self_interaction ? 0 : 1; i < f; ++i) {
                const int64_t nj = self_interaction ? i + 1 : i;
                int64_t j = 0;
                for (; j + 4 <= nj; j += 4) dots<4>(p, dp, i, j, ob + o + j);
                for (; j < nj; ++j) dots<1>(p, dp, i, j, ob + o + j);
                o += nj;
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
