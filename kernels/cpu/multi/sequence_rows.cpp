// rf_norm_gate / rf_token_mix compiled per ISA: rows split over the pool; the
// norm's mean and variance in two vectorised passes (the reference's
// formula, blocked sums), the gate fused into the writing pass; token mixing
// as contiguous head-sized copies.
#include "../sequence_rows.h"

#include <cmath>
#include <algorithm>
#include <cstring>

namespace rf::RF_ISA_NS {

rf_status norm_gate(int64_t m, int64_t n, const float *x, int64_t ldx, const float *u, int64_t ldu,
                    const float *gamma, const float *beta, float eps, float *y, int64_t ldy) {
    const int64_t per = chunk_size(m, int64_t(num_threads()) * 4, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)));
    parallel_for((m + per - 1) / per, [&](int64_t task, int) {
        const int64_t end = std::min(m, (task + 1) * per);
        for (int64_t i = task * per; i < end; ++i) {
            const float *xi = x + i * ldx, *ui = u + i * ldu;
            float *yi = y + i * ldy;
            float acc[8] = {};
            int64_t j = 0;
            for (; j + 8 <= n; j += 8)
                for (int e = 0; e < 8; ++e) acc[e] += xi[j + e];
            float mu = 0.f;
            for (int e = 0; e < 8; ++e) mu += acc[e];
            for (; j < n; ++j) mu += xi[j];
            mu /= float(n);
            float vacc[8] = {};
            for (j = 0; j + 8 <= n; j += 8)
                for (int e = 0; e < 8; ++e) vacc[e] += (xi[j + e] - mu) * (xi[j + e] - mu);
            float var = 0.f;
            for (int e = 0; e < 8; ++e) var += vacc[e];
            for (; j < n; ++j) var += (xi[j] - mu) * (xi[j] - mu);
            var /= float(n);
            const float inv = 1.f / std::sqrt(var + eps);
            for (j = 0; j < n; ++j) {
                const float g = gamma ? gamma[j] : 1.f, b = beta ? beta[j] : 0.f;
                yi[j] = ((xi[j] - mu) * inv * g + b) * ui[j];
            }
        }
    });
    return RF_OK;
}

rf_status token_mix(int64_t m, int64_t T, int64_t D, int64_t H, const float *x, int64_t ldx, float *y, int64_t ldy) {
    const int64_t dh = D / H;
    const int64_t per = chunk_size(m, int64_t(num_threads()) * 4, std::max<int64_t>(1, 8192 / std::max<int64_t>(T * D, 1)));
    parallel_for((m + per - 1) / per, [&](int64_t task, int) {
        const int64_t end = std::min(m, (task + 1) * per);
        for (int64_t i = task * per; i < end; ++i)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t t = 0; t < T; ++t)
                    std::memcpy(y + i * ldy + (h * T + t) * dh, x + i * ldx + t * D + h * dh, size_t(dh) * 4);
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
