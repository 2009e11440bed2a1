// Per-ISA implementations behind rf_target_attention (arguments already validated).
#pragma once
#include "backend.h"

namespace rf {

struct AttentionArgs {
    int64_t n, T, d, h;
    const float *q;
    int64_t ldq;
    const float *keys;
    int64_t ldk;
    const float *mask;
    int64_t ldm;
    const int32_t *req;
    const float *qp;
    int64_t ldqp;
    const float *kp, *wqk, *w2;
    float b2;
    int act;
    float *out;
    int64_t ldo;
};

RF_DECLARE_ALL_ISAS(rf_status target_attention(const AttentionArgs &a);)

}  // namespace rf
