// Scalar semantics of the general tensor ops that are not transcendental
// math: integer arithmetic (wrapping, truncating division, Python-style mod),
// comparisons, rounding, the ordering of topk_axis and cast ranges. Shared by
// the reference and the per-ISA paths so both mean the same thing; each path
// supplies its own exp/erf/tanh. static inline: compiled per ISA.
#pragma once
#include "tensor_nd.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace rf {

template <class T>
static inline T wrap_add(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) + U(b)); }
template <class T>
static inline T wrap_sub(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) - U(b)); }
template <class T>
static inline T wrap_mul(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) * U(b)); }
template <class T>
static inline T wrap_neg(T a) { using U = std::make_unsigned_t<T>; return T(U(0) - U(a)); }

// b != 0 (the entry point rejects zero divisors). INT_MIN / -1 wraps to INT_MIN.
template <class T>
static inline T int_div(T a, T b) { return b == T(-1) ? wrap_neg(a) : T(a / b); }
template <class T>
static inline T int_fmod(T a, T b) { return b == T(-1) ? T(0) : T(a % b); }
template <class T>
static inline T int_mod(T a, T b) {
    T r = int_fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
}
template <class T>
static inline T int_pow(T a, T b) {
    if (b < 0) return a == 1 ? T(1) : a == T(-1) ? T((b & 1) ? -1 : 1) : T(0);
    T r = 1;
    while (b) {
        if (b & 1) r = wrap_mul(r, a);
        a = wrap_mul(a, a);
        b = T(b >> 1);
    }
    return r;
}

static inline float float_mod(float a, float b) {
    float r = std::fmod(a, b);
    return (r != 0.f && ((r < 0.f) != (b < 0.f))) ? r + b : r;
}

// NaN-propagating max / min (numpy maximum / minimum).
template <class T>
static inline T max_nan(T a, T b) { return (a != a || a > b) ? a : b; }
template <class T>
static inline T min_nan(T a, T b) { return (a != a || a < b) ? a : b; }

// Round half to even without depending on the FP environment's mode.
static inline float round_even(float x) {
    float r = std::floor(x);
    float d = x - r;
    if (d > 0.5f || (d == 0.5f && std::fmod(r, 2.f) != 0.f)) r += 1.f;
    return (x != x || std::fabs(x) >= 8388608.f) ? x : r;
}

// topk_axis order: a before b. largest: descending with NaN first; ascending
// with NaN last; equal values (and two NaNs) go by the lower index.
static inline bool topk_axis_before(bool largest, float va, int64_t ia, float vb, int64_t ib) {
    bool na = va != va, nb = vb != vb;
    if (na || nb) return na == nb ? ia < ib : (largest ? na : nb);
    if (va != vb) return largest ? va > vb : va < vb;
    return ia < ib;
}

// Is the float v convertible (after truncation) to the integer dtype?
static inline bool float_fits(float v, int dtype) {
    if (v != v) return false;
    double t = std::trunc(double(v));
    if (dtype == RF_I32) return t >= -2147483648.0 && t <= 2147483647.0;
    return t >= -9223372036854775808.0 && t < 9223372036854775808.0;
}

// An i32/i64 CLIP bound: alpha/beta rounded to the nearest integer, saturated to T.
template <class T>
static inline T clip_bound(float v) {
    double r = std::nearbyint(double(v));
    if (!(r > double(std::numeric_limits<T>::min()))) return std::numeric_limits<T>::min();
    return r >= double(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max() : T(r);
}

// (TY) x for the dtypes of rf_cast_nd (float -> int is range-checked by the entry point).
template <class TX, class TY>
static inline TY cast_value(TX x) {
    if constexpr (std::is_same_v<TY, uint8_t>) return TY(x != TX(0));
    else return TY(x);
}

}  // namespace rf
