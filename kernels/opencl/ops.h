// The OpenCL implementations behind the CPU backend's entry points, which this
// backend reuses verbatim for argument checking (kernels/build.ts compiles
// them with -DRF_DISPATCH_NS=ocl and force-includes this header). Arguments
// arrive validated, every index range-checked; each function resolves its
// pointers, enqueues its kernels on stream s and waits when s is NULL.
#pragma once
#include "backend.h"

#include "../cpu/dot_interaction.h"
#include "../cpu/elementwise.h"
#include "../cpu/embedding_bag.h"
#include "../cpu/gather_scatter.h"
#include "../cpu/norms.h"
#include "../cpu/sequence_attention.h"
#include "../cpu/sequence_rows.h"
#include "../cpu/target_attention.h"
#include "../cpu/topk.h"

namespace rf::ocl {

rf_status embedding_bags(rf_stream s, const BagJob *jobs, int num_jobs, int64_t num_bags);
rf_status dot_interaction(rf_stream s, int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx,
                          int32_t concat_dense, int32_t self_interaction, float *out, int64_t ldo);
rf_status layer_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma,
                     const float *beta, float eps, float *y, int64_t ldy);
rf_status rms_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps,
                   float *y, int64_t ldy);
rf_status softmax(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy);
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
rf_status norm_gate(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                    const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
rf_status token_mix(rf_stream s, int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y,
                    int64_t ldy);

}  // namespace rf::ocl
