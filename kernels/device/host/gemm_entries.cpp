// rf_gemm, rf_cross_layer, rf_weight_set_act_groups, rf_weight_set_act_bits and rf_weight_shape on a device backend: the CPU backend's argument
// checks (kernels/cpu/gemm_checks.h), message for message, then the backend's
// enqueue_gemm (gemm.h), through a scratch matrix where the output overlaps an
// input that other work-groups still read.
#include "gemm.h"
#include "../../cpu/gemm_checks.h"

namespace rf::RF_DISPATCH_NS {
namespace {

bool overlaps(const void *a, size_t an, const void *b, size_t bn) {
    const char *x = static_cast<const char *>(a), *y = static_cast<const char *>(b);
    return an && bn && x < y + bn && y < x + an;
}

// A device-only [m][cols] fp32 intermediate.
rf_status scratch_matrix(Launch &l, int64_t m, int64_t cols, Operand *out) {
    DevMem t;
    rf_status st = l.scratch(size_t(m) * size_t(cols > 0 ? cols : 1) * 4, &t);
    *out = {a_mem(t), cols > 0 ? cols : 1};
    return st;
}

}  // namespace
}  // namespace rf::RF_DISPATCH_NS

using namespace rf::RF_DISPATCH_NS;

extern "C" {

RF_API rf_status rf_gemm(rf_stream s, int64_t m, const float *x, int64_t ldx, rf_weight w, const float *bias,
                         int32_t act, const float *residual, int64_t ldr, float *y, int64_t ldy) {
    RF_ENTRY({
        bool empty = false;
        if (rf_status bad = rf::check_gemm(w, m, x, ldx, act, residual, ldr, y, ldy, &empty); bad != RF_OK || empty) return bad;
        const int64_t n = w->n, k = w->k;
        const size_t xn = span_bytes(m, k, ldx, 4), yn = span_bytes(m, n, ldy, 4);
        Launch l("rf_gemm", s);
        int bx = l.arg(x, xn), bb = l.arg(bias, size_t(n) * 4), br = l.arg(residual, span_bytes(m, n, ldr, 4)),
            by = l.arg(y, yn);
        if (l.bind() != RF_OK) return l.status();
        Operand xo{a_buf(bx), ldx}, ro{residual ? a_buf(br) : a_mem(nullptr), ldr}, yo{a_buf(by), ldy};
        if (!overlaps(x, xn, y, yn)) {
            enqueue_gemm(l, m, xo, *w, a_buf(bb), act, Operand{}, ro, yo);
            return l.finish();
        }
        // y overlaps x: other work-groups still read x while one writes y, so go through scratch.
        Operand t;
        if (scratch_matrix(l, m, n, &t) != RF_OK) return l.status();
        enqueue_gemm(l, m, xo, *w, a_buf(bb), act, Operand{}, ro, t);
        l.run("activation", {a_i32(RF_ACT_NONE), a_i64(m), a_i64(n), t.arg, a_i64(t.ld), yo.arg, a_i64(ldy)}, size_t(n), 0,
              size_t(m), 0);
        return l.finish();
    });
}

RF_API rf_status rf_cross_layer(rf_stream s, int64_t m, const float *x0, int64_t ldx0, const float *x, int64_t ldx,
                                rf_weight w, rf_weight u, const float *bias, float *y, int64_t ldy) {
    RF_ENTRY({
        int64_t d = 0, r = 0;
        bool empty = false;
        if (rf_status bad = rf::check_cross(w, u, m, x0, ldx0, x, ldx, y, ldy, &d, &r, &empty); bad != RF_OK || empty) return bad;
        const size_t xn = span_bytes(m, d, ldx, 4), yn = span_bytes(m, d, ldy, 4);
        Launch l("rf_cross_layer", s);
        int b0 = l.arg(x0, span_bytes(m, d, ldx0, 4)), bx = l.arg(x, xn), bb = l.arg(bias, size_t(d) * 4),
            by = l.arg(y, yn);
        if (l.bind() != RF_OK) return l.status();
        Operand x0o{a_buf(b0), ldx0}, xo{a_buf(bx), ldx}, yo{a_buf(by), ldy};
        if (u != nullptr) {  // v = V·x into scratch, then y = x0 ⊙ (U·v + b) + x (element-local epilogue)
            Operand v;
            if (scratch_matrix(l, m, r, &v) != RF_OK) return l.status();
            if (r > 0) enqueue_gemm(l, m, xo, *w, a_mem(nullptr), RF_ACT_NONE, Operand{}, Operand{}, v);
            enqueue_gemm(l, m, v, *u, a_buf(bb), RF_ACT_NONE, x0o, xo, yo);
            return l.finish();
        }
        if (!overlaps(x, xn, y, yn)) {
            enqueue_gemm(l, m, xo, *w, a_buf(bb), RF_ACT_NONE, x0o, xo, yo);
            return l.finish();
        }
        Operand t;  // in place: t = W·x + b first, then y = x0 ⊙ t + x
        if (scratch_matrix(l, m, d, &t) != RF_OK) return l.status();
        enqueue_gemm(l, m, xo, *w, a_buf(bb), RF_ACT_NONE, Operand{}, Operand{}, t);
        l.run("cross_combine", {a_i64(m), a_i64(d), x0o.arg, a_i64(ldx0), t.arg, a_i64(t.ld), xo.arg, a_i64(ldx), yo.arg,
                                a_i64(ldy)},
              size_t(d), 0, size_t(m), 0);
        return l.finish();
    });
}

// Device GEMMs keep X in fp32 (int8 weights are widened): activation groups are
// checked like the CPU backend's, then have nothing to change.
RF_API rf_status rf_weight_set_act_groups(rf_weight w, int32_t num_groups, const int64_t *bounds) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_set_act_groups: weight handle is NULL");
        return rf::check_act_groups(w->dtype, w->k, num_groups, bounds);
    });
}

// X keeps fp32 here (int16 levels on CUDA through cuBLASLt): as many levels as any rf_weight_set_act_bits asks for.
RF_API rf_status rf_weight_set_act_bits(rf_weight w, int32_t bits) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_set_act_bits: weight handle is NULL");
        return rf::check_act_bits(w->dtype, bits);
    });
}

RF_API rf_status rf_weight_shape(rf_weight w, int64_t *n, int64_t *k, int32_t *dtype) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_shape: weight handle is NULL");
        if (n) *n = w->n;
        if (k) *k = w->k;
        if (dtype) *dtype = w->dtype;
        return RF_OK;
    });
}

}  // extern "C"
