// Per-ISA implementations behind rf_gru_sequence (arguments validated).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt,
                           const float *rb, int32_t linear_before_reset, float *y, int64_t ldy);)
}
