// Scalar reference of the elementwise ops.
#include "elementwise.h"

#include <cmath>

namespace rf::ref {

static float apply_binary(int op, float a, float b) {
    switch (op) {
    case RF_BINARY_ADD: return a + b;
    case RF_BINARY_SUB: return a - b;
    case RF_BINARY_MUL: return a * b;
    case RF_BINARY_DIV: return a / b;
    case RF_BINARY_MAX: return std::fmax(a, b);
    default: return std::fmin(a, b);
    }
}

rf_status binary(int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) y[i * ldy + j] = apply_binary(op, a[i * lda + j], b[i * ldb + j]);
    return RF_OK;
}

rf_status activation(int act, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) y[i * ldy + j] = apply_act(act, x[i * ldx + j]);
    return RF_OK;
}

}  // namespace rf::ref
