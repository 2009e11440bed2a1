// Gather rows / scatter-add rows, compiled once per ISA (RF_ISA_NS).
// gather: rows split over the pool. scatter-add: deterministic for any thread
// count — every task owns a range of destination rows x a block of columns and
// applies the source rows that land there in increasing i, the reference's
// order, so each destination element sees the same sequence of additions.
#include "../gather_scatter.h"

namespace rf::RF_ISA_NS {

rf_status gather_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx, const float *weights,
                      float *dst, int64_t ldd) {
    const int64_t per_task = chunk_size(n, int64_t(num_threads()) * 4, d >= 4096 ? 1 : 4096 / d + 1);
    const int64_t tasks = (n + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        const int64_t end = (t + 1) * per_task < n ? (t + 1) * per_task : n;
        for (int64_t i = t * per_task; i < end; ++i) {
            const float *s = src + int64_t(idx[i]) * lds;
            float *o = dst + i * ldd;
            if (weights) {
                const float w = weights[i];
                for (int64_t c = 0; c < d; ++c) o[c] = w * s[c];
            } else {
                for (int64_t c = 0; c < d; ++c) o[c] = s[c];
            }
        }
    });
    return RF_OK;
}

rf_status scatter_add_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx, const float *weights,
                           float *dst, int64_t ldd, int64_t dst_rows) {
    const int64_t work = n * d;
    const int threads = num_threads();
    // Destination row ranges x column blocks of >= 256 floats; one task when the op is small.
    int64_t row_parts = work < 32768 ? 1 : int64_t(threads) * 2;
    if (row_parts > dst_rows) row_parts = dst_rows;
    const int64_t rows_per = (dst_rows + row_parts - 1) / row_parts;
    row_parts = (dst_rows + rows_per - 1) / rows_per;
    const int64_t col_block = work < 32768 ? d : (d + 255) / 256 * 256 > 1024 ? 1024 : (d + 255) / 256 * 256;
    const int64_t col_parts = (d + col_block - 1) / col_block;
    parallel_for(row_parts * col_parts, [&](int64_t t, int) {
        const int64_t r0 = (t / col_parts) * rows_per, r1 = r0 + rows_per < dst_rows ? r0 + rows_per : dst_rows;
        const int64_t c0 = (t % col_parts) * col_block, c1 = c0 + col_block < d ? c0 + col_block : d;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t r = idx[i];
            if (r < r0 || r >= r1) continue;
            const float *s = src + i * lds;
            float *o = dst + r * ldd;
            if (weights) {
                const float w = weights[i];
                for (int64_t c = c0; c < c1; ++c) o[c] += w * s[c];
            } else {
                for (int64_t c = c0; c < c1; ++c) o[c] += s[c];
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
