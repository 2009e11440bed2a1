// Vectorisable elementwise ops, compiled once per ISA (RF_ISA_NS); rows split over the pool.
#include "../elementwise.h"
#include "../vector_math.h"

namespace rf::RF_ISA_NS {

template <class Op>
static void rows(int64_t m, int64_t n, Op op) {
    // ~16K elements per task keeps scheduling overhead small for wide rows.
    int64_t per_task = chunk_size(m, int64_t(num_threads()) * 4, n >= 16384 ? 1 : 16384 / (n + 1) + 1);
    int64_t tasks = (m + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        int64_t end = (t + 1) * per_task < m ? (t + 1) * per_task : m;
        for (int64_t i = t * per_task; i < end; ++i) op(i);
    });
}

rf_status binary(int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *y, int64_t ldy) {
    rows(m, n, [&](int64_t i) {
        const float *ai = a + i * lda;
        const float *bi = b + i * ldb;
        float *yi = y + i * ldy;
        switch (op) {
        case RF_BINARY_ADD: for (int64_t j = 0; j < n; ++j) yi[j] = ai[j] + bi[j]; break;
        case RF_BINARY_SUB: for (int64_t j = 0; j < n; ++j) yi[j] = ai[j] - bi[j]; break;
        case RF_BINARY_MUL: for (int64_t j = 0; j < n; ++j) yi[j] = ai[j] * bi[j]; break;
        case RF_BINARY_DIV: for (int64_t j = 0; j < n; ++j) yi[j] = ai[j] / bi[j]; break;
        case RF_BINARY_MAX: for (int64_t j = 0; j < n; ++j) yi[j] = vmax_nan(ai[j], bi[j]); break;
        default: for (int64_t j = 0; j < n; ++j) yi[j] = vmin_nan(ai[j], bi[j]); break;
        }
    });
    return RF_OK;
}

rf_status activation(int act, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    rows(m, n, [&](int64_t i) { apply_act_row(act, x + i * ldx, y + i * ldy, n); });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
