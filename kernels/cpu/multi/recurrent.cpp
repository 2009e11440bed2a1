// The GRU recurrence, compiled once per ISA (RF_ISA_NS). Rows are independent
// and split over the pool; per step the recurrent projection h·Rᵀ runs as
// axpys over the transposed weights (rt's rows are contiguous across the 3h
// gate units, so the vectoriser needs no horizontal sums), and the gates use
// vector_math.h's sigmoid/tanh. The state lives in a per-row scratch of 5h floats.
#include "../recurrent.h"
#include "../row_ops.h"
#include "../vector_math.h"

#include <vector>

namespace rf::RF_ISA_NS {

rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt, const float *rb,
                       int32_t linear_before_reset, float *y, int64_t ldy) {
    const int64_t g3 = 3 * h;
    for_rows(m, steps * g3 * h, [&](int64_t b) {
        thread_local std::vector<float> scratch;
        scratch.assign(size_t(5 * h), 0.f);
        float *hs = scratch.data(), *gh = hs + h, *rh = gh + g3;
        for (int64_t t = 0; t < steps; ++t) {
            const float *g = gx + b * ldgx + t * g3;
            if (rb) for (int64_t i = 0; i < g3; ++i) gh[i] = rb[i];
            else for (int64_t i = 0; i < g3; ++i) gh[i] = 0.f;
            // With linear_before_reset = 0 the n block's projection reads r ⊙ h, computed below.
            const int64_t cols = linear_before_reset ? g3 : 2 * h;
            for (int64_t k = 0; k < h; ++k) {
                const float hk = hs[k];
                const float *row = rt + k * g3;
                for (int64_t i = 0; i < cols; ++i) gh[i] += hk * row[i];
            }
            float *yt = y + b * ldy + t * h;
            for (int64_t i = 0; i < h; ++i) rh[i] = vsigmoid(g[h + i] + gh[h + i]);
            if (linear_before_reset) {
                for (int64_t i = 0; i < h; ++i) yt[i] = vtanh(g[2 * h + i] + rh[i] * gh[2 * h + i]);
            } else {
                for (int64_t i = 0; i < h; ++i) rh[i] *= hs[i];
                float *pn = gh + 2 * h;
                for (int64_t k = 0; k < h; ++k) {
                    const float rk = rh[k];
                    const float *row = rt + k * g3 + 2 * h;
                    for (int64_t i = 0; i < h; ++i) pn[i] += rk * row[i];
                }
                for (int64_t i = 0; i < h; ++i) yt[i] = vtanh(g[2 * h + i] + pn[i]);
            }
            for (int64_t i = 0; i < h; ++i) {
                float z = vsigmoid(g[i] + gh[i]);
                float v = (1.f - z) * yt[i] + z * hs[i];
                yt[i] = v;
                hs[i] = v;
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
