// rf_dot_interaction: argument checks and ISA dispatch.
#include "dot_interaction.h"

extern "C" {

RF_API rf_status rf_dot_interaction(rf_stream s, int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx,
                                    int32_t concat_dense, int32_t self_interaction, float *out, int64_t ldo) {
    RF_ENTRY({
        RF_CHECK(m >= 0, "rf_dot_interaction: m = %lld is negative", (long long)m);
        RF_CHECK(f >= 1 && f <= (int64_t(1) << 20), "rf_dot_interaction: f = %lld must be in [1, 2^20]", (long long)f);
        RF_CHECK(d >= 0 && d <= (int64_t(1) << 30), "rf_dot_interaction: d = %lld must be in [0, 2^30]", (long long)d);
        RF_CHECK(concat_dense == 0 || concat_dense == 1, "rf_dot_interaction: concat_dense = %d must be 0 or 1", concat_dense);
        RF_CHECK(self_interaction == 0 || self_interaction == 1, "rf_dot_interaction: self_interaction = %d must be 0 or 1",
                 self_interaction);
        const int64_t pairs = self_interaction ? f * (f + 1) / 2 : f * (f - 1) / 2;
        const int64_t width = (concat_dense ? d : 0) + pairs;
        RF_CHECK(ldx >= f * d, "rf_dot_interaction: ldx = %lld must be >= f * d = %lld", (long long)ldx, (long long)(f * d));
        RF_CHECK(ldo >= width, "rf_dot_interaction: ldo = %lld must be >= output width %lld", (long long)ldo, (long long)width);
        if (m == 0 || width == 0) return RF_OK;
        RF_CHECK(x != nullptr, "rf_dot_interaction: x is NULL");
        RF_CHECK(out != nullptr, "rf_dot_interaction: out is NULL");
        RF_DISPATCH(dot_interaction, m, f, d, x, ldx, concat_dense, self_interaction, out, ldo);
    });
}

}  // extern "C"
