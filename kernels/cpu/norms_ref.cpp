// Scalar reference of layer norm, RMS norm and softmax (the header's formulas, fp32).
#include "norms.h"

#include <cmath>

namespace rf::ref {

rf_status layer_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, const float *beta, float eps,
                     float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float mu = 0.f, var = 0.f;
        for (int64_t j = 0; j < n; ++j) mu += xi[j];
        mu /= float(n);
        for (int64_t j = 0; j < n; ++j) var += (xi[j] - mu) * (xi[j] - mu);
        var /= float(n);
        float sd = std::sqrt(var + eps);
        for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - mu) / sd * (gamma ? gamma[j] : 1.f) + (beta ? beta[j] : 0.f);
    }
    return RF_OK;
}

rf_status rms_norm(int64_t m, int64_t n, const float *x, int64_t ldx, const float *gamma, float eps, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float ss = 0.f;
        for (int64_t j = 0; j < n; ++j) ss += xi[j] * xi[j];
        float r = std::sqrt(ss / float(n) + eps);
        for (int64_t j = 0; j < n; ++j) yi[j] = xi[j] / r * (gamma ? gamma[j] : 1.f);
    }
    return RF_OK;
}

rf_status softmax(int64_t m, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * ldx;
        float *yi = y + i * ldy;
        float mx = xi[0];
        for (int64_t j = 1; j < n; ++j) mx = std::fmax(mx, xi[j]);
        float s = 0.f;
        for (int64_t j = 0; j < n; ++j) s += std::exp(xi[j] - mx);
        for (int64_t j = 0; j < n; ++j) yi[j] = std::exp(xi[j] - mx) / s;
    }
    return RF_OK;
}

}  // namespace rf::ref
