// rf_cumsum_axis / rf_topk_axis: argument checks and ISA dispatch.
#include "tensor_ops.h"

extern "C" {

RF_API rf_status rf_cumsum_axis(rf_stream s, int32_t dtype, int64_t outer, int64_t n, int64_t inner, int32_t exclusive,
                                int32_t reverse, const void *x, void *y) {
    RF_ENTRY({
        if (dtype != RF_F32 && dtype != RF_I32 && dtype != RF_I64)
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_cumsum_axis: dtype %s is not f32, i32 or i64", rf::dtype_name(dtype));
        RF_CHECK(exclusive == 0 || exclusive == 1, "rf_cumsum_axis: exclusive = %d must be 0 or 1", exclusive);
        RF_CHECK(reverse == 0 || reverse == 1, "rf_cumsum_axis: reverse = %d must be 0 or 1", reverse);
        RF_CHECK(outer >= 0 && n >= 0 && inner >= 0, "rf_cumsum_axis: negative shape [outer %lld, n %lld, inner %lld]",
                 (long long)outer, (long long)n, (long long)inner);
        if (outer == 0 || n == 0 || inner == 0) return RF_OK;
        RF_CHECK(x != nullptr, "rf_cumsum_axis: x is NULL");
        RF_CHECK(y != nullptr, "rf_cumsum_axis: y is NULL");
        RF_DISPATCH(cumsum_axis, dtype, outer, n, inner, exclusive, reverse, x, y);
    });
}

RF_API rf_status rf_topk_axis(rf_stream s, int64_t outer, int64_t n, int64_t inner, int64_t k, int32_t largest,
                              const float *x, float *values, int64_t *indices) {
    RF_ENTRY({
        RF_CHECK(outer >= 0 && n >= 0 && inner >= 0, "rf_topk_axis: negative shape [outer %lld, n %lld, inner %lld]",
                 (long long)outer, (long long)n, (long long)inner);
        RF_CHECK(k >= 0 && k <= n, "rf_topk_axis: k = %lld must be in [0, n = %lld]", (long long)k, (long long)n);
        RF_CHECK(largest == 0 || largest == 1, "rf_topk_axis: largest = %d must be 0 or 1", largest);
        if (outer == 0 || inner == 0 || k == 0) return RF_OK;
        RF_CHECK(x != nullptr, "rf_topk_axis: x is NULL");
        RF_CHECK(values != nullptr, "rf_topk_axis: values is NULL");
        RF_CHECK(indices != nullptr, "rf_topk_axis: indices is NULL");
        RF_DISPATCH(topk_axis, outer, n, inner, k, largest, x, values, indices);
    });
}

}  // extern "C"
