// Per-ISA implementations behind the general tensor kernels of rankfn.h
// (arguments, indices and value preconditions already validated by the
// entry points in tensor_*.cpp / matmul_batched.cpp).
#pragma once
#include "tensor_nd.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status unary_nd(int op, int dtype, int rank, const int64_t *shape, const void *x, const int64_t *xs, float alpha,
                       float beta, void *y, const int64_t *ys);
    rf_status binary_nd(int op, int dtype, int rank, const int64_t *shape, const void *a, const int64_t *as,
                        const void *b, const int64_t *bs, void *y, const int64_t *ys);
    rf_status where_nd(int dtype, int rank, const int64_t *shape, const void *c, const int64_t *cs, const void *a,
                       const int64_t *as, const void *b, const int64_t *bs, void *y, const int64_t *ys);
    rf_status cast_nd(int rank, const int64_t *shape, const void *x, int x_dtype, const int64_t *xs, void *y,
                      int y_dtype, const int64_t *ys);
    rf_status reduce_axis(int op, int dtype, int64_t outer, int64_t n, int64_t inner, const void *x, void *y);
    rf_status softmax_axis(int log_softmax, int64_t outer, int64_t n, int64_t inner, const float *x, float *y);
    rf_status matmul_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t sa_b,
                             int64_t sa_m, int64_t sa_k, const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n,
                             float beta, float *y, int64_t sy_b, int64_t sy_m);
    rf_status gather_axis(int dtype, int64_t outer, int64_t axis_len, int64_t inner, const void *x, const void *idx,
                          int idx_dtype, int64_t num_idx, int idx_per_outer, void *y);
    rf_status gather_elements(int dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const void *x,
                              const void *idx, int idx_dtype, void *y);
    rf_status scatter_nd(int dtype, int reduction, int data_rank, const int64_t *data_shape, const void *idx,
                         int idx_dtype, int64_t num_updates, int index_depth, const void *updates, void *y);
    rf_status cumsum_axis(int dtype, int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse,
                          const void *x, void *y);
    rf_status topk_axis(int64_t outer, int64_t n, int64_t inner, int64_t k, int largest, const float *x,
                        float *values, int64_t *indices);)
}
