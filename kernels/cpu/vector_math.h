// Branch-free float math the compiler can vectorise (no libm calls in loops):
// exp, erf, tanh, sigmoid and whole-row activations. Accuracy: exp ~2 ulp,
// erf ~2e-7 absolute, tanh ~3 ulp — well inside every parity tolerance.
#pragma once
#include "backend.h"

#include <bit>
#include <cmath>

// Everything here has internal linkage (anonymous namespace): each ISA's
// translation unit gets its own copy compiled with its own flags.
namespace rf {
namespace {

// exp's range clamp and polynomial, for a float or a GCC vector of floats: returns the
// polynomial p and sets n, the rounded power of two (exp(x) = p · 2^n).
template <class V>
inline V vexp_poly(V x, V &n) {
    x = x < -87.33654f ? V{} + -87.33654f : x;
    x = x > 88.72283f ? V{} + 88.72283f : x;
    // Round to nearest by adding and subtracting 1.5 * 2^23 (vectorises, unlike roundevenf).
    n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
    V r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    V p = V{} + 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    return p * r * r + r + 1.0f;
}

inline float vexp(float x) {
    float n;
    float p = vexp_poly(x, n);
    int32_t e = int32_t(n) + 127;
    return p * std::bit_cast<float>(e << 23);
}

inline float verf(float x) {
    float a = x < 0.f ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float y = 1.0f - poly * vexp(-a * a);
    return x < 0.f ? -y : y;
}

inline float vtanh(float x) {
    float a = x < 0.f ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z +
                    1.33314422036E-1f) * z - 3.33332819422E-1f) * z * x + x;
    float e = vexp(-2.0f * a);
    float large = (1.0f - e) / (1.0f + e);
    large = x < 0.f ? -large : large;
    return a < 0.625f ? small : large;
}

inline float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

inline float vgelu(float x) { return 0.5f * x * (1.0f + verf(x * 0.70710678118654752f)); }

inline float vmax_nan(float a, float b) { return std::fmax(a, b); }
inline float vmin_nan(float a, float b) { return std::fmin(a, b); }

// y[j] = act(x[j]) for j < n; y may alias x.
inline void apply_act_row(int act, const float *x, float *y, int64_t n) {
    switch (act) {
    case RF_ACT_RELU: for (int64_t j = 0; j < n; ++j) y[j] = x[j] > 0.f ? x[j] : 0.f; break;
    case RF_ACT_GELU: for (int64_t j = 0; j < n; ++j) y[j] = vgelu(x[j]); break;
    case RF_ACT_SILU: for (int64_t j = 0; j < n; ++j) y[j] = x[j] * vsigmoid(x[j]); break;
    case RF_ACT_SIGMOID: for (int64_t j = 0; j < n; ++j) y[j] = vsigmoid(x[j]); break;
    case RF_ACT_TANH: for (int64_t j = 0; j < n; ++j) y[j] = vtanh(x[j]); break;
    default: if (x != y) for (int64_t j = 0; j < n; ++j) y[j] = x[j]; break;
    }
}

}  // namespace
}  // namespace rf
