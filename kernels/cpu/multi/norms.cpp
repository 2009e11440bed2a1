// Layer norm, RMS norm and softmax, compiled once per ISA (RF_ISA_NS): 16-lane
// reductions the vectoriser handles, an intrinsic exp for AVX2/AVX-512 (scalar
// vexp for portable); rows split over the pool.
// y may alias x (each row is read fully before it is written, element by element after).
#include "../norms.h"
#include "../row_ops.h"
#include "../vector_math.h"

#include <cmath>
#if defined(__AVX2__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics pass an "undefined" register: silence the false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace rf::RF_ISA_NS {

rf_status layer_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, const float *beta, float eps,
                     float *y, int64_t ldy) {
    for_rows(m, n, [&](int64_t i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float mu = row_sum(xi, n) / float(n);
        float var = row_sum_sq_dev(xi, n, mu) / float(n);
        float rstd = 1.f / std::sqrt(var + eps);
        if (gamma && beta) for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - mu) * rstd * gamma[j] + beta[j];
        else if (gamma) for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - mu) * rstd * gamma[j];
        else if (beta) for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - mu) * rstd + beta[j];
        else for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - mu) * rstd;
    });
    return RF_OK;
}

rf_status rms_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps, float *y, int64_t ldy) {
    for_rows(m, n, [&](int64_t i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float rr = 1.f / std::sqrt(row_sum_sq_dev(xi, n, 0.f) / float(n) + eps);
        if (gamma) for (int64_t j = 0; j < n; ++j) yi[j] = xi[j] * rr * gamma[j];
        else for (int64_t j = 0; j < n; ++j) yi[j] = xi[j] * rr;
    });
    return RF_OK;
}

namespace {

#if defined(__AVX512F__) || defined(__AVX2__)
// vexp (vector_math.h) spelled out in intrinsics: GCC 12 does not vectorise
// the scalar form (roundeven + exponent bit-cast). Same polynomial and clamp.
#if defined(__AVX512F__)
typedef __m512 V;
constexpr int W = 16;
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
inline V vround(V x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V vclamp(V x) { return _mm512_min_ps(_mm512_max_ps(x, VSET1(-87.33654f)), VSET1(88.72283f)); }
inline V vpow2n(V n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline V vload(const float *p) { return _mm512_loadu_ps(p); }
inline void vstore(float *p, V v) { _mm512_storeu_ps(p, v); }
#else
typedef __m256 V;
constexpr int W = 8;
#define VSET1 _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
inline V vround(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V vclamp(V x) { return _mm256_min_ps(_mm256_max_ps(x, VSET1(-87.33654f)), VSET1(88.72283f)); }
inline V vpow2n(V n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
inline V vload(const float *p) { return _mm256_loadu_ps(p); }
inline void vstore(float *p, V v) { _mm256_storeu_ps(p, v); }
#endif

inline V vexp_v(V x) {
    x = vclamp(x);
    V n = vround(vmul(x, VSET1(1.44269504088896341f)));
    V r = vsub(x, vmul(n, VSET1(0.693359375f)));
    r = vsub(r, vmul(n, VSET1(-2.12194440e-4f)));
    V p = VSET1(1.9875691500E-4f);
    p = VFMA(p, r, VSET1(1.3981999507E-3f));
    p = VFMA(p, r, VSET1(8.3334519073E-3f));
    p = VFMA(p, r, VSET1(4.1665795894E-2f));
    p = VFMA(p, r, VSET1(1.6666665459E-1f));
    p = VFMA(p, r, VSET1(5.0000001201E-1f));
    p = vadd(VFMA(vmul(p, r), r, r), VSET1(1.0f));
    return vmul(p, vpow2n(n));
}
#endif

// exp(x[j] - mx) into y.
void exp_shifted(const float *x, float *y, int64_t n, float mx) {
    int64_t j = 0;
#if defined(__AVX512F__) || defined(__AVX2__)
    const V m = VSET1(mx);
    for (; j + W <= n; j += W) vstore(y + j, vexp_v(vsub(vload(x + j), m)));
#endif
    for (; j < n; ++j) y[j] = vexp(x[j] - mx);
}

}  // namespace

rf_status softmax(int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    for_rows(m, n, [&](int64_t i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float mx = row_max(xi, n);
        exp_shifted(xi, yi, n, mx);
        float inv = 1.f / row_sum(yi, n);
        for (int64_t j = 0; j < n; ++j) yi[j] *= inv;
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
