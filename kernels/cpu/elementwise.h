// Per-ISA implementations behind rf_binary and rf_activation (arguments already validated).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status binary(int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b,
                     int64_t ldb, float *y, int64_t ldy);
    rf_status activation(int act, int64_t m, int64_t n, const float *x, int64_t ldx, float *y,
                         int64_t ldy);)
}
