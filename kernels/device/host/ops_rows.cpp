// Row-wise and elementwise ops: interaction, norms, softmax, top-k, binary,
// activation. One launch each; work-group sizes are left to the driver (a
// work-item per row or element, no local memory).
#include "launch.h"
#include "ops.h"

namespace rf::RF_DISPATCH_NS {

rf_status dot_interaction(rf_stream s, int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx,
                          int32_t concat_dense, int32_t self_interaction, float *out, int64_t ldo) {
    const int64_t width = (concat_dense ? d : 0) + (self_interaction ? f * (f + 1) / 2 : f * (f - 1) / 2);
    Launch l("rf_dot_interaction", s);
    int bx = l.arg(x, span_bytes(m, f * d, ldx, 4)), by = l.arg(out, span_bytes(m, width, ldo, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("dot_interaction", {a_i64(m), a_i64(f), a_i64(d), a_buf(bx), a_i64(ldx), a_i32(concat_dense),
                              a_i32(self_interaction), a_buf(by), a_i64(ldo), a_i64(width)},
          size_t(width), 0, size_t(m), 0);
    return l.finish();
}

rf_status gru_sequence(rf_stream s, int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt,
                       const float *rb, const float *h0, int64_t ldh0, int32_t linear_before_reset, int32_t reverse, float *y,
                       int64_t ldy) {
    // device/recurrent.cl keeps the state in private arrays of 256 floats.
    if (h > 256) return fail(RF_ERR_UNSUPPORTED, "rf_gru_sequence: h = %lld > 256 is not supported on " RF_BACKEND_NAME, (long long)h);
    Launch l("rf_gru_sequence", s);
    int bg = l.arg(gx, span_bytes(m, steps * 3 * h, ldgx, 4)), br = l.arg(rt, size_t(h * 3 * h) * 4),
        bb = l.arg(rb, size_t(3 * h) * 4), bh = l.arg(h0, span_bytes(m, h, ldh0, 4)), by = l.arg(y, span_bytes(m, steps * h, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("gru_sequence", {a_i64(m), a_i64(steps), a_i64(h), a_buf(bg), a_i64(ldgx), a_buf(br), a_buf(bb), a_buf(bh), a_i64(ldh0),
                           a_i32(linear_before_reset), a_i32(reverse), a_buf(by), a_i64(ldy)},
          size_t(m), 0);
    return l.finish();
}

rf_status layer_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma,
                     const float *beta, float eps, float *y, int64_t ldy) {
    Launch l("rf_layer_norm", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), bg = l.arg(gamma, size_t(n) * 4), bb = l.arg(beta, size_t(n) * 4),
        by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("layer_norm", {a_i64(m), a_i64(n), a_buf(bx), a_i64(ldx), a_buf(bg), a_buf(bb), a_f32(eps), a_buf(by), a_i64(ldy)},
          size_t(m), 0);
    return l.finish();
}

rf_status rms_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps,
                   float *y, int64_t ldy) {
    Launch l("rf_rms_norm", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), bg = l.arg(gamma, size_t(n) * 4), by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("rms_norm", {a_i64(m), a_i64(n), a_buf(bx), a_i64(ldx), a_buf(bg), a_f32(eps), a_buf(by), a_i64(ldy)}, size_t(m), 0);
    return l.finish();
}

rf_status softmax(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    Launch l("rf_softmax", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("softmax", {a_i64(m), a_i64(n), a_buf(bx), a_i64(ldx), a_buf(by), a_i64(ldy)}, size_t(m), 0);
    return l.finish();
}

rf_status topk(rf_stream s, int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values,
               int32_t *indices, int64_t ldk) {
    Launch l("rf_topk", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), bv = l.arg(values, span_bytes(m, k, ldk, 4)),
        bi = l.arg(indices, span_bytes(m, k, ldk, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("topk", {a_i64(m), a_i64(n), a_i64(k), a_buf(bx), a_i64(ldx), a_buf(bv), a_buf(bi), a_i64(ldk)}, size_t(m), 0);
    return l.finish();
}

rf_status binary(rf_stream s, int op, int64_t m, int64_t n, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *y, int64_t ldy) {
    Launch l("rf_binary", s);
    int ba = l.arg(a, span_bytes(m, n, lda, 4)), bb = l.arg(b, span_bytes(ldb == 0 ? 1 : m, n, ldb, 4)),
        by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("binary", {a_i32(op), a_i64(m), a_i64(n), a_buf(ba), a_i64(lda), a_buf(bb), a_i64(ldb), a_buf(by), a_i64(ldy)},
          size_t(n), 0, size_t(m), 0);
    return l.finish();
}

rf_status activation(rf_stream s, int act, int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    Launch l("rf_activation", s);
    int bx = l.arg(x, span_bytes(m, n, ldx, 4)), by = l.arg(y, span_bytes(m, n, ldy, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("activation", {a_i32(act), a_i64(m), a_i64(n), a_buf(bx), a_i64(ldx), a_buf(by), a_i64(ldy)}, size_t(n), 0,
          size_t(m), 0);
    return l.finish();
}

}  // namespace rf::RF_DISPATCH_NS
