// rf_grouped_gemm (RankMixer's per-token FFNs): argument checks, then one GEMM
// per group through the packed-weight machinery. CPU: groups spread over the
// pool when there are enough of them (each GEMM then runs on one thread),
// otherwise one after another, each parallel inside. Other backends reusing
// this entry (-DRF_DISPATCH_NS) run rf_gemm per group on their stream.
#include "backend.h"
#ifndef RF_DISPATCH_NS
#include "gemm.h"
#endif

#include <vector>

extern "C" RF_API rf_status rf_grouped_gemm(rf_stream s, int64_t groups, int64_t m, const float *x, int64_t ldx,
                                            int64_t x_group_stride, const rf_weight *w, const float *bias,
                                            int64_t bias_group_stride, int32_t act, float *y, int64_t ldy,
                                            int64_t y_group_stride) {
    RF_ENTRY({
        RF_CHECK(groups >= 0 && m >= 0, "rf_grouped_gemm: negative size (groups %lld, m %lld)", (long long)groups, (long long)m);
        RF_CHECK(x_group_stride >= 0 && y_group_stride >= 0 && bias_group_stride >= 0,
                 "rf_grouped_gemm: negative group stride (x %lld, y %lld, bias %lld)", (long long)x_group_stride,
                 (long long)y_group_stride, (long long)bias_group_stride);
        RF_CHECK(rf::valid_act(act), "rf_grouped_gemm: unknown activation %d", act);
        if (groups == 0) return RF_OK;
        RF_CHECK(w != nullptr, "rf_grouped_gemm: w (the array of weight handles) is NULL");
        int64_t n = 0, k = 0;
        for (int64_t g = 0; g < groups; ++g) {
            RF_CHECK(w[g] != nullptr, "rf_grouped_gemm: w[%lld] is NULL", (long long)g);
            int64_t gn = 0, gk = 0;
            rf_weight_shape(w[g], &gn, &gk, nullptr);
            if (g == 0) {
                n = gn;
                k = gk;
            }
            RF_CHECK(gn == n && gk == k, "rf_grouped_gemm: w[%lld] is [%lld, %lld], w[0] is [%lld, %lld] (every group must match)",
                     (long long)g, (long long)gn, (long long)gk, (long long)n, (long long)k);
        }
        if (m == 0 || n == 0) return RF_OK;
        RF_CHECK(y != nullptr && (x != nullptr || k == 0), "rf_grouped_gemm: x and y are required");
        RF_CHECK(ldx >= k && ldy >= n, "rf_grouped_gemm: ldx %lld must be >= k = %lld and ldy %lld >= n = %lld", (long long)ldx,
                 (long long)k, (long long)ldy, (long long)n);
        if (bias && groups > 1) RF_CHECK(bias_group_stride >= n, "rf_grouped_gemm: bias_group_stride %lld must be >= n = %lld",
                                         (long long)bias_group_stride, (long long)n);
#ifdef RF_DISPATCH_NS
        for (int64_t g = 0; g < groups; ++g) {
            rf_status st = rf_gemm(s, m, x + g * x_group_stride, ldx, w[g], bias ? bias + g * bias_group_stride : nullptr, act,
                                   nullptr, 0, y + g * y_group_stride, ldy);
            if (st != RF_OK) return st;
        }
        return RF_OK;
#else
        auto args = [&](int64_t g) {
            return rf::GemmArgs{m, x + g * x_group_stride, ldx, w[g], bias ? bias + g * bias_group_stride : nullptr, act,
                                nullptr, 0, nullptr, 0, y + g * y_group_stride, ldy};
        };
        // Enough groups for every thread, each GEMM small: one group per task.
        if (groups >= rf::num_threads() && m * n * k <= (int64_t(1) << 24)) {
            std::vector<rf_status> status(size_t(groups), RF_OK);
            rf::parallel_for(groups, [&](int64_t g, int) { status[size_t(g)] = rf::run_gemm(args(g)); });
            for (rf_status st : status)
                if (st != RF_OK) return st;
            return RF_OK;
        }
        for (int64_t g = 0; g < groups; ++g)
            if (rf_status st = rf::run_gemm(args(g)); st != RF_OK) return st;
        return RF_OK;
#endif
    });
}
