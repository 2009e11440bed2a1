// rf_cross_layer (DCN-v2): argument checks, then the GEMM driver with a fused
// "x0 * t + x" epilogue (mul = x0, residual = x). Low rank runs V·x into a
// per-thread intermediate [m][r] buffer (grow-only, reused across calls).
#include "gemm.h"

extern "C" {

RF_API rf_status rf_cross_layer(rf_stream, int64_t m, const float *x0, int64_t ldx0, const float *x, int64_t ldx,
                                rf_weight w, rf_weight u, const float *bias, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_cross_layer: weight w is NULL");
        RF_CHECK(m >= 0, "rf_cross_layer: negative m = %lld", (long long)m);
        int64_t d, r = 0;
        if (u == nullptr) {
            d = w->n;
            RF_CHECK(w->k == d, "rf_cross_layer: full rank w must be square [d][d], got [%lld][%lld]",
                     (long long)w->n, (long long)w->k);
        } else {
            d = w->k;
            r = w->n;
            RF_CHECK(u->n == d && u->k == r,
                     "rf_cross_layer: low rank needs w = V [r][d] and u = U [d][r]; got V [%lld][%lld], so U must be "
                     "[%lld][%lld], got [%lld][%lld]",
                     (long long)w->n, (long long)w->k, (long long)d, (long long)r, (long long)u->n, (long long)u->k);
        }
        if (m == 0 || d == 0) return RF_OK;
        RF_CHECK(x0 && x && y, "rf_cross_layer: NULL pointer (x0, x and y are required)");
        RF_CHECK(ldx0 >= d && ldx >= d && ldy >= d,
                 "rf_cross_layer: leading dimensions (ldx0 %lld, ldx %lld, ldy %lld) must be >= d = %lld",
                 (long long)ldx0, (long long)ldx, (long long)ldy, (long long)d);
        RF_CHECK(y != x || ldy == ldx, "rf_cross_layer: y aliases x, so ldy (%lld) must equal ldx (%lld)",
                 (long long)ldy, (long long)ldx);
        if (u == nullptr) {
            rf::GemmArgs a{m, x, ldx, w, bias, RF_ACT_NONE, x0, ldx0, x, ldx, y, ldy};
            return rf::run_gemm(a);
        }
        thread_local rf::AlignedBuf tmp_buf;
        const int64_t ldt = r > 0 ? r : 1;
        float *tmp = static_cast<float *>(tmp_buf.get(size_t(m) * size_t(ldt) * sizeof(float)));
        if (r > 0) {
            rf::GemmArgs a1{m, x, ldx, w, nullptr, RF_ACT_NONE, nullptr, 0, nullptr, 0, tmp, ldt};
            rf_status st = rf::run_gemm(a1);
            if (st != RF_OK) return st;
        }
        rf::GemmArgs a2{m, tmp, ldt, u, bias, RF_ACT_NONE, x0, ldx0, x, ldx, y, ldy};
        return rf::run_gemm(a2);
    });
}

}  // extern "C"
