// Scalar reference of rf_target_attention, straight from the header's pseudocode.
#include "target_attention.h"

#include <vector>

namespace rf::ref {

rf_status target_attention(const AttentionArgs &a) {
    std::vector<float> u(size_t(a.d)), hid(size_t(a.h));
    for (int64_t i = 0; i < a.n; ++i) {
        const int64_t r = a.req[i];
        float *o = a.out + i * a.ldo;
        for (int64_t c = 0; c < a.d; ++c) o[c] = 0.f;
        for (int64_t t = 0; t < a.T; ++t) {
            const float m = a.mask[r * a.ldm + t];
            if (m == 0.f) continue;
            const float *k = a.keys + r * a.ldk + t * a.d;
            for (int64_t c = 0; c < a.d; ++c) u[c] = a.q[i * a.ldq + c] * k[c];
            float score = a.b2;
            for (int64_t j = 0; j < a.h; ++j) {
                float acc = a.qp[i * a.ldqp + j] + a.kp[(r * a.T + t) * a.h + j];
                for (int64_t c = 0; c < a.d; ++c) acc += a.wqk[j * a.d + c] * u[c];
                score += a.w2[j] * apply_act(a.act, acc);
            }
            const float at = m * score;
            for (int64_t c = 0; c < a.d; ++c) o[c] += at * k[c];
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
