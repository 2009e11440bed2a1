// The sequence section on a device backend: jagged softmax / HSTU attention (a
// work-item per (query row, head), online softmax over its visible kv, with its
// log-sum-exp on request), the merge of kv-shard partials (a work-item per
// (row, head)), the norm gate (a work-item per row) and token mixing (a
// work-item per output element).
#include "launch.h"
#include "ops.h"

namespace rf::RF_DISPATCH_NS {

rf_status seq_attention(rf_stream s, const SeqAttnArgs &a) {
    const int64_t q_rows = a.q_offsets[a.batch], kv_rows = a.kv_offsets[a.batch];
    const bool falcon = a.mask == RF_SEQ_MASK_FALCON;
    Launch l(a.pointwise ? "rf_hstu_attention" : "rf_seq_attention", s);
    int bq = l.arg(a.q, span_bytes(q_rows, a.heads * a.d, a.ldq, 4)), bqo = l.arg(a.q_offsets, size_t(a.batch + 1) * 8),
        bk = l.arg(a.k, span_bytes(kv_rows, a.heads * a.d, a.ldk, 4)), bv = l.arg(a.v, span_bytes(kv_rows, a.heads * a.dv, a.ldv, 4)),
        bko = l.arg(a.kv_offsets, size_t(a.batch + 1) * 8), bnc = l.arg(falcon ? a.num_candidates : nullptr, size_t(a.batch) * 8),
        brab = l.arg(a.rab, size_t(a.heads * a.num_buckets) * 4), bqp = l.arg(a.q_pos, size_t(q_rows) * 8),
        bkp = l.arg(a.kv_pos, size_t(kv_rows) * 8), bo = l.arg(a.out, span_bytes(q_rows, a.heads * a.dv, a.ldo, 4)),
        blse = l.arg(a.lse, size_t(q_rows * a.heads) * 4);
    if (l.bind() != RF_OK) return l.status();
    l.run("seq_attention", {a_i64(a.batch), a_i64(a.heads), a_i64(a.d), a_i64(a.dv), a_buf(bq), a_i64(a.ldq), a_buf(bqo), a_buf(bk), a_i64(a.ldk),
                            a_buf(bv), a_i64(a.ldv), a_buf(bko), a_i32(a.mask), a_buf(bnc), a_f32(a.scale), a_buf(brab),
                            a_i64(a.num_buckets), a_buf(bqp), a_buf(bkp), a_i32(a.pointwise ? 1 : 0), a_i64(a.norm_len),
                            a_buf(bo), a_i64(a.ldo), a_buf(blse)},
          size_t(q_rows), 0, size_t(a.heads), 0);
    return l.finish();
}

rf_status attention_merge(rf_stream s, const AttnMergeArgs &a) {
    if (a.rows == 0 || a.heads == 0 || a.dv == 0) return RF_OK;
    Launch l("rf_attention_merge", s);
    const size_t x_bytes = size_t(a.parts - 1) * size_t(a.part_stride) * 4 + span_bytes(a.rows, a.heads * a.dv, a.ldx, 4);
    int bx = l.arg(a.x, x_bytes), blse = l.arg(a.lse, (size_t(a.parts - 1) * size_t(a.lse_stride) + size_t(a.rows * a.heads)) * 4),
        bo = l.arg(a.out, span_bytes(a.rows, a.heads * a.dv, a.ldo, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("attention_merge", {a_i64(a.rows), a_i64(a.heads), a_i64(a.parts), a_i64(a.dv), a_buf(bx), a_i64(a.ldx), a_i64(a.part_stride), a_buf(blse),
                              a_i64(a.lse_stride), a_buf(bo), a_i64(a.ldo)},
          size_t(a.rows), 0, size_t(a.heads), 0);
    return l.finish();
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

}  // namespace rf::RF_DISPATCH_NS
