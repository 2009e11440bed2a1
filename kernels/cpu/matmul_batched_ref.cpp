// Scalar reference of rf_matmul_batched: the triple loop, double accumulation.
#include "tensor_ops.h"

namespace rf::ref {

rf_status matmul_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t sa_b, int64_t sa_m,
                         int64_t sa_k, const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n, float beta, float *y,
                         int64_t sy_b, int64_t sy_m) {
    for (int64_t p = 0; p < batch; ++p)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double acc = 0;
                for (int64_t l = 0; l < k; ++l)
                    acc += double(a[p * sa_b + i * sa_m + l * sa_k]) * double(b[p * sb_b + l * sb_k + j * sb_n]);
                float *out = y + p * sy_b + i * sy_m + j;
                *out = beta != 0.f ? float(acc + double(beta) * double(*out)) : float(acc);
            }
    return RF_OK;
}

}  // namespace rf::ref
