// rf_weight_pack / rf_weight_shape / rf_weight_free / rf_gemm / rf_cross_layer
// on OpenCL. Argument checks are the CPU backend's (kernels/cpu/gemm.cpp,
// cross.cpp), message for message; the weight lives on the device as W [n][k]
// in its own dtype (plus fp32 scales for int8) and is widened inside the tiled
// kernel (kernels/opencl/cl/gemm.cl).
#include "launch.h"
#include "../cpu/gemm_checks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace rf::ocl {
namespace {

const char *gemm_kernel(int dtype, bool columns) {
    if (columns) return dtype == RF_BF16 ? "gemm_cols_bf16" : dtype == RF_I8 ? "gemm_cols_i8" : "gemm_cols_f32";
    return dtype == RF_BF16 ? "gemm_bf16" : dtype == RF_I8 ? "gemm_i8" : "gemm_f32";
}

// W [n][k] -> panels of 16 output columns, panel p = [k][16] (zero-padded past n):
// packed[(p*k + l)*16 + c] = W[p*16 + c][l], for the column kernels.
std::vector<char> panels_of_16(const void *w, int64_t n, int64_t k, size_t eb) {
    const size_t np = size_t(n + 15) / 16 * 16;
    std::vector<char> t(np * size_t(k) * eb, 0);
    const char *src = static_cast<const char *>(w);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t l = 0; l < k; ++l)
            std::memcpy(&t[((size_t(j / 16) * size_t(k) + size_t(l)) * 16 + size_t(j % 16)) * eb],
                        src + (size_t(j) * size_t(k) + size_t(l)) * eb, eb);
    return t;
}

struct Operand {
    KArg arg = a_mem(nullptr);
    int64_t ld = 0;
};

// Y = act(X·Wᵀ + bias) * mul + res over an [m][n] output: one launch.
rf_status enqueue_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act,
                       const Operand &mul, const Operand &res, const Operand &y) {
    std::initializer_list<KArg> args = {a_i64(m),   a_i64(w.n), a_i64(w.k), x.arg,        a_i64(x.ld),
                                        a_mem(w.w), a_mem(w.scales), bias,  a_i32(act),   mul.arg,
                                        a_i64(mul.ld), res.arg,   a_i64(res.ld), y.arg,      a_i64(y.ld)};
    if (w.columns) {  // a work-item per block of 4 rows x 16 columns
        // Groups of up to 16 row blocks sharing a column block of W, yet enough
        // groups to occupy every compute unit (~4 each) even for a GEMV.
        const size_t rows = (size_t(m) + 3) / 4, cols = (size_t(w.n) + 15) / 16;
        const size_t want = 4 * size_t(std::max(1, l.device().compute_units));
        size_t lr = std::min<size_t>({16, l.device().max_work_group, std::max<size_t>(1, rows * cols / want)});
        if (lr > rows) lr = rows;
        return l.run(gemm_kernel(w.dtype, true), args, rows, lr, cols, 1);
    }
    const size_t wg = size_t(l.platform().gemm_wg), tile = 2 * wg;
    const size_t groups_n = (size_t(w.n) + tile - 1) / tile, groups_m = (size_t(m) + tile - 1) / tile;
    return l.run(gemm_kernel(w.dtype, false), args, groups_n * wg, wg, groups_m * wg, wg);
}

bool overlaps(const void *a, size_t an, const void *b, size_t bn) {
    const char *x = static_cast<const char *>(a), *y = static_cast<const char *>(b);
    return an && bn && x < y + bn && y < x + an;
}

// A device-only [m][cols] fp32 intermediate.
rf_status scratch_matrix(Launch &l, int64_t m, int64_t cols, Operand *out) {
    cl_mem t;
    rf_status st = l.scratch(size_t(m) * size_t(cols > 0 ? cols : 1) * 4, &t);
    *out = {a_mem(t), cols > 0 ? cols : 1};
    return st;
}

rf_status check_device(const char *who, int32_t device) {
    rf_status st = RF_OK;
    Platform *p = platform(who, &st);
    if (!p) return st;
    int n = int(p->devices.size());
    RF_CHECK(device >= 0 && device < n, "%s: device %d is outside [0, %d)", who, device, n);
    return RF_OK;
}

}  // namespace
}  // namespace rf::ocl

using namespace rf::ocl;

extern "C" {

RF_API rf_status rf_weight_pack(int32_t device, int32_t dtype, int64_t n, int64_t k, const void *w,
                                const float *scales, rf_weight *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_weight_pack: out is NULL");
        *out = nullptr;
        rf_status st = check_device("rf_weight_pack", device);
        if (st != RF_OK) return st;
        if (rf_status bad = rf::check_weight_pack(dtype, n, k, w, scales); bad != RF_OK) return bad;
        Platform *p = platform("rf_weight_pack", &st);
        const size_t eb = dtype == RF_I8 ? 1 : dtype == RF_BF16 ? 2 : 4;
        const size_t bytes = size_t(p->cpu_kernels ? (n + 15) / 16 * 16 : n) * size_t(k) * eb;
        auto h = std::make_unique<rf_weight_s>(rf_weight_s{dtype, device, n, k, p->cpu_kernels, nullptr, nullptr});
        std::vector<char> t;
        if (h->columns && bytes) t = panels_of_16(w, n, k, eb);
        cl_int err;
        // COPY_HOST_PTR: the weight is the device's own copy; W may be freed afterwards.
        h->w = clCreateBuffer(p->context, CL_MEM_READ_ONLY | (bytes ? CL_MEM_COPY_HOST_PTR : 0), bytes ? bytes : 4,
                              bytes ? (h->columns ? static_cast<void *>(t.data()) : const_cast<void *>(w)) : nullptr, &err);
        if (err != CL_SUCCESS) return cl_fail("rf_weight_pack", "clCreateBuffer", err);
        if (dtype == RF_I8 && n > 0) {
            h->scales = clCreateBuffer(p->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, size_t(n) * 4,
                                       const_cast<float *>(scales), &err);
            if (err != CL_SUCCESS) {
                clReleaseMemObject(h->w);
                return cl_fail("rf_weight_pack", "clCreateBuffer(scales)", err);
            }
        }
        *out = h.release();
        return RF_OK;
    });
}

// The OpenCL GEMM widens int8 weights to fp32 and keeps X in fp32: activation groups are
// checked like the CPU backend's, then have nothing to change.
RF_API rf_status rf_weight_set_act_groups(rf_weight w, int32_t num_groups, const int64_t *bounds) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_set_act_groups: weight handle is NULL");
        return rf::check_act_groups(w->dtype, w->k, num_groups, bounds);
    });
}

// X stays fp32 here too: at least as many bits as any rf_weight_set_act_bits asks for.
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

RF_API rf_status rf_weight_free(rf_weight w) {
    if (!w) return RF_OK;
    clReleaseMemObject(w->w);
    if (w->scales) clReleaseMemObject(w->scales);
    delete w;
    return RF_OK;
}

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

}  // extern "C"
