// rf_topk: argument checks and ISA dispatch.
#include "topk.h"

extern "C" {

RF_API rf_status rf_topk(rf_stream s, int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values,
                         int32_t *indices, int64_t ldk) {
    RF_ENTRY({
        RF_CHECK(m >= 0, "rf_topk: m = %lld is negative", (long long)m);
        RF_CHECK(n >= 1 && n <= INT32_MAX, "rf_topk: n = %lld must be in [1, 2^31) (indices are int32)", (long long)n);
        RF_CHECK(k >= 1 && k <= n, "rf_topk: k = %lld must be in [1, n = %lld]", (long long)k, (long long)n);
        RF_CHECK(ldx >= n, "rf_topk: ldx = %lld must be >= n = %lld", (long long)ldx, (long long)n);
        RF_CHECK(ldk >= k, "rf_topk: ldk = %lld must be >= k = %lld", (long long)ldk, (long long)k);
        if (m == 0) return RF_OK;
        RF_CHECK(x != nullptr, "rf_topk: x is NULL");
        RF_CHECK(values != nullptr, "rf_topk: values is NULL");
        RF_CHECK(indices != nullptr, "rf_topk: indices is NULL");
        RF_DISPATCH(topk, m, n, k, x, ldx, values, indices, ldk);
    });
}

}  // extern "C"
