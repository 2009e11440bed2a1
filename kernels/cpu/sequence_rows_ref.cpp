// Scalar reference of rf_norm_gate and rf_token_mix, from the header's pseudocode.
#include "sequence_rows.h"

#include <cmath>

namespace rf::ref {

rf_status norm_gate(int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                    const float *gamma, const float *beta, float eps, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * ldx, *ui = u + i * ldu;
        float *yi = y + i * ldy;
        float mu = 0.f, var = 0.f;
        for (int64_t j = 0; j < n; ++j) mu += xi[j];
        mu /= float(n);
        for (int64_t j = 0; j < n; ++j) var += (xi[j] - mu) * (xi[j] - mu);
        var /= float(n);
        const float sd = std::sqrt(var + eps);
        for (int64_t j = 0; j < n; ++j)
            yi[j] = ((xi[j] - mu) / sd * (gamma ? gamma[j] : 1.f) + (beta ? beta[j] : 0.f)) * ui[j];
    }
    return RF_OK;
}

rf_status token_mix(int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y, int64_t ldy) {
    const int64_t dh = D / H;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t t = 0; t < T; ++t)
                for (int64_t c = 0; c < dh; ++c) y[i * ldy + h * T * dh + t * dh + c] = x[i * ldx + t * D + h * dh + c];
    return RF_OK;
}

}  // namespace rf::ref
