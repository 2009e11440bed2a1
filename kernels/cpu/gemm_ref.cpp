// Scalar reference of rf_gemm / rf_cross_layer: fp32 X times the dequantised
// original weights (bf16 -> fp32, int8 -> scale * q), fp32 accumulation in k order.
#include "gemm.h"

#include <vector>

namespace rf::ref {

rf_status gemm(const GemmArgs &a) {
    const rf_weight_s &w = *a.w;
    const int64_t n = w.n, k = w.k;
    // Dequantised weights, one row per output channel.
    std::vector<float> wf(size_t(n) * size_t(k));
    for (int64_t j = 0; j < n; ++j)
        for (int64_t l = 0; l < k; ++l) {
            size_t i = size_t(j * k + l);
            float v;
            if (w.dtype == RF_BF16) v = bf16_to_f32(static_cast<const uint16_t *>(w.raw.p)[i]);
            else if (w.dtype == RF_I8) v = w.scales[size_t(j)] * float(static_cast<const int8_t *>(w.raw.p)[i]);
            else v = static_cast<const float *>(w.raw.p)[i];
            wf[i] = v;
        }
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t i = 0; i < a.m; ++i) {
        const float *xi = a.x + i * a.ldx;
        // The whole output row is computed before any of it is written: y may alias x.
        for (int64_t j = 0; j < n; ++j) {
            float acc = a.bias ? a.bias[j] : 0.f;
            const float *wj = wf.data() + j * k;
            for (int64_t l = 0; l < k; ++l) acc += xi[l] * wj[l];
            row[size_t(j)] = acc;
        }
        float *yi = a.y + i * a.ldy;
        for (int64_t j = 0; j < n; ++j) {
            float v = apply_act(a.act, row[size_t(j)]);
            if (a.mul) v *= a.mul[i * a.ldm + j];
            if (a.res) v += a.res[i * a.ldr + j];
            yi[j] = v;
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
