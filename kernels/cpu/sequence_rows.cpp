// rf_norm_gate / rf_token_mix: argument checks and ISA dispatch.
#include "sequence_rows.h"

#include <cmath>

extern "C" {

RF_API rf_status rf_norm_gate(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *u,
                              int64_t ldu, const float *gamma, const float *beta, float eps, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(m >= 0 && n >= 0, "rf_norm_gate: negative size (m %lld, n %lld)", (long long)m, (long long)n);
        RF_CHECK(ldx >= n && ldu >= n && ldy >= n, "rf_norm_gate: leading dimensions (ldx %lld, ldu %lld, ldy %lld) must be >= n = %lld",
                 (long long)ldx, (long long)ldu, (long long)ldy, (long long)n);
        RF_CHECK(std::isfinite(eps) && eps >= 0.f, "rf_norm_gate: eps must be finite and >= 0");
        if (m == 0 || n == 0) return RF_OK;
        RF_CHECK(x && u && y, "rf_norm_gate: x, u and y are required");
        RF_DISPATCH(norm_gate, m, n, x, ldx, u, ldu, gamma, beta, eps, y, ldy);
    });
}

RF_API rf_status rf_token_mix(rf_stream s, int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx,
                              float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(m >= 0 && T >= 0 && D >= 0, "rf_token_mix: negative size (m %lld, T %lld, D %lld)", (long long)m,
                 (long long)T, (long long)D);
        RF_CHECK(H >= 1 && D % H == 0, "rf_token_mix: heads H = %lld must be >= 1 and divide the token dim D = %lld",
                 (long long)H, (long long)D);
        RF_CHECK(ldx >= T * D && ldy >= T * D, "rf_token_mix: leading dimensions (ldx %lld, ldy %lld) must be >= T*D = %lld",
                 (long long)ldx, (long long)ldy, (long long)(T * D));
        if (m == 0 || T == 0 || D == 0) return RF_OK;
        RF_CHECK(x && y, "rf_token_mix: x and y are required");
        RF_DISPATCH(token_mix, m, T, D, H, x, ldx, y, ldy);
    });
}

}  // extern "C"
