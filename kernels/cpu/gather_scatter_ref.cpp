// Scalar reference of rf_gather_rows / rf_scatter_add_rows (rows in index order).
#include "gather_scatter.h"

namespace rf::ref {

rf_status gather_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx, const float *weights,
                      float *dst, int64_t ldd) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < d; ++c) dst[i * ldd + c] = (weights ? weights[i] : 1.f) * src[int64_t(idx[i]) * lds + c];
    return RF_OK;
}

rf_status scatter_add_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx, const float *weights,
                           float *dst, int64_t ldd, int64_t) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < d; ++c) dst[int64_t(idx[i]) * ldd + c] += (weights ? weights[i] : 1.f) * src[i * lds + c];
    return RF_OK;
}

}  // namespace rf::ref
