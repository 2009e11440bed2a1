// The general tensor kernels on a device backend (kernels/device/tensor.cl and
// tensor_axis.cl): one launch each. A strided operand is declared as the byte
// range its elements span (negative strides reach below its pointer) and
// passed to the kernel at element (0, …, 0); shapes and strides travel by
// value in an NdArgs struct.
#include "launch.h"
#include "ops.h"

#include "../../cpu/tensor_scalar.h"

#include <cstdio>

namespace rf::RF_DISPATCH_NS {
namespace {

// Must match NdArgs in device/tensor.cl.
struct NdArgs {
    int64_t shape[8] = {};
    int64_t st[4][8] = {};
    int32_t rank = 0;
    int32_t pad = 0;
};

NdArgs nd_args(int rank, const int64_t *shape, std::initializer_list<const int64_t *> strides) {
    NdArgs a;
    a.rank = rank;
    for (int d = 0; d < rank; ++d) a.shape[d] = shape[d];
    int k = 0;
    for (const int64_t *s : strides) {
        for (int d = 0; d < rank; ++d) a.st[k][d] = s[d];
        ++k;
    }
    return a;
}

int64_t numel_of(int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
}

// A strided operand: its declared argument and the byte offset of element (0, …, 0) within it.
struct Strided {
    int buf;
    size_t extra;
};

Strided strided_arg(Launch &l, const void *p, int rank, const int64_t *shape, const int64_t *st, size_t elem) {
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < rank; ++d) {
        const int64_t span = (shape[d] - 1) * st[d];
        if (span < 0) lo += span;
        else hi += span;
    }
    const char *base = static_cast<const char *>(p) + lo * int64_t(elem);
    return {l.arg(base, size_t(hi - lo + 1) * elem), size_t(-lo) * elem};
}

const char *type_name(int dtype) { return dtype_name(dtype); }

}  // namespace

rf_status unary_nd(rf_stream s, int op, int dtype, int rank, const int64_t *shape, const void *x, const int64_t *xs,
                   float alpha, float beta, void *y, const int64_t *ys) {
    Launch l("rf_unary_nd", s);
    const size_t ex = size_t(dtype_size(dtype)), ey = op == RF_UNARY_ISNAN ? 1 : ex;
    Strided bx = strided_arg(l, x, rank, shape, xs, ex), by = strided_arg(l, y, rank, shape, ys, ey);
    if (l.bind() != RF_OK) return l.status();
    const NdArgs a = nd_args(rank, shape, {xs, ys});
    const int64_t n = numel_of(rank, shape);
    const KArg la = a_bytes(&a, sizeof a), X = l.at(bx.buf, bx.extra), Y = l.at(by.buf, by.extra);
    if (dtype == RF_F32 && op == RF_UNARY_ISNAN) l.run("unary_isnan", {la, a_i64(n), X, Y}, size_t(n), 0);
    else if (dtype == RF_F32) l.run("unary_f32", {la, a_i64(n), a_i32(op), a_f32(alpha), a_f32(beta), X, Y}, size_t(n), 0);
    else if (dtype == RF_BOOL) l.run("unary_not", {la, a_i64(n), X, Y}, size_t(n), 0);
    else if (dtype == RF_I32)
        l.run("unary_i32", {la, a_i64(n), a_i32(op), a_i32(clip_bound<int32_t>(alpha)), a_i32(clip_bound<int32_t>(beta)), X, Y}, size_t(n), 0);
    else
        l.run("unary_i64", {la, a_i64(n), a_i32(op), a_i64(clip_bound<int64_t>(alpha)), a_i64(clip_bound<int64_t>(beta)), X, Y}, size_t(n), 0);
    return l.finish();
}

rf_status binary_nd(rf_stream s, int op, int dtype, int rank, const int64_t *shape, const void *a, const int64_t *as,
                    const void *b, const int64_t *bs, void *y, const int64_t *ys) {
    Launch l("rf_binary_nd", s);
    const size_t e = size_t(dtype_size(dtype)), ey = op >= RF_BIN_EQ ? 1 : e;
    Strided ba = strided_arg(l, a, rank, shape, as, e), bb = strided_arg(l, b, rank, shape, bs, e),
            by = strided_arg(l, y, rank, shape, ys, ey);
    if (l.bind() != RF_OK) return l.status();
    const NdArgs args = nd_args(rank, shape, {as, bs, ys});
    const int64_t n = numel_of(rank, shape);
    char name[32];
    std::snprintf(name, sizeof name, "binary_%s", type_name(dtype));
    const KArg Y = l.at(by.buf, by.extra);
    l.run(name, {a_bytes(&args, sizeof args), a_i64(n), a_i32(op), l.at(ba.buf, ba.extra), l.at(bb.buf, bb.extra), Y, Y}, size_t(n), 0);
    return l.finish();
}

rf_status where_nd(rf_stream s, int dtype, int rank, const int64_t *shape, const void *c, const int64_t *cs, const void *a,
                   const int64_t *as, const void *b, const int64_t *bs, void *y, const int64_t *ys) {
    Launch l("rf_where_nd", s);
    const size_t e = size_t(dtype_size(dtype));
    Strided bc = strided_arg(l, c, rank, shape, cs, 1), ba = strided_arg(l, a, rank, shape, as, e),
            bb = strided_arg(l, b, rank, shape, bs, e), by = strided_arg(l, y, rank, shape, ys, e);
    if (l.bind() != RF_OK) return l.status();
    const NdArgs args = nd_args(rank, shape, {cs, as, bs, ys});
    const int64_t n = numel_of(rank, shape);
    const char *name = e == 1 ? "where_1" : e == 4 ? "where_4" : "where_8";
    l.run(name, {a_bytes(&args, sizeof args), a_i64(n), l.at(bc.buf, bc.extra), l.at(ba.buf, ba.extra), l.at(bb.buf, bb.extra), l.at(by.buf, by.extra)},
          size_t(n), 0);
    return l.finish();
}

rf_status cast_nd(rf_stream s, int rank, const int64_t *shape, const void *x, int x_dtype, const int64_t *xs, void *y,
                  int y_dtype, const int64_t *ys) {
    Launch l("rf_cast_nd", s);
    Strided bx = strided_arg(l, x, rank, shape, xs, size_t(dtype_size(x_dtype))),
            by = strided_arg(l, y, rank, shape, ys, size_t(dtype_size(y_dtype)));
    if (l.bind() != RF_OK) return l.status();
    const NdArgs args = nd_args(rank, shape, {xs, ys});
    const int64_t n = numel_of(rank, shape);
    char name[32];
    std::snprintf(name, sizeof name, "cast_%s_%s", type_name(x_dtype), type_name(y_dtype));
    l.run(name, {a_bytes(&args, sizeof args), a_i64(n), l.at(bx.buf, bx.extra), l.at(by.buf, by.extra)}, size_t(n), 0);
    return l.finish();
}

rf_status reduce_axis(rf_stream s, int op, int dtype, int64_t outer, int64_t n, int64_t inner, const void *x, void *y) {
    Launch l("rf_reduce", s);
    const size_t e = size_t(dtype_size(dtype));
    const bool arg = op == RF_REDUCE_ARGMAX || op == RF_REDUCE_ARGMIN;
    int bx = l.arg(x, size_t(outer * n * inner) * e), by = l.arg(y, size_t(outer * inner) * (arg ? 8 : e));
    if (l.bind() != RF_OK) return l.status();
    char name[32];
    std::snprintf(name, sizeof name, "reduce_%s", type_name(dtype));
    l.run(name, {a_i32(op), a_i64(outer), a_i64(n), a_i64(inner), a_buf(bx), a_buf(by), a_buf(by)}, size_t(inner), 0, size_t(outer), 0);
    return l.finish();
}

rf_status softmax_axis(rf_stream s, int log_softmax, int64_t outer, int64_t n, int64_t inner, const float *x, float *y) {
    Launch l("rf_softmax_axis", s);
    const size_t bytes = size_t(outer * n * inner) * 4;
    int bx = l.arg(x, bytes), by = l.arg(y, bytes);
    if (l.bind() != RF_OK) return l.status();
    l.run("softmax_axis", {a_i32(log_softmax), a_i64(outer), a_i64(n), a_i64(inner), a_buf(bx), a_buf(by)}, size_t(inner), 0,
          size_t(outer), 0);
    return l.finish();
}

rf_status matmul_batched(rf_stream s, int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t sa_b,
                         int64_t sa_m, int64_t sa_k, const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n, float beta,
                         float *y, int64_t sy_b, int64_t sy_m) {
    Launch l("rf_matmul_batched", s);
    const int64_t ash[3] = {batch, m, k}, ast[3] = {sa_b, sa_m, sa_k};
    const int64_t bsh[3] = {batch, k, n}, bst[3] = {sb_b, sb_k, sb_n};
    const int64_t ysh[3] = {batch, m, n}, yst[3] = {sy_b, sy_m, 1};
    const bool has_k = k > 0;
    Strided ba = has_k ? strided_arg(l, a, 3, ash, ast, 4) : Strided{l.arg(nullptr, 0), 0};
    Strided bb = has_k ? strided_arg(l, b, 3, bsh, bst, 4) : Strided{l.arg(nullptr, 0), 0};
    Strided by = strided_arg(l, y, 3, ysh, yst, 4);
    if (l.bind() != RF_OK) return l.status();
    l.run("matmul_batched", {a_i64(batch), a_i64(m), a_i64(n), a_i64(k), l.at(ba.buf, ba.extra), a_i64(sa_b), a_i64(sa_m), a_i64(sa_k),
                             l.at(bb.buf, bb.extra), a_i64(sb_b), a_i64(sb_k), a_i64(sb_n), a_f32(beta), l.at(by.buf, by.extra), a_i64(sy_b), a_i64(sy_m)},
          size_t(n), 0, size_t(m * batch), 0);
    return l.finish();
}

rf_status gather_axis(rf_stream s, int dtype, int64_t outer, int64_t axis_len, int64_t inner, const void *x,
                      const void *idx, int idx_dtype, int64_t num_idx, int idx_per_outer, void *y) {
    Launch l("rf_gather_axis", s);
    const size_t e = size_t(dtype_size(dtype)), ei = idx_dtype == RF_I32 ? 4 : 8;
    int bx = l.arg(x, size_t(outer * axis_len * inner) * e), bi = l.arg(idx, size_t(idx_per_outer ? outer * num_idx : num_idx) * ei),
        by = l.arg(y, size_t(outer * num_idx * inner) * e);
    if (l.bind() != RF_OK) return l.status();
    const char *name = e == 1 ? "gather_axis_1" : e == 4 ? "gather_axis_4" : "gather_axis_8";
    l.run(name, {a_i64(outer), a_i64(axis_len), a_i64(inner), a_buf(bx), a_buf(bi), a_i32(idx_dtype), a_i64(num_idx), a_i32(idx_per_outer), a_buf(by)},
          size_t(outer * num_idx * inner), 0);
    return l.finish();
}

rf_status gather_elements(rf_stream s, int dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const void *x,
                          const void *idx, int idx_dtype, void *y) {
    Launch l("rf_gather_elements", s);
    const size_t e = size_t(dtype_size(dtype)), ei = idx_dtype == RF_I32 ? 4 : 8;
    const int64_t count = outer * n_out * inner;
    int bx = l.arg(x, size_t(outer * n_in * inner) * e), bi = l.arg(idx, size_t(count) * ei), by = l.arg(y, size_t(count) * e);
    if (l.bind() != RF_OK) return l.status();
    const char *name = e == 1 ? "gather_elements_1" : e == 4 ? "gather_elements_4" : "gather_elements_8";
    l.run(name, {a_i64(outer), a_i64(n_in), a_i64(n_out), a_i64(inner), a_buf(bx), a_buf(bi), a_i32(idx_dtype), a_buf(by)}, size_t(count), 0);
    return l.finish();
}

rf_status scatter_nd(rf_stream s, int dtype, int reduction, int data_rank, const int64_t *data_shape, const void *idx,
                     int idx_dtype, int64_t num_updates, int index_depth, const void *updates, void *y) {
    Launch l("rf_scatter_nd", s);
    const size_t e = size_t(dtype_size(dtype)), ei = idx_dtype == RF_I32 ? 4 : 8;
    int64_t slice = 1, total = 1;
    int64_t shape8[8] = {};  // Shape8 in device/tensor_axis.cl
    for (int d = 0; d < data_rank; ++d) {
        shape8[d] = data_shape[d];
        total *= data_shape[d];
        if (d >= index_depth) slice *= data_shape[d];
    }
    int bi = l.arg(idx, size_t(num_updates * index_depth) * ei), bu = l.arg(updates, size_t(num_updates * slice) * e),
        by = l.arg(y, size_t(total) * e);
    if (l.bind() != RF_OK) return l.status();
    char name[32];
    std::snprintf(name, sizeof name, "scatter_nd_%s", type_name(dtype));
    l.run(name, {a_i32(reduction), a_bytes(shape8, sizeof shape8), a_i32(index_depth), a_i64(slice), a_i64(num_updates), a_buf(bi), a_i32(idx_dtype), a_buf(bu), a_buf(by)},
          size_t(slice), 0);
    return l.finish();
}

rf_status cumsum_axis(rf_stream s, int dtype, int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse,
                      const void *x, void *y) {
    Launch l("rf_cumsum_axis", s);
    const size_t bytes = size_t(outer * n * inner * dtype_size(dtype));
    int bx = l.arg(x, bytes), by = l.arg(y, bytes);
    if (l.bind() != RF_OK) return l.status();
    char name[32];
    std::snprintf(name, sizeof name, "cumsum_%s", type_name(dtype));
    l.run(name, {a_i64(outer), a_i64(n), a_i64(inner), a_i32(exclusive), a_i32(reverse), a_buf(bx), a_buf(by)}, size_t(inner), 0,
          size_t(outer), 0);
    return l.finish();
}

rf_status topk_axis(rf_stream s, int64_t outer, int64_t n, int64_t inner, int64_t k, int largest, const float *x,
                    float *values, int64_t *indices) {
    Launch l("rf_topk_axis", s);
    int bx = l.arg(x, size_t(outer * n * inner) * 4), bv = l.arg(values, size_t(outer * k * inner) * 4),
        bi = l.arg(indices, size_t(outer * k * inner) * 8);
    if (l.bind() != RF_OK) return l.status();
    l.run("topk_axis", {a_i64(outer), a_i64(n), a_i64(inner), a_i64(k), a_i32(largest), a_buf(bx), a_buf(bv), a_buf(bi)},
          size_t(inner), 0, size_t(outer), 0);
    return l.finish();
}

}  // namespace rf::RF_DISPATCH_NS
