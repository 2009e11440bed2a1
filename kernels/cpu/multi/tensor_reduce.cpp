// rf_reduce and rf_softmax_axis, compiled once per ISA (RF_ISA_NS). inner == 1
// (the last axis): each output reduces a contiguous row with 16 independent
// lanes (double lanes for f32 sums). inner > 1: each task owns a block of up to
// 512 outputs of one outer index and sweeps the axis, so the inner loop runs
// along contiguous memory for every op. Work is split over the pool by outputs.
#include "../tensor_loops.h"
#include "../tensor_ops.h"
#include "../tensor_scalar.h"
#include "../vector_math.h"

#include <cmath>

namespace rf::RF_ISA_NS {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kBlock = 512;

// An associative reduction: init, step(acc, x), combine(acc, acc), finish(acc, n).
template <class T, class Acc, class Step, class Comb, class Fin, class TY>
void reduce_generic(int64_t outer, int64_t n, int64_t inner, const T *x, TY *y, Acc init, Step step, Comb comb, Fin fin) {
    if (inner == 1) {
        for_chunks(outer, n >= 16384 ? 1 : 16384 / (n + 1) + 1, [&](int64_t o0, int64_t o1) {
            for (int64_t o = o0; o < o1; ++o) {
                const T *xr = x + o * n;
                Acc acc[kLanes];
                for (int l = 0; l < kLanes; ++l) acc[l] = init;
                int64_t j = 0;
                for (; j + kLanes <= n; j += kLanes)
                    for (int l = 0; l < kLanes; ++l) acc[l] = step(acc[l], xr[j + l]);
                for (int l = 0; j + l < n; ++l) acc[l] = step(acc[l], xr[j + l]);
                Acc r = acc[0];
                for (int l = 1; l < kLanes; ++l) r = comb(r, acc[l]);
                y[o] = fin(r, n);
            }
        });
        return;
    }
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    for_chunks(outer * blocks, n * kBlock >= 16384 ? 1 : 16384 / (n * kBlock + 1) + 1, [&](int64_t u0, int64_t u1) {
        Acc acc[kBlock];
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
            const int64_t w = inner - i0 < kBlock ? inner - i0 : kBlock;
            for (int64_t i = 0; i < w; ++i) acc[i] = init;
            for (int64_t j = 0; j < n; ++j) {
                const T *xr = x + (o * n + j) * inner + i0;
                for (int64_t i = 0; i < w; ++i) acc[i] = step(acc[i], xr[i]);
            }
            for (int64_t i = 0; i < w; ++i) y[o * inner + i0 + i] = fin(acc[i], n);
        }
    });
}

// First index of the extreme along the axis (a NaN counts as the extreme).
template <class T>
void arg_extreme(bool is_max, int64_t outer, int64_t n, int64_t inner, const T *x, int64_t *y) {
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    for_chunks(outer * blocks, 1, [&](int64_t u0, int64_t u1) {
        T best[kBlock];
        int64_t at[kBlock];
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
            const int64_t w = inner - i0 < kBlock ? inner - i0 : kBlock;
            const T *x0 = x + o * n * inner + i0;
            for (int64_t i = 0; i < w; ++i) best[i] = x0[i], at[i] = 0;
            for (int64_t j = 1; j < n; ++j) {
                const T *xr = x0 + j * inner;
                for (int64_t i = 0; i < w; ++i) {
                    const T v = xr[i], b = best[i];
                    const bool take = b == b && (v != v || (is_max ? v > b : v < b));
                    best[i] = take ? v : b;
                    at[i] = take ? j : at[i];
                }
            }
            for (int64_t i = 0; i < w; ++i) y[o * inner + i0 + i] = at[i];
        }
    });
}

void reduce_f32(int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *y) {
    auto sum = [&](auto step, auto fin) {
        reduce_generic(outer, n, inner, x, y, 0.0, step, [](double a, double b) { return a + b; }, fin);
    };
    auto plain = [](double a, int64_t) { return float(a); };
    switch (op) {
    case RF_REDUCE_SUM: sum([](double a, float v) { return a + double(v); }, plain); break;
    case RF_REDUCE_MEAN: sum([](double a, float v) { return a + double(v); }, [](double a, int64_t n) { return float(a / double(n)); }); break;
    case RF_REDUCE_L1: sum([](double a, float v) { return a + double(std::fabs(v)); }, plain); break;
    case RF_REDUCE_L2: sum([](double a, float v) { return a + double(v) * double(v); }, [](double a, int64_t) { return float(std::sqrt(a)); }); break;
    case RF_REDUCE_SUM_SQUARE: sum([](double a, float v) { return a + double(v) * double(v); }, plain); break;
    case RF_REDUCE_LOG_SUM: sum([](double a, float v) { return a + double(v); }, [](double a, int64_t) { return float(std::log(a)); }); break;
    case RF_REDUCE_PROD:
        reduce_generic(outer, n, inner, x, y, 1.0, [](double a, float v) { return a * double(v); },
                       [](double a, double b) { return a * b; }, plain);
        break;
    case RF_REDUCE_MAX:
    case RF_REDUCE_MIN: {
        const bool mx = op == RF_REDUCE_MAX;
        auto f = [mx](float a, float b) { return mx ? max_nan(a, b) : min_nan(a, b); };
        reduce_generic(outer, n, inner, x, y, mx ? -INFINITY : INFINITY, f, f, [](float a, int64_t) { return a; });
        break;
    }
    default: {  // LOG_SUM_EXP: the max, then the shifted sum of exponentials
        if (n == 0) {
            for (int64_t i = 0; i < outer * inner; ++i) y[i] = -INFINITY;
            break;
        }
        auto f = [](float a, float b) { return max_nan(a, b); };
        reduce_generic(outer, n, inner, x, y, -INFINITY, f, f, [](float a, int64_t) { return a; });
        const int64_t blocks = (inner + kBlock - 1) / kBlock;
        for_chunks(outer * blocks, 1, [&](int64_t u0, int64_t u1) {
            double acc[kBlock];
            for (int64_t u = u0; u < u1; ++u) {
                const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
                const int64_t w = inner - i0 < kBlock ? inner - i0 : kBlock;
                float *mx = y + o * inner + i0;
                for (int64_t i = 0; i < w; ++i) acc[i] = 0.0;
                for (int64_t j = 0; j < n; ++j) {
                    const float *xr = x + (o * n + j) * inner + i0;
                    for (int64_t i = 0; i < w; ++i) acc[i] += double(vexp(xr[i] - mx[i]));
                }
                for (int64_t i = 0; i < w; ++i)
                    if (std::isfinite(mx[i])) mx[i] = float(double(mx[i]) + std::log(acc[i]));
            }
        });
        break;
    }
    }
}

template <class T>
void reduce_int(int op, int64_t outer, int64_t n, int64_t inner, const T *x, T *y) {
    auto fin = [](T a, int64_t) { return a; };
    switch (op) {
    case RF_REDUCE_SUM: { auto f = [](T a, T b) { return wrap_add(a, b); }; reduce_generic(outer, n, inner, x, y, T(0), f, f, fin); break; }
    case RF_REDUCE_PROD: { auto f = [](T a, T b) { return wrap_mul(a, b); }; reduce_generic(outer, n, inner, x, y, T(1), f, f, fin); break; }
    case RF_REDUCE_MAX: { auto f = [](T a, T b) { return a > b ? a : b; }; reduce_generic(outer, n, inner, x, y, std::numeric_limits<T>::min(), f, f, fin); break; }
    default: { auto f = [](T a, T b) { return a < b ? a : b; }; reduce_generic(outer, n, inner, x, y, std::numeric_limits<T>::max(), f, f, fin); break; }
    }
}

}  // namespace

rf_status reduce_axis(int op, int dtype, int64_t outer, int64_t n, int64_t inner, const void *x, void *y) {
    if (op == RF_REDUCE_ARGMAX || op == RF_REDUCE_ARGMIN) {
        const bool mx = op == RF_REDUCE_ARGMAX;
        int64_t *yi = static_cast<int64_t *>(y);
        if (dtype == RF_F32) arg_extreme(mx, outer, n, inner, static_cast<const float *>(x), yi);
        else if (dtype == RF_I32) arg_extreme(mx, outer, n, inner, static_cast<const int32_t *>(x), yi);
        else arg_extreme(mx, outer, n, inner, static_cast<const int64_t *>(x), yi);
    } else if (dtype == RF_F32) {
        reduce_f32(op, outer, n, inner, static_cast<const float *>(x), static_cast<float *>(y));
    } else if (dtype == RF_I32) {
        reduce_int(op, outer, n, inner, static_cast<const int32_t *>(x), static_cast<int32_t *>(y));
    } else {
        reduce_int(op, outer, n, inner, static_cast<const int64_t *>(x), static_cast<int64_t *>(y));
    }
    return RF_OK;
}

rf_status softmax_axis(int log_softmax, int64_t outer, int64_t n, int64_t inner, const float *x, float *y) {
    if (inner == 1) {  // the last axis: contiguous rows, 16-lane max and sum
        for_chunks(outer, n >= 16384 ? 1 : 16384 / (n + 1) + 1, [&](int64_t o0, int64_t o1) {
            for (int64_t o = o0; o < o1; ++o) {
                const float *xr = x + o * n;
                float *yr = y + o * n;
                float lanes[kLanes];
                for (int l = 0; l < kLanes; ++l) lanes[l] = -INFINITY;
                int64_t j = 0;
                for (; j + kLanes <= n; j += kLanes)
                    for (int l = 0; l < kLanes; ++l) lanes[l] = xr[j + l] > lanes[l] ? xr[j + l] : lanes[l];
                for (int l = 0; j + l < n; ++l) lanes[l] = xr[j + l] > lanes[l] ? xr[j + l] : lanes[l];
                float mx = lanes[0];
                for (int l = 1; l < kLanes; ++l) mx = lanes[l] > mx ? lanes[l] : mx;
                for (int l = 0; l < kLanes; ++l) lanes[l] = 0.f;
                for (j = 0; j + kLanes <= n; j += kLanes)
                    for (int l = 0; l < kLanes; ++l) lanes[l] += vexp(xr[j + l] - mx);
                for (int l = 0; j + l < n; ++l) lanes[l] += vexp(xr[j + l] - mx);
                float z = 0.f;
                for (int l = 0; l < kLanes; ++l) z += lanes[l];
                if (log_softmax) {
                    const float shift = mx + std::log(z);
                    for (int64_t q = 0; q < n; ++q) yr[q] = xr[q] - shift;
                } else {
                    const float inv = 1.f / z;
                    for (int64_t q = 0; q < n; ++q) yr[q] = vexp(xr[q] - mx) * inv;
                }
            }
        });
        return RF_OK;
    }
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    for_chunks(outer * blocks, n * kBlock >= 16384 ? 1 : 16384 / (n * kBlock + 1) + 1, [&](int64_t u0, int64_t u1) {
        float mx[kBlock], z[kBlock];
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
            const int64_t w = inner - i0 < kBlock ? inner - i0 : kBlock;
            const float *x0 = x + o * n * inner + i0;
            float *y0 = y + o * n * inner + i0;
            for (int64_t i = 0; i < w; ++i) mx[i] = -INFINITY, z[i] = 0.f;
            for (int64_t j = 0; j < n; ++j)
                for (int64_t i = 0; i < w; ++i) mx[i] = x0[j * inner + i] > mx[i] ? x0[j * inner + i] : mx[i];
            for (int64_t j = 0; j < n; ++j)
                for (int64_t i = 0; i < w; ++i) z[i] += vexp(x0[j * inner + i] - mx[i]);
            if (log_softmax) {
                for (int64_t i = 0; i < w; ++i) z[i] = mx[i] + std::log(z[i]);
                for (int64_t j = 0; j < n; ++j)
                    for (int64_t i = 0; i < w; ++i) y0[j * inner + i] = x0[j * inner + i] - z[i];
            } else {
                for (int64_t i = 0; i < w; ++i) z[i] = 1.f / z[i];
                for (int64_t j = 0; j < n; ++j)
                    for (int64_t i = 0; i < w; ++i) y0[j * inner + i] = vexp(x0[j * inner + i] - mx[i]) * z[i];
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
