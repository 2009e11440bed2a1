// rf_cross_layer (DCN-v2): argument checks, then the GEMM driver with a fused
// "x0 * t + x" epilogue (mul = x0, residual = x). Low rank runs V·x into a
// per-thread intermediate [m][r] buffer (grow-only, reused across calls).
#include "gemm.h"
#include "gemm_checks.h"

extern "C" {

RF_API rf_status rf_cross_layer(rf_stream, int64_t m, const float *x0, int64_t ldx0, const float *x, int64_t ldx,
                                rf_weight w, rf_weight u, const float *bias, float *y, int64_t ldy) {
    RF_ENTRY({
        int64_t d = 0, r = 0;
        bool empty = false;
        if (rf_status bad = rf::check_cross(w, u, m, x0, ldx0, x, ldx, y, ldy, &d, &r, &empty); bad != RF_OK || empty) return bad;
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
