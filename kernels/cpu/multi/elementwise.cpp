// Vectorisable elementwise ops, compiled once per ISA (RF_ISA_NS); rows split over the pool.
#include "../elementwise.h"
#include "../row_ops.h"
#include "../vector_math.h"

namespace rf::RF_ISA_NS {

rf_status binary(int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *y, int64_t ldy) {
    for_rows(m, n, [&](int64_t i) {
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
    for_rows(m, n, [&](int64_t i) { apply_act_row(act, x + i * ldx, y + i * ldy, n); });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
