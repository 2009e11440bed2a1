// Per-ISA implementations behind rf_dot_interaction (arguments validated).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status dot_interaction(int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx, int32_t concat_dense,
                              int32_t self_interaction, float *out, int64_t ldo);)
}
