// Per-ISA implementations behind rf_layer_norm, rf_rms_norm, rf_softmax (arguments validated).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status layer_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, const float *beta,
                         float eps, float *y, int64_t ldy);
    rf_status rms_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps, float *y,
                       int64_t ldy);
    rf_status softmax(int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy);)
}
