// Scalar reference of rf_gather_axis / rf_gather_elements / rf_scatter_nd
// (indices already range-checked): one element at a time, in index order.
#include "tensor_ops.h"
#include "tensor_scalar.h"

namespace rf::ref {
namespace {

int64_t wrap_index(int64_t t, int64_t len) { return t < 0 ? t + len : t; }

template <class T>
void gather_axis_typed(int64_t outer, int64_t axis_len, int64_t inner, const T *x, const void *idx, int idx_dtype,
                       int64_t num_idx, int per_outer, T *y) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < num_idx; ++j) {
            int64_t t = wrap_index(index_at(idx, idx_dtype, (per_outer ? o * num_idx : 0) + j), axis_len);
            for (int64_t i = 0; i < inner; ++i) y[(o * num_idx + j) * inner + i] = x[(o * axis_len + t) * inner + i];
        }
}

template <class T>
void gather_elements_typed(int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const T *x, const void *idx,
                           int idx_dtype, T *y) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < n_out; ++j)
            for (int64_t i = 0; i < inner; ++i) {
                int64_t at = (o * n_out + j) * inner + i;
                y[at] = x[(o * n_in + wrap_index(index_at(idx, idx_dtype, at), n_in)) * inner + i];
            }
}

template <class T>
T scatter_combine(int reduction, T old, T v) {
    switch (reduction) {
    case 1: if constexpr (std::is_same_v<T, float>) return old + v; else return wrap_add(old, v);
    case 2: if constexpr (std::is_same_v<T, float>) return old * v; else return wrap_mul(old, v);
    case 3: return max_nan(old, v);
    case 4: return min_nan(old, v);
    default: return v;
    }
}

template <class T>
void scatter_nd_typed(int reduction, int data_rank, const int64_t *shape, const void *idx, int idx_dtype,
                      int64_t num_updates, int depth, const T *updates, T *y) {
    int64_t slice = 1;
    for (int d = depth; d < data_rank; ++d) slice *= shape[d];
    for (int64_t u = 0; u < num_updates; ++u) {
        int64_t base = 0;
        for (int d = 0; d < depth; ++d) base = base * shape[d] + wrap_index(index_at(idx, idx_dtype, u * depth + d), shape[d]);
        base *= slice;
        for (int64_t e = 0; e < slice; ++e) y[base + e] = scatter_combine(reduction, y[base + e], updates[u * slice + e]);
    }
}

}  // namespace

#define RF_BY_DTYPE(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case RF_F32: { using T = float; CALL; break; }                   \
    case RF_I32: { using T = int32_t; CALL; break; }                 \
    case RF_I64: { using T = int64_t; CALL; break; }                 \
    default: { using T = uint8_t; CALL; break; }                     \
    }

rf_status gather_axis(int dtype, int64_t outer, int64_t axis_len, int64_t inner, const void *x, const void *idx,
                      int idx_dtype, int64_t num_idx, int idx_per_outer, void *y) {
    RF_BY_DTYPE(dtype, gather_axis_typed(outer, axis_len, inner, static_cast<const T *>(x), idx, idx_dtype, num_idx,
                                         idx_per_outer, static_cast<T *>(y)))
    return RF_OK;
}

rf_status gather_elements(int dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const void *x,
                          const void *idx, int idx_dtype, void *y) {
    RF_BY_DTYPE(dtype, gather_elements_typed(outer, n_in, n_out, inner, static_cast<const T *>(x), idx, idx_dtype,
                                             static_cast<T *>(y)))
    return RF_OK;
}

rf_status scatter_nd(int dtype, int reduction, int data_rank, const int64_t *data_shape, const void *idx, int idx_dtype,
                     int64_t num_updates, int index_depth, const void *updates, void *y) {
    RF_BY_DTYPE(dtype, scatter_nd_typed(reduction, data_rank, data_shape, idx, idx_dtype, num_updates, index_depth,
                                        static_cast<const T *>(updates), static_cast<T *>(y)))
    return RF_OK;
}

}  // namespace rf::ref
