// rf_gather_axis / rf_gather_elements / rf_scatter_nd: argument checks, every
// index range-checked before anything is written, and ISA dispatch.
#include "tensor_ops.h"

namespace {

rf_status check_index_dtype(const char *fn, int idx_dtype) {
    if (idx_dtype != RF_I32 && idx_dtype != RF_I64)
        return rf::fail(RF_ERR_UNSUPPORTED, "%s: idx_dtype %d must be i32 or i64", fn, idx_dtype);
    return RF_OK;
}

// Every idx[i] for i < count must be in [-len, len).
rf_status check_indices(const char *fn, const void *idx, int idx_dtype, int64_t count, int64_t len, const char *what) {
    for (int64_t i = 0; i < count; ++i) {
        int64_t t = rf::index_at(idx, idx_dtype, i);
        if (t < -len || t >= len)
            return rf::fail(RF_ERR_OUT_OF_RANGE, "%s: idx[%lld] = %lld is outside [-%lld, %lld) (%s)", fn, (long long)i,
                            (long long)t, (long long)len, (long long)len, what);
    }
    return RF_OK;
}

}  // namespace

extern "C" {

RF_API rf_status rf_gather_axis(rf_stream s, int32_t dtype, int64_t outer, int64_t axis_len, int64_t inner,
                                const void *x, const void *idx, int32_t idx_dtype, int64_t num_idx,
                                int32_t idx_per_outer, void *y) {
    RF_ENTRY({
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_gather_axis: dtype %d is not f32, i32, i64 or bool", dtype);
        rf_status st = check_index_dtype("rf_gather_axis", idx_dtype);
        if (st != RF_OK) return st;
        RF_CHECK(outer >= 0 && axis_len >= 0 && inner >= 0 && num_idx >= 0,
                 "rf_gather_axis: negative shape [outer %lld, axis_len %lld, inner %lld, num_idx %lld]", (long long)outer,
                 (long long)axis_len, (long long)inner, (long long)num_idx);
        RF_CHECK(idx_per_outer == 0 || idx_per_outer == 1, "rf_gather_axis: idx_per_outer = %d must be 0 or 1", idx_per_outer);
        if (outer == 0 || num_idx == 0) return RF_OK;
        RF_CHECK(idx != nullptr, "rf_gather_axis: idx is NULL");
        st = check_indices("rf_gather_axis", idx, idx_dtype, idx_per_outer ? outer * num_idx : num_idx, axis_len, "axis_len");
        if (st != RF_OK || inner == 0) return st;
        RF_CHECK(x != nullptr, "rf_gather_axis: x is NULL");
        RF_CHECK(y != nullptr, "rf_gather_axis: y is NULL");
        RF_DISPATCH(gather_axis, dtype, outer, axis_len, inner, x, idx, idx_dtype, num_idx, idx_per_outer, y);
    });
}

RF_API rf_status rf_gather_elements(rf_stream s, int32_t dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner,
                                    const void *x, const void *idx, int32_t idx_dtype, void *y) {
    RF_ENTRY({
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_gather_elements: dtype %d is not f32, i32, i64 or bool", dtype);
        rf_status st = check_index_dtype("rf_gather_elements", idx_dtype);
        if (st != RF_OK) return st;
        RF_CHECK(outer >= 0 && n_in >= 0 && n_out >= 0 && inner >= 0,
                 "rf_gather_elements: negative shape [outer %lld, n_in %lld, n_out %lld, inner %lld]", (long long)outer,
                 (long long)n_in, (long long)n_out, (long long)inner);
        const int64_t count = outer * n_out * inner;
        if (count == 0) return RF_OK;
        RF_CHECK(idx != nullptr, "rf_gather_elements: idx is NULL");
        st = check_indices("rf_gather_elements", idx, idx_dtype, count, n_in, "n_in");
        if (st != RF_OK) return st;
        RF_CHECK(x != nullptr, "rf_gather_elements: x is NULL");
        RF_CHECK(y != nullptr, "rf_gather_elements: y is NULL");
        RF_DISPATCH(gather_elements, dtype, outer, n_in, n_out, inner, x, idx, idx_dtype, y);
    });
}

RF_API rf_status rf_scatter_nd(rf_stream s, int32_t dtype, int32_t reduction, int32_t data_rank, const int64_t *data_shape,
                               const void *idx, int32_t idx_dtype, int64_t num_updates, int32_t index_depth,
                               const void *updates, void *y) {
    RF_ENTRY({
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_scatter_nd: dtype %d is not f32, i32, i64 or bool", dtype);
        RF_CHECK(reduction >= 0 && reduction <= 4, "rf_scatter_nd: reduction = %d must be 0..4 (none add mul max min)", reduction);
        if (dtype == RF_BOOL && reduction != 0) return rf::fail(RF_ERR_UNSUPPORTED, "rf_scatter_nd: bool supports reduction none only");
        rf_status st = check_index_dtype("rf_scatter_nd", idx_dtype);
        if (st != RF_OK) return st;
        RF_CHECK(data_rank >= 1 && data_rank <= rf::kMaxRank, "rf_scatter_nd: data_rank = %d must be in [1, %d]", data_rank, rf::kMaxRank);
        RF_CHECK(data_shape != nullptr, "rf_scatter_nd: data_shape is NULL");
        RF_CHECK(index_depth >= 1 && index_depth <= data_rank, "rf_scatter_nd: index_depth = %d must be in [1, data_rank = %d]",
                 index_depth, data_rank);
        RF_CHECK(num_updates >= 0, "rf_scatter_nd: num_updates = %lld is negative", (long long)num_updates);
        int64_t slice = 1;
        for (int d = 0; d < data_rank; ++d) {
            RF_CHECK(data_shape[d] >= 0, "rf_scatter_nd: data_shape[%d] = %lld is negative", d, (long long)data_shape[d]);
            if (d >= index_depth) slice *= data_shape[d];
        }
        if (num_updates == 0) return RF_OK;
        RF_CHECK(idx != nullptr, "rf_scatter_nd: idx is NULL");
        for (int64_t u = 0; u < num_updates; ++u)
            for (int d = 0; d < index_depth; ++d) {
                int64_t t = rf::index_at(idx, idx_dtype, u * index_depth + d);
                if (t < -data_shape[d] || t >= data_shape[d])
                    return rf::fail(RF_ERR_OUT_OF_RANGE, "rf_scatter_nd: idx[%lld][%d] = %lld is outside [-%lld, %lld) (data_shape[%d])",
                                    (long long)u, d, (long long)t, (long long)data_shape[d], (long long)data_shape[d], d);
            }
        if (slice == 0) return RF_OK;
        RF_CHECK(updates != nullptr, "rf_scatter_nd: updates is NULL");
        RF_CHECK(y != nullptr, "rf_scatter_nd: y is NULL");
        RF_DISPATCH(scatter_nd, dtype, reduction, data_rank, data_shape, idx, idx_dtype, num_updates, index_depth, updates, y);
    });
}

}  // extern "C"
