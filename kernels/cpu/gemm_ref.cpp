// Scalar reference of rf_gemm / rf_cross_layer: fp32 X times the dequantised
// original weights (bf16 -> fp32, int8 -> scale * q), fp32 accumulation in k order.
// The weights are read back out of the packed panels (gemm.h's layout): the
// handle keeps no second, row-major copy of them.
#include "gemm.h"

#include <vector>

namespace rf::ref {

rf_status gemm(const GemmArgs &a) {
    const rf_weight_s &w = *a.w;
    const int64_t n = w.n, k = w.k;
    // Dequantised weights, one row per output channel.
    std::vector<float> wf(size_t(n) * size_t(k));
    const int64_t g = dtype_group(w.dtype);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t l = 0; l < k; ++l) {
            // Element (j, l) of panel j / kNR: [kp/g][kNR][g].
            const size_t at = size_t(j / kNR) * size_t(w.kp) * kNR + size_t((l / g) * kNR + j % kNR) * size_t(g) + size_t(l % g);
            float v;
            if (w.dtype == RF_BF16) v = bf16_to_f32(static_cast<const uint16_t *>(w.packed.p)[at]);
            else if (w.dtype == RF_I8) v = w.scales[size_t(j)] * float(static_cast<const int8_t *>(w.packed.p)[at]);
            else v = static_cast<const float *>(w.packed.p)[at];
            wf[size_t(j * k + l)] = v;
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
