// Private contract of the row ops of the sequence section: rf_norm_gate (HSTU's
// LayerNorm(x) ⊙ u) and rf_token_mix (RankMixer's token mixing), per ISA.
#pragma once
#include "backend.h"

namespace rf {

RF_DECLARE_ALL_ISAS(
    rf_status norm_gate(int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                        const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
    rf_status token_mix(int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y,
                        int64_t ldy);)

}  // namespace rf
