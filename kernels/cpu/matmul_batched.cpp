// rf_matmul_batched: argument checks and ISA dispatch.
#include "tensor_ops.h"

#include <cmath>

extern "C" {

RF_API rf_status rf_matmul_batched(rf_stream s, int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
                                   int64_t sa_b, int64_t sa_m, int64_t sa_k, const float *b, int64_t sb_b,
                                   int64_t sb_k, int64_t sb_n, float beta, float *y, int64_t sy_b, int64_t sy_m) {
    RF_ENTRY({
        RF_CHECK(batch >= 0 && m >= 0 && n >= 0 && k >= 0, "rf_matmul_batched: negative shape [batch %lld, m %lld, n %lld, k %lld]",
                 (long long)batch, (long long)m, (long long)n, (long long)k);
        RF_CHECK(std::isfinite(beta), "rf_matmul_batched: beta = %g must be finite", double(beta));
        if (batch == 0 || m == 0 || n == 0) return RF_OK;
        RF_CHECK(y != nullptr, "rf_matmul_batched: y is NULL");
        RF_CHECK(k == 0 || (a != nullptr && b != nullptr), "rf_matmul_batched: a or b is NULL");
        // y rows must not overlap each other (n contiguous values per row).
        RF_CHECK(m == 1 || sy_m >= n || sy_m <= -n, "rf_matmul_batched: sy_m = %lld makes rows of %lld values overlap",
                 (long long)sy_m, (long long)n);
        RF_DISPATCH(matmul_batched, batch, m, n, k, a, sa_b, sa_m, sa_k, b, sb_b, sb_k, sb_n, beta, y, sy_b, sy_m);
    });
}

}  // extern "C"
