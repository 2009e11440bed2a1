// Per-ISA implementations behind rf_topk (arguments validated: 1 <= k <= n).
#pragma once
#include "backend.h"

namespace rf {

// (static: every ISA object gets its own copy, so the linker cannot hand the
// portable path a copy compiled with AVX-512 flags.)
// The order of rf_topk: a before b when a is larger; NaN is below every number;
// equal values (and two NaNs) go by the lower index. A strict total order.
static inline bool topk_before(float va, int64_t ia, float vb, int64_t ib) {
    bool na = va != va, nb = vb != vb;
    if (na || nb) return na == nb ? ia < ib : nb;
    if (va != vb) return va > vb;
    return ia < ib;
}

RF_DECLARE_ALL_ISAS(
    rf_status topk(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values, int32_t *indices,
                   int64_t ldk);)
}
