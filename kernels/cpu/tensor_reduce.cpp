// rf_reduce / rf_softmax_axis: argument checks and ISA dispatch.
#include "tensor_ops.h"

namespace {

rf_status check_axis_shape(const char *fn, int64_t outer, int64_t n, int64_t inner) {
    RF_CHECK(outer >= 0 && n >= 0 && inner >= 0, "%s: negative shape [outer %lld, n %lld, inner %lld]", fn,
             (long long)outer, (long long)n, (long long)inner);
    return RF_OK;
}

}  // namespace

extern "C" {

RF_API rf_status rf_reduce(rf_stream s, int32_t op, int32_t dtype, int64_t outer, int64_t n, int64_t inner,
                           const void *x, void *y) {
    RF_ENTRY({
        if (op < RF_REDUCE_SUM || op > RF_REDUCE_ARGMIN) return rf::fail(RF_ERR_INVALID_ARG, "rf_reduce: unknown op %d", op);
        bool int_op = op == RF_REDUCE_SUM || op == RF_REDUCE_MAX || op == RF_REDUCE_MIN || op == RF_REDUCE_PROD ||
                      op == RF_REDUCE_ARGMAX || op == RF_REDUCE_ARGMIN;
        if (!(dtype == RF_F32 || ((dtype == RF_I32 || dtype == RF_I64) && int_op)))
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_reduce: op %d does not support dtype %s", op, rf::dtype_name(dtype));
        rf_status st = check_axis_shape("rf_reduce", outer, n, inner);
        if (st != RF_OK || outer == 0 || inner == 0) return st;
        if (n == 0 && (op == RF_REDUCE_MEAN || op == RF_REDUCE_MAX || op == RF_REDUCE_MIN || op == RF_REDUCE_ARGMAX ||
                       op == RF_REDUCE_ARGMIN))
            return rf::fail(RF_ERR_INVALID_ARG, "rf_reduce: op %d over an empty axis (n = 0) has no value", op);
        RF_CHECK(n == 0 || x != nullptr, "rf_reduce: x is NULL");
        RF_CHECK(y != nullptr, "rf_reduce: y is NULL");
        RF_DISPATCH(reduce_axis, op, dtype, outer, n, inner, x, y);
    });
}

RF_API rf_status rf_softmax_axis(rf_stream s, int32_t log_softmax, int64_t outer, int64_t n, int64_t inner,
                                 const float *x, float *y) {
    RF_ENTRY({
        RF_CHECK(log_softmax == 0 || log_softmax == 1, "rf_softmax_axis: log_softmax = %d must be 0 or 1", log_softmax);
        rf_status st = check_axis_shape("rf_softmax_axis", outer, n, inner);
        if (st != RF_OK || outer == 0 || n == 0 || inner == 0) return st;
        RF_CHECK(x != nullptr, "rf_softmax_axis: x is NULL");
        RF_CHECK(y != nullptr, "rf_softmax_axis: y is NULL");
        RF_DISPATCH(softmax_axis, log_softmax, outer, n, inner, x, y);
    });
}

}  // extern "C"
