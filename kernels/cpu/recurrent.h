// Per-ISA implementations behind rf_gru_sequence (arguments validated).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt,
                           const float *rb, const float *h0, int64_t ldh0, int32_t linear_before_reset, int32_t reverse,
                           float *y, int64_t ldy);)
}
