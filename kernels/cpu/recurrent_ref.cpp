// Scalar reference of the GRU recurrence (rankfn.h's pseudocode, fp32, libm).
#include "recurrent.h"

#include <cmath>
#include <vector>

namespace rf::ref {

rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt, const float *rb,
                       int32_t linear_before_reset, float *y, int64_t ldy) {
    const int64_t g3 = 3 * h;
    std::vector<float> hs(h), gh(g3), rh(h);
    auto sigmoid = [](float v) { return 1.f / (1.f + std::exp(-v)); };
    for (int64_t b = 0; b < m; ++b) {
        std::fill(hs.begin(), hs.end(), 0.f);
        for (int64_t t = 0; t < steps; ++t) {
            const float *g = gx + b * ldgx + t * g3;
            for (int64_t i = 0; i < g3; ++i) {
                float acc = rb ? rb[i] : 0.f;
                for (int64_t k = 0; k < h; ++k) acc += hs[k] * rt[k * g3 + i];
                gh[i] = acc;
            }
            for (int64_t k = 0; k < h; ++k) rh[k] = sigmoid(g[h + k] + gh[h + k]) * hs[k];
            for (int64_t i = 0; i < h; ++i) {
                float z = sigmoid(g[i] + gh[i]);
                float r = sigmoid(g[h + i] + gh[h + i]);
                float pre;
                if (linear_before_reset) pre = g[2 * h + i] + r * gh[2 * h + i];
                else {
                    pre = g[2 * h + i] + (rb ? rb[2 * h + i] : 0.f);
                    for (int64_t k = 0; k < h; ++k) pre += rh[k] * rt[k * g3 + 2 * h + i];
                }
                float n = std::tanh(pre);
                y[b * ldy + t * h + i] = (1.f - z) * n + z * hs[i];
            }
            for (int64_t i = 0; i < h; ++i) hs[i] = y[b * ldy + t * h + i];
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
