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

namespace {

// h·Rᵀ (+ bias) for `cols` of the 3h gate units: axpys over rt's contiguous rows.
inline void project(const float *__restrict state, int64_t h, const float *__restrict rt, int64_t g3, int64_t col0, int64_t cols,
                    const float *__restrict bias, float *__restrict out) {
    if (bias) for (int64_t i = 0; i < cols; ++i) out[i] = bias[col0 + i];
    else for (int64_t i = 0; i < cols; ++i) out[i] = 0.f;
    for (int64_t k = 0; k < h; ++k) {
        const float sk = state[k];
        const float *__restrict row = rt + k * g3 + col0;
        for (int64_t i = 0; i < cols; ++i) out[i] += sk * row[i];
    }
}

// One step of one row: g = gx_t (3h), hs = the state (updated), y = this step's output (h).
inline void gru_step(const float *__restrict g, float *__restrict hs, const float *__restrict rt, const float *__restrict rb, int64_t h,
                     int32_t lbr, float *__restrict gh, float *__restrict rh, float *__restrict y) {
    const int64_t g3 = 3 * h;
    // With linear_before_reset = 0 the n block's projection reads r ⊙ h, computed below.
    project(hs, h, rt, g3, 0, lbr ? g3 : 2 * h, rb, gh);
    for (int64_t i = 0; i < h; ++i) rh[i] = vsigmoid(g[h + i] + gh[h + i]);
    if (lbr) {
        for (int64_t i = 0; i < h; ++i) y[i] = vtanh(g[2 * h + i] + rh[i] * gh[2 * h + i]);
    } else {
        for (int64_t i = 0; i < h; ++i) rh[i] *= hs[i];
        project(rh, h, rt, g3, 2 * h, h, rb, gh + 2 * h);
        for (int64_t i = 0; i < h; ++i) y[i] = vtanh(g[2 * h + i] + gh[2 * h + i]);
    }
    for (int64_t i = 0; i < h; ++i) {
        const float z = vsigmoid(g[i] + gh[i]);
        const float v = (1.f - z) * y[i] + z * hs[i];
        y[i] = v;
        hs[i] = v;
    }
}

}  // namespace

rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt, const float *rb,
                       int32_t linear_before_reset, float *y, int64_t ldy) {
    const int64_t g3 = 3 * h;
    for_rows(m, steps * g3 * h, [&](int64_t b) {
        thread_local std::vector<float> scratch;
        if (scratch.size() < size_t(5 * h)) scratch.resize(size_t(5 * h));
        float *hs = scratch.data(), *gh = hs + h, *rh = gh + g3;
        for (int64_t i = 0; i < h; ++i) hs[i] = 0.f;
        for (int64_t t = 0; t < steps; ++t)
            gru_step(gx + b * ldgx + t * g3, hs, rt, rb, h, linear_before_reset, gh, rh, y + b * ldy + t * h);
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
