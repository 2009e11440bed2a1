// rf_layer_norm / rf_rms_norm / rf_softmax: argument checks and ISA dispatch.
#include "norms.h"

#include <cmath>

#define RF_CHECK_ROWS(fn, m, n, x, ldx, y, ldy)                                                                         \
    RF_CHECK(m >= 0, fn ": m = %lld is negative", (long long)m);                                                      \
    RF_CHECK(n >= 0, fn ": n = %lld is negative", (long long)n);                                                      \
    if (m == 0 || n == 0) return RF_OK;                                                                               \
    RF_CHECK(x != nullptr, fn ": x is NULL");                                                                         \
    RF_CHECK(y != nullptr, fn ": y is NULL");                                                                         \
    RF_CHECK(ldx >= n, fn ": ldx = %lld must be >= n = %lld", (long long)ldx, (long long)n);                         \
    RF_CHECK(ldy >= n, fn ": ldy = %lld must be >= n = %lld", (long long)ldy, (long long)n)

extern "C" {

RF_API rf_status rf_layer_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma,
                               const float *beta, float eps, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(std::isfinite(eps) && eps >= 0.f, "rf_layer_norm: eps = %g must be finite and >= 0", double(eps));
        RF_CHECK_ROWS("rf_layer_norm", m, n, x, ldx, y, ldy);
        RF_DISPATCH(layer_norm, m, n, x, ldx, gamma, beta, eps, y, ldy);
    });
}

RF_API rf_status rf_rms_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps,
                             float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(std::isfinite(eps) && eps >= 0.f, "rf_rms_norm: eps = %g must be finite and >= 0", double(eps));
        RF_CHECK_ROWS("rf_rms_norm", m, n, x, ldx, y, ldy);
        RF_DISPATCH(rms_norm, m, n, x, ldx, gamma, eps, y, ldy);
    });
}

RF_API rf_status rf_softmax(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK_ROWS("rf_softmax", m, n, x, ldx, y, ldy);
        RF_DISPATCH(softmax, m, n, x, ldx, y, ldy);
    });
}

}  // extern "C"
