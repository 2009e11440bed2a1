// rf_gru_sequence: argument checks and ISA dispatch.
#include "recurrent.h"

extern "C" {

RF_API rf_status rf_gru_sequence(rf_stream s, int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx,
                                 const float *rt, const float *rb, int32_t linear_before_reset, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(m >= 0, "rf_gru_sequence: m = %lld is negative", (long long)m);
        RF_CHECK(steps >= 0 && steps <= (int64_t(1) << 24), "rf_gru_sequence: steps = %lld must be in [0, 2^24]", (long long)steps);
        RF_CHECK(h >= 1 && h <= (int64_t(1) << 16), "rf_gru_sequence: h = %lld must be in [1, 2^16]", (long long)h);
        RF_CHECK(linear_before_reset == 0 || linear_before_reset == 1,
                 "rf_gru_sequence: linear_before_reset = %d must be 0 or 1", linear_before_reset);
        RF_CHECK(ldgx >= steps * 3 * h, "rf_gru_sequence: ldgx = %lld must be >= steps * 3h = %lld", (long long)ldgx,
                 (long long)(steps * 3 * h));
        RF_CHECK(ldy >= steps * h, "rf_gru_sequence: ldy = %lld must be >= steps * h = %lld", (long long)ldy,
                 (long long)(steps * h));
        if (m == 0 || steps == 0) return RF_OK;
        RF_CHECK(gx != nullptr, "rf_gru_sequence: gx is NULL");
        RF_CHECK(rt != nullptr, "rf_gru_sequence: rt is NULL");
        RF_CHECK(y != nullptr, "rf_gru_sequence: y is NULL");
        RF_DISPATCH(gru_sequence, m, steps, h, gx, ldgx, rt, rb, linear_before_reset, y, ldy);
    });
}

}  // extern "C"
