// The sequence section on OpenCL: jagged softmax / HSTU attention (no lse
// output and no shard merge: those return RF_ERR_UNSUPPORTED) (a work-item
// per (query row, head), online softmax over its visible kv), the norm gate (a
// work-item per row) and token mixing (a work-item per output element).
#include "launch.h"
#include "ops.h"

namespace rf::ocl {

rf_status seq_attention(rf_stream s, const SeqAttnArgs &a) {
    if (a.lse)
        return fail(RF_ERR_UNSUPPORTED, "rf_seq_attention_lse: the OpenCL backend does not return the log-sum-exp (sequence parallelism over kv shards runs on CPU core groups); pass lse = NULL");
    const int64_t q_rows = a.q_offsets[a.batch], kv_rows = a.kv_offsets[a.batch];
    const bool falcon = a.mask == RF_SEQ_MASK_FALCON;
    Launch l(a.pointwise ? "rf_hstu_attention" : "rf_seq_attention", s);
    int bq = l.arg(a.q, span_bytes(q_rows, a.heads * a.d, a.ldq, 4)), bqo = l.arg(a.q_offsets, size_t(a.batch + 1) * 8),
        bk = l.arg(a.k, span_bytes(kv_rows, a.heads * a.d, a.ldk, 4)), bv = l.arg(a.v, span_bytes(kv_rows, a.heads * a.dv, a.ldv, 4)),
        bko = l.arg(a.kv_offsets, size_t(a.batch + 1) * 8), bnc = l.arg(falcon ? a.num_candidates : nullptr, size_t(a.batch) * 8),
        brab = l.arg(a.rab, size_t(a.heads * a.num_buckets) * 4), bqp = l.arg(a.q_pos, size_t(q_rows) * 8),
        bkp = l.arg(a.kv_pos, size_t(kv_rows) * 8), bo = l.arg(a.out, span_bytes(q_rows, a.heads * a.dv, a.ldo, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("seq_attention", {a_i64(a.batch), a_i64(a.d), a_i64(a.dv), a_buf(bq), a_i64(a.ldq), a_buf(bqo), a_buf(bk), a_i64(a.ldk),
                            a_buf(bv), a_i64(a.ldv), a_buf(bko), a_i32(a.mask), a_buf(bnc), a_f32(a.scale), a_buf(brab),
                            a_i64(a.num_buckets), a_buf(bqp), a_buf(bkp), a_i32(a.pointwise ? 1 : 0), a_i64(a.norm_len),
                            a_buf(bo), a_i64(a.ldo)},
          size_t(q_rows), 0, size_t(a.heads), 0);
    return l.finish();
}

// Merging kv-shard partials is a CPU core-group feature (sequence parallelism); an OpenCL device runs one whole sequence.
rf_status attention_merge(rf_stream, const AttnMergeArgs &) {
    return fail(RF_ERR_UNSUPPORTED, "rf_attention_merge: not available on the OpenCL backend (sequence parallelism merges shards on CPU core groups)");
}

rf_status norm_gate(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                    const float *gamma, const float *beta, float eps, float *y, int64_t ldy) {
    Launch l("rf_norm_gate", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), bu = l.arg(u, span_bytes(m, n, ldu, 4)), bg = l.arg(gamma, size_t(n) * 4),
        bb = l.arg(beta, size_t(n) * 4), by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("norm_gate", {a_i64(m), a_i64(n), a_buf(bx), a_i64(ldx), a_buf(bu), a_i64(ldu), a_buf(bg), a_buf(bb), a_f32(eps),
                        a_buf(by), a_i64(ldy)},
          size_t(m), 0);
    return l.finish();
}

rf_status token_mix(rf_stream s, int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y,
                    int64_t ldy) {
    Launch l("rf_token_mix", s);
    int bx = l.arg(x, span_bytes(m, T * D, ldx, 4)), by = l.arg(y, span_bytes(m, T * D, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("token_mix", {a_i64(m), a_i64(T), a_i64(D), a_i64(H), a_buf(bx), a_i64(ldx), a_buf(by), a_i64(ldy)}, size_t(T * D), 0,
          size_t(m), 0);
    return l.finish();
}

}  // namespace rf::ocl
