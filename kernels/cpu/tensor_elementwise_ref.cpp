// Scalar reference of rf_unary_nd / rf_binary_nd / rf_where_nd: one element
// at a time over the full N-d index (no dim merging), libm math.
#include "tensor_ops.h"
#include "tensor_scalar.h"

#include <cmath>

namespace rf::ref {
namespace {

float unary_f32(int op, float x, float alpha, float beta) {
    switch (op) {
    case RF_UNARY_NEG: return -x;
    case RF_UNARY_ABS: return std::fabs(x);
    case RF_UNARY_SQRT: return std::sqrt(x);
    case RF_UNARY_EXP: return std::exp(x);
    case RF_UNARY_LOG: return std::log(x);
    case RF_UNARY_ERF: return std::erf(x);
    case RF_UNARY_RELU: return x < 0.f ? 0.f : x;
    case RF_UNARY_SIGMOID: return float(1.0 / (1.0 + std::exp(-double(x))));
    case RF_UNARY_TANH: return std::tanh(x);
    case RF_UNARY_RECIPROCAL: return 1.f / x;
    case RF_UNARY_FLOOR: return std::floor(x);
    case RF_UNARY_CEIL: return std::ceil(x);
    case RF_UNARY_SIGN: return x > 0.f ? 1.f : x < 0.f ? -1.f : x;
    case RF_UNARY_CLIP: { float v = x < alpha ? alpha : x; return v > beta ? beta : v; }
    case RF_UNARY_LEAKY_RELU: return x < 0.f ? alpha * x : x;
    case RF_UNARY_SIN: return std::sin(x);
    case RF_UNARY_COS: return std::cos(x);
    case RF_UNARY_GELU: return float(0.5 * double(x) * (1.0 + std::erf(double(x) * 0.70710678118654752)));
    case RF_UNARY_SILU: return float(double(x) / (1.0 + std::exp(-double(x))));
    case RF_UNARY_ROUND: return round_even(x);
    case RF_UNARY_SOFTPLUS: return float(std::fmax(double(x), 0.0) + std::log1p(std::exp(-std::fabs(double(x)))));
    case RF_UNARY_HARDSIGMOID: { float v = alpha * x + beta; v = v < 0.f ? 0.f : v; return v > 1.f ? 1.f : v; }
    default: return x;
    }
}

template <class T>
T unary_int(int op, T x, T lo, T hi) {
    switch (op) {
    case RF_UNARY_NEG: return wrap_neg(x);
    case RF_UNARY_ABS: return x < 0 ? wrap_neg(x) : x;
    case RF_UNARY_SIGN: return T(x > 0 ? 1 : x < 0 ? -1 : 0);
    case RF_UNARY_CLIP: { T v = x < lo ? lo : x; return v > hi ? hi : v; }
    default: return x < 0 ? T(0) : x;  // RELU
    }
}

template <class T>
void unary_ints(int op, int rank, const int64_t *shape, const T *x, const int64_t *xs, float alpha, float beta, T *y,
                const int64_t *ys) {
    const int64_t *st[2] = {xs, ys};
    T lo = clip_bound<T>(alpha), hi = clip_bound<T>(beta);
    for_each_offset<2>(rank, shape, st, [&](const int64_t *o) { y[o[1]] = unary_int(op, x[o[0]], lo, hi); });
}

template <class T, class U>
U binary_value(int op, T a, T b) {
    if constexpr (std::is_same_v<T, float>) {
        switch (op) {
        case RF_BIN_ADD: return a + b;
        case RF_BIN_SUB: return a - b;
        case RF_BIN_MUL: return a * b;
        case RF_BIN_DIV: return a / b;
        case RF_BIN_POW: return std::pow(a, b);
        case RF_BIN_MAX: return max_nan(a, b);
        case RF_BIN_MIN: return min_nan(a, b);
        case RF_BIN_MOD: return float_mod(a, b);
        case RF_BIN_FMOD: return std::fmod(a, b);
        default: break;
        }
    } else if constexpr (!std::is_same_v<T, uint8_t>) {
        switch (op) {
        case RF_BIN_ADD: return wrap_add(a, b);
        case RF_BIN_SUB: return wrap_sub(a, b);
        case RF_BIN_MUL: return wrap_mul(a, b);
        case RF_BIN_DIV: return int_div(a, b);
        case RF_BIN_POW: return int_pow(a, b);
        case RF_BIN_MAX: return a > b ? a : b;
        case RF_BIN_MIN: return a < b ? a : b;
        case RF_BIN_MOD: return int_mod(a, b);
        case RF_BIN_FMOD: return int_fmod(a, b);
        default: break;
        }
    }
    switch (op) {
    case RF_BIN_EQ: return U(a == b);
    case RF_BIN_LT: return U(a < b);
    case RF_BIN_LE: return U(a <= b);
    case RF_BIN_GT: return U(a > b);
    case RF_BIN_GE: return U(a >= b);
    case RF_BIN_AND: return U(a && b);
    case RF_BIN_OR: return U(a || b);
    default: return U((a != 0) != (b != 0));  // XOR
    }
}

template <class T>
void binary_typed(int op, int rank, const int64_t *shape, const void *a, const int64_t *as, const void *b,
                  const int64_t *bs, void *y, const int64_t *ys) {
    const int64_t *st[3] = {as, bs, ys};
    const T *pa = static_cast<const T *>(a), *pb = static_cast<const T *>(b);
    if (op >= RF_BIN_EQ) {
        uint8_t *py = static_cast<uint8_t *>(y);
        for_each_offset<3>(rank, shape, st, [&](const int64_t *o) { py[o[2]] = binary_value<T, uint8_t>(op, pa[o[0]], pb[o[1]]); });
    } else {
        T *py = static_cast<T *>(y);
        for_each_offset<3>(rank, shape, st, [&](const int64_t *o) { py[o[2]] = binary_value<T, T>(op, pa[o[0]], pb[o[1]]); });
    }
}

template <class T>
void where_typed(int rank, const int64_t *shape, const uint8_t *c, const int64_t *cs, const T *a, const int64_t *as,
                 const T *b, const int64_t *bs, T *y, const int64_t *ys) {
    const int64_t *st[4] = {cs, as, bs, ys};
    for_each_offset<4>(rank, shape, st, [&](const int64_t *o) { y[o[3]] = c[o[0]] ? a[o[1]] : b[o[2]]; });
}

}  // namespace

rf_status unary_nd(int op, int dtype, int rank, const int64_t *shape, const void *x, const int64_t *xs, float alpha,
                   float beta, void *y, const int64_t *ys) {
    const int64_t *st[2] = {xs, ys};
    if (dtype == RF_F32 && op == RF_UNARY_ISNAN) {
        const float *px = static_cast<const float *>(x);
        uint8_t *py = static_cast<uint8_t *>(y);
        for_each_offset<2>(rank, shape, st, [&](const int64_t *o) { py[o[1]] = px[o[0]] != px[o[0]]; });
    } else if (dtype == RF_F32) {
        const float *px = static_cast<const float *>(x);
        float *py = static_cast<float *>(y);
        for_each_offset<2>(rank, shape, st, [&](const int64_t *o) { py[o[1]] = unary_f32(op, px[o[0]], alpha, beta); });
    } else if (dtype == RF_BOOL) {
        const uint8_t *px = static_cast<const uint8_t *>(x);
        uint8_t *py = static_cast<uint8_t *>(y);
        for_each_offset<2>(rank, shape, st, [&](const int64_t *o) { py[o[1]] = px[o[0]] ? 0 : 1; });
    } else if (dtype == RF_I32) {
        unary_ints(op, rank, shape, static_cast<const int32_t *>(x), xs, alpha, beta, static_cast<int32_t *>(y), ys);
    } else {
        unary_ints(op, rank, shape, static_cast<const int64_t *>(x), xs, alpha, beta, static_cast<int64_t *>(y), ys);
    }
    return RF_OK;
}

rf_status binary_nd(int op, int dtype, int rank, const int64_t *shape, const void *a, const int64_t *as, const void *b,
                    const int64_t *bs, void *y, const int64_t *ys) {
    switch (dtype) {
    case RF_F32: binary_typed<float>(op, rank, shape, a, as, b, bs, y, ys); break;
    case RF_I32: binary_typed<int32_t>(op, rank, shape, a, as, b, bs, y, ys); break;
    case RF_I64: binary_typed<int64_t>(op, rank, shape, a, as, b, bs, y, ys); break;
    default: binary_typed<uint8_t>(op, rank, shape, a, as, b, bs, y, ys); break;
    }
    return RF_OK;
}

rf_status where_nd(int dtype, int rank, const int64_t *shape, const void *c, const int64_t *cs, const void *a,
                   const int64_t *as, const void *b, const int64_t *bs, void *y, const int64_t *ys) {
    const uint8_t *pc = static_cast<const uint8_t *>(c);
    switch (dtype_size(dtype)) {
    case 1: where_typed(rank, shape, pc, cs, static_cast<const uint8_t *>(a), as, static_cast<const uint8_t *>(b), bs, static_cast<uint8_t *>(y), ys); break;
    case 4: where_typed(rank, shape, pc, cs, static_cast<const uint32_t *>(a), as, static_cast<const uint32_t *>(b), bs, static_cast<uint32_t *>(y), ys); break;
    default: where_typed(rank, shape, pc, cs, static_cast<const uint64_t *>(a), as, static_cast<const uint64_t *>(b), bs, static_cast<uint64_t *>(y), ys); break;
    }
    return RF_OK;
}

}  // namespace rf::ref
