// Scalar reference of rf_dot_interaction (the header's pseudocode).
#include "dot_interaction.h"

namespace rf::ref {

rf_status dot_interaction(int64_t m, int64_t f, int64_t d, const float *x, int64_t ldx, int32_t concat_dense,
                          int32_t self_interaction, float *out, int64_t ldo) {
    for (int64_t b = 0; b < m; ++b) {
        const float *xb = x + b * ldx;
        float *ob = out + b * ldo;
        int64_t o = 0;
        if (concat_dense)
            for (int64_t c = 0; c < d; ++c) ob[o++] = xb[c];
        for (int64_t i = self_interaction ? 0 : 1; i < f; ++i)
            for (int64_t j = 0; j < (self_interaction ? i + 1 : i); ++j) {
                float s = 0.f;
                for (int64_t c = 0; c < d; ++c) s += xb[i * d + c] * xb[j * d + c];
                ob[o++] = s;
            }
    }
    return RF_OK;
}

}  // namespace rf::ref
