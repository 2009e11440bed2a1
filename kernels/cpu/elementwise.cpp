// rf_binary / rf_activation: argument checks and ISA dispatch.
#include "elementwise.h"

extern "C" {

RF_API rf_status rf_binary(rf_stream s, int32_t op, int64_t m, int64_t n, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(op >= RF_BINARY_ADD && op <= RF_BINARY_MIN, "rf_binary: unknown op %d", op);
        RF_CHECK(m >= 0 && n >= 0, "rf_binary: negative shape [%lld, %lld]", (long long)m, (long long)n);
        if (m == 0 || n == 0) return RF_OK;
        RF_CHECK(a && b && y, "rf_binary: NULL pointer");
        RF_CHECK(lda >= n && ldy >= n && (ldb == 0 || ldb >= n),
                 "rf_binary: leading dimensions (%lld, %lld, %lld) must be >= n = %lld (ldb may be 0)",
                 (long long)lda, (long long)ldb, (long long)ldy, (long long)n);
        RF_DISPATCH(binary, op, m, n, a, lda, b, ldb, y, ldy);
    });
}

RF_API rf_status rf_activation(rf_stream s, int32_t act, int64_t m, int64_t n, const float *x, int64_t ldx,
                               float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(rf::valid_act(act), "rf_activation: unknown activation %d", act);
        RF_CHECK(m >= 0 && n >= 0, "rf_activation: negative shape [%lld, %lld]", (long long)m, (long long)n);
        if (m == 0 || n == 0) return RF_OK;
        RF_CHECK(x && y, "rf_activation: NULL pointer");
        RF_CHECK(ldx >= n && ldy >= n, "rf_activation: leading dimensions (%lld, %lld) must be >= n = %lld",
                 (long long)ldx, (long long)ldy, (long long)n);
        RF_DISPATCH(activation, act, m, n, x, ldx, y, ldy);
    });
}

}  // extern "C"
