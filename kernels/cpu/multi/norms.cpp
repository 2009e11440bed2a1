// Layer norm, RMS norm and softmax, compiled once per ISA (RF_ISA_NS): 16-lane
// reductions and vector_math.h's exp, both of which the vectoriser handles;
// rows split over the pool.
// y may alias x (each row is read fully before it is written, element by element after).
#include "../norms.h"
#include "../row_ops.h"
#include "../vector_math.h"

#include <cmath>

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

// exp(x[j] - mx) into y (vector_math.h's vexp vectorises with every ISA's flags).
void exp_shifted(const float *x, float *y, int64_t n, float mx) {
    for (int64_t j = 0; j < n; ++j) y[j] = vexp(x[j] - mx);
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
