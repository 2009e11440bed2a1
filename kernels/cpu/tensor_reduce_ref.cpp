// Scalar reference of rf_reduce and rf_softmax_axis: one output at a time,
// double accumulation and libm math.
#include "tensor_ops.h"
#include "tensor_scalar.h"

#include <cmath>

namespace rf::ref {
namespace {

// The index of the first extreme (a NaN counts as the extreme; the first NaN wins).
template <class T>
int64_t arg_extreme(bool is_max, const T *x, int64_t n, int64_t inner) {
    int64_t best = 0;
    T bv = x[0];
    for (int64_t j = 1; j < n; ++j) {
        T v = x[j * inner];
        if (bv != bv) break;
        if (v != v || (is_max ? v > bv : v < bv)) best = j, bv = v;
    }
    return best;
}

float reduce_f32(int op, const float *x, int64_t n, int64_t inner) {
    if (op == RF_REDUCE_MAX || op == RF_REDUCE_MIN) {
        float r = x[0];
        for (int64_t j = 1; j < n; ++j) r = op == RF_REDUCE_MAX ? max_nan(r, x[j * inner]) : min_nan(r, x[j * inner]);
        return r;
    }
    if (op == RF_REDUCE_LOG_SUM_EXP) {
        if (n == 0) return -INFINITY;
        float mx = x[0];
        for (int64_t j = 1; j < n; ++j) mx = max_nan(mx, x[j * inner]);
        if (!std::isfinite(mx)) return mx;
        double s = 0;
        for (int64_t j = 0; j < n; ++j) s += std::exp(double(x[j * inner]) - double(mx));
        return float(double(mx) + std::log(s));
    }
    double acc = op == RF_REDUCE_PROD ? 1.0 : 0.0;
    for (int64_t j = 0; j < n; ++j) {
        double v = x[j * inner];
        switch (op) {
        case RF_REDUCE_PROD: acc *= v; break;
        case RF_REDUCE_L1: acc += std::fabs(v); break;
        case RF_REDUCE_L2: case RF_REDUCE_SUM_SQUARE: acc += v * v; break;
        default: acc += v; break;  // SUM MEAN LOG_SUM
        }
    }
    switch (op) {
    case RF_REDUCE_MEAN: return float(acc / double(n));
    case RF_REDUCE_L2: return float(std::sqrt(acc));
    case RF_REDUCE_LOG_SUM: return float(std::log(acc));
    default: return float(acc);
    }
}

template <class T>
T reduce_int(int op, const T *x, int64_t n, int64_t inner) {
    T r = op == RF_REDUCE_PROD ? T(1) : T(0);
    if (op == RF_REDUCE_MAX || op == RF_REDUCE_MIN) r = x[0];
    for (int64_t j = 0; j < n; ++j) {
        T v = x[j * inner];
        switch (op) {
        case RF_REDUCE_PROD: r = wrap_mul(r, v); break;
        case RF_REDUCE_MAX: r = v > r ? v : r; break;
        case RF_REDUCE_MIN: r = v < r ? v : r; break;
        default: r = wrap_add(r, v); break;
        }
    }
    return r;
}

template <class T>
void reduce_typed(int op, int64_t outer, int64_t n, int64_t inner, const T *x, void *y) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const T *xs = x + o * n * inner + i;
            const int64_t at = o * inner + i;
            if (op == RF_REDUCE_ARGMAX || op == RF_REDUCE_ARGMIN)
                static_cast<int64_t *>(y)[at] = arg_extreme(op == RF_REDUCE_ARGMAX, xs, n, inner);
            else if constexpr (std::is_same_v<T, float>)
                static_cast<float *>(y)[at] = reduce_f32(op, xs, n, inner);
            else
                static_cast<T *>(y)[at] = reduce_int(op, xs, n, inner);
        }
}

}  // namespace

rf_status reduce_axis(int op, int dtype, int64_t outer, int64_t n, int64_t inner, const void *x, void *y) {
    switch (dtype) {
    case RF_F32: reduce_typed(op, outer, n, inner, static_cast<const float *>(x), y); break;
    case RF_I32: reduce_typed(op, outer, n, inner, static_cast<const int32_t *>(x), y); break;
    default: reduce_typed(op, outer, n, inner, static_cast<const int64_t *>(x), y); break;
    }
    return RF_OK;
}

rf_status softmax_axis(int log_softmax, int64_t outer, int64_t n, int64_t inner, const float *x, float *y) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float *xs = x + o * n * inner + i;
            float *ys = y + o * n * inner + i;
            double mx = xs[0];
            for (int64_t j = 1; j < n; ++j) mx = xs[j * inner] > mx ? xs[j * inner] : mx;
            double z = 0;
            for (int64_t j = 0; j < n; ++j) z += std::exp(double(xs[j * inner]) - mx);
            const double lz = std::log(z);
            for (int64_t j = 0; j < n; ++j) {
                double d = double(xs[j * inner]) - mx;
                ys[j * inner] = float(log_softmax ? d - lz : std::exp(d) / z);
            }
        }
    return RF_OK;
}

}  // namespace rf::ref
