// rf_matmul_batched, compiled once per ISA (RF_ISA_NS). Each task owns one
// batch entry and one panel of 16 columns of b, packs that panel once into a
// contiguous [k][16] buffer (whatever b's strides: Kᵀ views included), then
// runs a 4 x 16 register tile over its rows (4 broadcasts and 4 16-wide FMAs
// per step of k). Tasks split rows too when batch x panels is small.
#include "../tensor_loops.h"
#include "../tensor_ops.h"

#include <vector>

namespace rf::RF_ISA_NS {
namespace {

constexpr int MR = 4, NR = 16;

void store(float *yr, const float *acc, int nc, float beta) {
    if (beta != 0.f)
        for (int c = 0; c < nc; ++c) yr[c] = acc[c] + beta * yr[c];
    else
        for (int c = 0; c < nc; ++c) yr[c] = acc[c];
}

}  // namespace

rf_status matmul_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t sa_b, int64_t sa_m,
                         int64_t sa_k, const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n, float beta, float *y,
                         int64_t sy_b, int64_t sy_m) {
    const int64_t panels = (n + NR - 1) / NR;
    const int64_t units = batch * panels;
    const int64_t want = int64_t(num_threads()) * 4;
    int64_t rows_per = m;
    if (units < want) {
        const int64_t pieces = (want + units - 1) / units;
        rows_per = (m + pieces - 1) / pieces;
        rows_per = rows_per < 16 ? 16 : (rows_per + MR - 1) / MR * MR;
    }
    const int64_t row_blocks = (m + rows_per - 1) / rows_per;
    for_chunks(units * row_blocks, 1, [&](int64_t u0, int64_t u1) {
        std::vector<float> panel(size_t(k > 0 ? k : 1) * NR);
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t p = u / (panels * row_blocks), r = u % (panels * row_blocks);
            const int64_t j0 = (r / row_blocks) * NR, i_begin = (r % row_blocks) * rows_per;
            const int64_t i_end = i_begin + rows_per < m ? i_begin + rows_per : m;
            const int nc = int(n - j0 < NR ? n - j0 : NR);
            const float *bb = b + p * sb_b + j0 * sb_n;
            float *bp = panel.data();
            for (int64_t l = 0; l < k; ++l) {
                const float *bl = bb + l * sb_k;
                for (int c = 0; c < NR; ++c) bp[l * NR + c] = c < nc ? bl[c * sb_n] : 0.f;
            }
            const float *ab = a + p * sa_b;
            float *yb = y + p * sy_b + j0;
            int64_t i = i_begin;
            for (; i + MR <= i_end; i += MR) {
                float acc[MR][NR] = {};
                const float *a0 = ab + i * sa_m, *a1 = a0 + sa_m, *a2 = a1 + sa_m, *a3 = a2 + sa_m;
                for (int64_t l = 0; l < k; ++l) {
                    const float *bl = bp + l * NR;
                    const float v0 = a0[l * sa_k], v1 = a1[l * sa_k], v2 = a2[l * sa_k], v3 = a3[l * sa_k];
                    for (int c = 0; c < NR; ++c) {
                        acc[0][c] += v0 * bl[c];
                        acc[1][c] += v1 * bl[c];
                        acc[2][c] += v2 * bl[c];
                        acc[3][c] += v3 * bl[c];
                    }
                }
                for (int q = 0; q < MR; ++q) store(yb + (i + q) * sy_m, acc[q], nc, beta);
            }
            for (; i < i_end; ++i) {
                float acc[NR] = {};
                const float *ai = ab + i * sa_m;
                for (int64_t l = 0; l < k; ++l) {
                    const float v = ai[l * sa_k];
                    for (int c = 0; c < NR; ++c) acc[c] += v * bp[l * NR + c];
                }
                store(yb + i * sy_m, acc, nc, beta);
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
