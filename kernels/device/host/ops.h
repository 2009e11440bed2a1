// The device-backend implementations behind the CPU backend's entry points,
// which the OpenCL (rf::ocl) and CUDA (rf::cuda) libraries reuse verbatim for
// argument checking (their builds compile them with -DRF_DISPATCH_NS=<ns> and
// force-include this header). Written once against the backend's launch.h
// (found on the include path: kernels/opencl/ or kernels/cuda/). Arguments
// arrive validated, every index range-checked; each function resolves its
// pointers, enqueues its kernels on stream s and waits when s is NULL.
#pragma once
#include "backend.h"

#include "../../cpu/dot_interaction.h"
#include "../../cpu/elementwise.h"
#include "../../cpu/embedding_bag.h"
#include "../../cpu/gather_scatter.h"
#include "../../cpu/norms.h"
#include "../../cpu/recurrent.h"
#include "../../cpu/sequence_attention.h"
#include "../../cpu/sequence_rows.h"
#include "../../cpu/target_attention.h"
#include "../../cpu/tensor_ops.h"
#include "../../cpu/topk.h"

namespace rf::RF_DISPATCH_NS {

rf_status embedding_bags(rf_stream s, const BagJob *jobs, int num_jobs, int64_t num_bags);
rf_status dot_interaction(rf_stream s, int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx,
                          int32_t concat_dense, int32_t self_interaction, float *out, int64_t ldo);
rf_status layer_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma,
                     const float *beta, float eps, float *y, int64_t ldy);
rf_status rms_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps,
                   float *y, int64_t ldy);
rf_status softmax(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy);
rf_status gru_sequence(rf_stream s, int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt,
                       const float *rb, const float *h0, int64_t ldh0, int32_t linear_before_reset, int32_t reverse, float *y,
                       int64_t ldy);
rf_status topk(rf_stream s, int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values,
               int32_t *indices, int64_t ldk);
rf_status target_attention(rf_stream s, const AttentionArgs &a);
rf_status gather_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                      const float *weights, float *dst, int64_t ldd);
rf_status scatter_add_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                           const float *weights, float *dst, int64_t ldd, int64_t dst_rows);
rf_status binary(rf_stream s, int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *y, int64_t ldy);
rf_status activation(rf_stream s, int act, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy);
// The sequence section (ops_sequence.cpp).
rf_status seq_attention(rf_stream s, const SeqAttnArgs &a);
rf_status attention_merge(rf_stream s, const AttnMergeArgs &a);
rf_status norm_gate(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                    const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
rf_status token_mix(rf_stream s, int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y,
                    int64_t ldy);

// General tensor kernels (ops_tensor.cpp).
rf_status unary_nd(rf_stream s, int op, int dtype, int rank, const int64_t *shape, const void *x, const int64_t *xs,
                   float alpha, float beta, void *y, const int64_t *ys);
rf_status binary_nd(rf_stream s, int op, int dtype, int rank, const int64_t *shape, const void *a, const int64_t *as,
                    const void *b, const int64_t *bs, void *y, const int64_t *ys);
rf_status where_nd(rf_stream s, int dtype, int rank, const int64_t *shape, const void *c, const int64_t *cs, const void *a,
                   const int64_t *as, const void *b, const int64_t *bs, void *y, const int64_t *ys);
rf_status cast_nd(rf_stream s, int rank, const int64_t *shape, const void *x, int x_dtype, const int64_t *xs, void *y,
                  int y_dtype, const int64_t *ys);
rf_status reduce_axis(rf_stream s, int op, int dtype, int64_t outer, int64_t n, int64_t inner, const void *x, void *y);
rf_status softmax_axis(rf_stream s, int log_softmax, int64_t outer, int64_t n, int64_t inner, const float *x, float *y);
rf_status matmul_batched(rf_stream s, int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t sa_b,
                         int64_t sa_m, int64_t sa_k, const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n, float beta,
                         float *y, int64_t sy_b, int64_t sy_m);
rf_status gather_axis(rf_stream s, int dtype, int64_t outer, int64_t axis_len, int64_t inner, const void *x,
                      const void *idx, int idx_dtype, int64_t num_idx, int idx_per_outer, void *y);
rf_status gather_elements(rf_stream s, int dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const void *x,
                          const void *idx, int idx_dtype, void *y);
rf_status scatter_nd(rf_stream s, int dtype, int reduction, int data_rank, const int64_t *data_shape, const void *idx,
                     int idx_dtype, int64_t num_updates, int index_depth, const void *updates, void *y);
rf_status cumsum_axis(rf_stream s, int dtype, int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse,
                      const void *x, void *y);
rf_status topk_axis(rf_stream s, int64_t outer, int64_t n, int64_t inner, int64_t k, int largest, const float *x,
                    float *values, int64_t *indices);

}  // namespace rf::RF_DISPATCH_NS
