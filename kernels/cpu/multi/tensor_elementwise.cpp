// rf_unary_nd / rf_binary_nd / rf_where_nd, compiled once per ISA (RF_ISA_NS):
// dims merged where every operand is contiguous, runs along the last dim split
// over the pool, and the inner loop specialised for unit / broadcast (0)
// strides so the vectoriser handles the common cases (contiguous tensors, a
// broadcast row or column, a scalar operand).
#include "../tensor_loops.h"
#include "../tensor_ops.h"
#include "../tensor_scalar.h"
#include "../vector_math.h"

#include <cmath>

namespace rf::RF_ISA_NS {
namespace {

template <class TX, class TY, class F>
void unary_run(NdLayout<2> &l, const TX *x, TY *y, F f) {
    for_runs<2>(l, [&](const int64_t *off, int64_t len) {
        const int64_t sx = l.stride[0][l.rank - 1], sy = l.stride[1][l.rank - 1];
        const TX *px = x + off[0];
        TY *py = y + off[1];
        if (sx == 1 && sy == 1)
            for (int64_t j = 0; j < len; ++j) py[j] = f(px[j]);
        else
            for (int64_t j = 0; j < len; ++j) py[j * sy] = f(px[j * sx]);
    });
}

template <class TA, class TY, class F>
void binary_run(NdLayout<3> &l, const TA *a, const TA *b, TY *y, F f) {
    for_runs<3>(l, [&](const int64_t *off, int64_t len) {
        const int64_t sa = l.stride[0][l.rank - 1], sb = l.stride[1][l.rank - 1], sy = l.stride[2][l.rank - 1];
        const TA *pa = a + off[0], *pb = b + off[1];
        TY *py = y + off[2];
        if (sy == 1 && sa == 1 && sb == 1) {
            for (int64_t j = 0; j < len; ++j) py[j] = f(pa[j], pb[j]);
        } else if (sy == 1 && sa == 1 && sb == 0) {
            const TA bv = *pb;
            for (int64_t j = 0; j < len; ++j) py[j] = f(pa[j], bv);
        } else if (sy == 1 && sa == 0 && sb == 1) {
            const TA av = *pa;
            for (int64_t j = 0; j < len; ++j) py[j] = f(av, pb[j]);
        } else {
            for (int64_t j = 0; j < len; ++j) py[j * sy] = f(pa[j * sa], pb[j * sb]);
        }
    });
}

void unary_f32(int op, NdLayout<2> &l, const float *x, float alpha, float beta, float *y) {
    auto run = [&](auto f) { unary_run<float, float>(l, x, y, f); };
    switch (op) {
    case RF_UNARY_NEG: run([](float v) { return -v; }); break;
    case RF_UNARY_ABS: run([](float v) { return std::fabs(v); }); break;
    case RF_UNARY_SQRT: run([](float v) { return std::sqrt(v); }); break;
    case RF_UNARY_EXP: run([](float v) { return v != v ? v : v > 88.72283f ? INFINITY : vexp(v); }); break;
    case RF_UNARY_LOG: run([](float v) { return std::log(v); }); break;
    case RF_UNARY_ERF: run([](float v) { return v != v ? v : verf(v); }); break;
    case RF_UNARY_RELU: run([](float v) { return v < 0.f ? 0.f : v; }); break;
    case RF_UNARY_SIGMOID: run([](float v) { return v != v ? v : vsigmoid(v); }); break;
    case RF_UNARY_TANH: run([](float v) { return v != v ? v : vtanh(v); }); break;
    case RF_UNARY_RECIPROCAL: run([](float v) { return 1.f / v; }); break;
    case RF_UNARY_FLOOR: run([](float v) { return std::floor(v); }); break;
    case RF_UNARY_CEIL: run([](float v) { return std::ceil(v); }); break;
    case RF_UNARY_SIGN: run([](float v) { return v > 0.f ? 1.f : v < 0.f ? -1.f : v; }); break;
    case RF_UNARY_CLIP: run([=](float v) { v = v < alpha ? alpha : v; return v > beta ? beta : v; }); break;
    case RF_UNARY_LEAKY_RELU: run([=](float v) { return v < 0.f ? alpha * v : v; }); break;
    case RF_UNARY_SIN: run([](float v) { return std::sin(v); }); break;
    case RF_UNARY_COS: run([](float v) { return std::cos(v); }); break;
    case RF_UNARY_GELU: run([](float v) { return v != v ? v : vgelu(v); }); break;
    case RF_UNARY_SILU: run([](float v) { return v != v ? v : v * vsigmoid(v); }); break;
    case RF_UNARY_ROUND: run([](float v) { return round_even(v); }); break;
    case RF_UNARY_SOFTPLUS:
        run([](float v) { return v != v ? v : (v > 0.f ? v : 0.f) + std::log1p(vexp(-std::fabs(v))); });
        break;
    default: run([=](float v) { v = alpha * v + beta; v = v < 0.f ? 0.f : v; return v > 1.f ? 1.f : v; }); break;
    }
}

template <class T>
void unary_int(int op, NdLayout<2> &l, const T *x, float alpha, float beta, T *y) {
    auto run = [&](auto f) { unary_run<T, T>(l, x, y, f); };
    const T lo = clip_bound<T>(alpha), hi = clip_bound<T>(beta);
    switch (op) {
    case RF_UNARY_NEG: run([](T v) { return wrap_neg(v); }); break;
    case RF_UNARY_ABS: run([](T v) { return v < 0 ? wrap_neg(v) : v; }); break;
    case RF_UNARY_SIGN: run([](T v) { return T(v > 0 ? 1 : v < 0 ? -1 : 0); }); break;
    case RF_UNARY_CLIP: run([=](T v) { v = v < lo ? lo : v; return v > hi ? hi : v; }); break;
    default: run([](T v) { return v < 0 ? T(0) : v; }); break;
    }
}

template <class T>
void binary_typed(int op, NdLayout<3> &l, const void *a, const void *b, void *y) {
    const T *pa = static_cast<const T *>(a), *pb = static_cast<const T *>(b);
    T *py = static_cast<T *>(y);
    uint8_t *pq = static_cast<uint8_t *>(y);
    auto run = [&](auto f) { binary_run<T, T>(l, pa, pb, py, f); };
    auto cmp = [&](auto f) { binary_run<T, uint8_t>(l, pa, pb, pq, f); };
    switch (op) {
    case RF_BIN_EQ: cmp([](T u, T v) { return uint8_t(u == v); }); return;
    case RF_BIN_LT: cmp([](T u, T v) { return uint8_t(u < v); }); return;
    case RF_BIN_LE: cmp([](T u, T v) { return uint8_t(u <= v); }); return;
    case RF_BIN_GT: cmp([](T u, T v) { return uint8_t(u > v); }); return;
    case RF_BIN_GE: cmp([](T u, T v) { return uint8_t(u >= v); }); return;
    case RF_BIN_AND: cmp([](T u, T v) { return uint8_t(u && v); }); return;
    case RF_BIN_OR: cmp([](T u, T v) { return uint8_t(u || v); }); return;
    case RF_BIN_XOR: cmp([](T u, T v) { return uint8_t((u != 0) != (v != 0)); }); return;
    default: break;
    }
    if constexpr (std::is_same_v<T, float>) {
        switch (op) {
        case RF_BIN_ADD: run([](float u, float v) { return u + v; }); break;
        case RF_BIN_SUB: run([](float u, float v) { return u - v; }); break;
        case RF_BIN_MUL: run([](float u, float v) { return u * v; }); break;
        case RF_BIN_DIV: run([](float u, float v) { return u / v; }); break;
        case RF_BIN_POW: run([](float u, float v) { return std::pow(u, v); }); break;
        case RF_BIN_MAX: run([](float u, float v) { return max_nan(u, v); }); break;
        case RF_BIN_MIN: run([](float u, float v) { return min_nan(u, v); }); break;
        case RF_BIN_MOD: run([](float u, float v) { return float_mod(u, v); }); break;
        default: run([](float u, float v) { return std::fmod(u, v); }); break;
        }
    } else if constexpr (!std::is_same_v<T, uint8_t>) {
        switch (op) {
        case RF_BIN_ADD: run([](T u, T v) { return wrap_add(u, v); }); break;
        case RF_BIN_SUB: run([](T u, T v) { return wrap_sub(u, v); }); break;
        case RF_BIN_MUL: run([](T u, T v) { return wrap_mul(u, v); }); break;
        case RF_BIN_DIV: run([](T u, T v) { return int_div(u, v); }); break;
        case RF_BIN_POW: run([](T u, T v) { return int_pow(u, v); }); break;
        case RF_BIN_MAX: run([](T u, T v) { return u > v ? u : v; }); break;
        case RF_BIN_MIN: run([](T u, T v) { return u < v ? u : v; }); break;
        case RF_BIN_MOD: run([](T u, T v) { return int_mod(u, v); }); break;
        default: run([](T u, T v) { return int_fmod(u, v); }); break;
        }
    }
}

template <class T>
void where_typed(NdLayout<4> &l, const uint8_t *c, const T *a, const T *b, T *y) {
    for_runs<4>(l, [&](const int64_t *off, int64_t len) {
        const int r = l.rank - 1;
        const int64_t sc = l.stride[0][r], sa = l.stride[1][r], sb = l.stride[2][r], sy = l.stride[3][r];
        const uint8_t *pc = c + off[0];
        const T *pa = a + off[1], *pb = b + off[2];
        T *py = y + off[3];
        if (sc == 1 && sa == 1 && sb == 1 && sy == 1)
            for (int64_t j = 0; j < len; ++j) py[j] = pc[j] ? pa[j] : pb[j];
        else
            for (int64_t j = 0; j < len; ++j) py[j * sy] = pc[j * sc] ? pa[j * sa] : pb[j * sb];
    });
}

}  // namespace

rf_status unary_nd(int op, int dtype, int rank, const int64_t *shape, const void *x, const int64_t *xs, float alpha,
                   float beta, void *y, const int64_t *ys) {
    const int64_t *st[2] = {xs, ys};
    NdLayout<2> l = simplify<2>(rank, shape, st);
    if (dtype == RF_F32 && op == RF_UNARY_ISNAN)
        unary_run<float, uint8_t>(l, static_cast<const float *>(x), static_cast<uint8_t *>(y), [](float v) { return uint8_t(v != v); });
    else if (dtype == RF_F32)
        unary_f32(op, l, static_cast<const float *>(x), alpha, beta, static_cast<float *>(y));
    else if (dtype == RF_BOOL)
        unary_run<uint8_t, uint8_t>(l, static_cast<const uint8_t *>(x), static_cast<uint8_t *>(y), [](uint8_t v) { return uint8_t(v == 0); });
    else if (dtype == RF_I32)
        unary_int(op, l, static_cast<const int32_t *>(x), alpha, beta, static_cast<int32_t *>(y));
    else
        unary_int(op, l, static_cast<const int64_t *>(x), alpha, beta, static_cast<int64_t *>(y));
    return RF_OK;
}

rf_status binary_nd(int op, int dtype, int rank, const int64_t *shape, const void *a, const int64_t *as, const void *b,
                    const int64_t *bs, void *y, const int64_t *ys) {
    const int64_t *st[3] = {as, bs, ys};
    NdLayout<3> l = simplify<3>(rank, shape, st);
    switch (dtype) {
    case RF_F32: binary_typed<float>(op, l, a, b, y); break;
    case RF_I32: binary_typed<int32_t>(op, l, a, b, y); break;
    case RF_I64: binary_typed<int64_t>(op, l, a, b, y); break;
    default: binary_typed<uint8_t>(op, l, a, b, y); break;
    }
    return RF_OK;
}

rf_status where_nd(int dtype, int rank, const int64_t *shape, const void *c, const int64_t *cs, const void *a,
                   const int64_t *as, const void *b, const int64_t *bs, void *y, const int64_t *ys) {
    const int64_t *st[4] = {cs, as, bs, ys};
    NdLayout<4> l = simplify<4>(rank, shape, st);
    const uint8_t *pc = static_cast<const uint8_t *>(c);
    switch (dtype_size(dtype)) {
    case 1: where_typed(l, pc, static_cast<const uint8_t *>(a), static_cast<const uint8_t *>(b), static_cast<uint8_t *>(y)); break;
    case 4: where_typed(l, pc, static_cast<const uint32_t *>(a), static_cast<const uint32_t *>(b), static_cast<uint32_t *>(y)); break;
    default: where_typed(l, pc, static_cast<const uint64_t *>(a), static_cast<const uint64_t *>(b), static_cast<uint64_t *>(y)); break;
    }
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
