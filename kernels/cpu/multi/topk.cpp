// Top-k, compiled once per ISA (RF_ISA_NS); rows split over the pool.
// Small k (<= 64): one pass keeping a sorted buffer of the best k; an element
// enters only if it beats the current k-th (one compare for most elements).
// Larger k: partial sort of an index array under the same strict total order.
#include "../topk.h"

#include <algorithm>
#include <vector>

namespace rf::RF_ISA_NS {

rf_status topk(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values, int32_t *indices, int64_t ldk) {
    const int64_t per_task = chunk_size(m, int64_t(num_threads()) * 4, n >= 16384 ? 1 : 16384 / n + 1);
    const int64_t tasks = (m + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        std::vector<float> bv;
        std::vector<int32_t> bi;
        const int64_t end = (t + 1) * per_task < m ? (t + 1) * per_task : m;
        for (int64_t r = t * per_task; r < end; ++r) {
            const float *xr = x + r * ldx;
            float *vo = values + r * ldk;
            int32_t *io = indices + r * ldk;
            if (k <= 64) {
                bv.assign(size_t(k), 0.f);
                bi.assign(size_t(k), 0);
                int64_t cnt = 0;
                for (int64_t j = 0; j < n; ++j) {
                    float v = xr[j];
                    // Index j is larger than every buffered index, so it enters only when strictly better.
                    if (cnt == k && !topk_before(v, j, bv[size_t(k - 1)], bi[size_t(k - 1)])) continue;
                    int64_t p = cnt < k ? cnt++ : k - 1;
                    while (p > 0 && topk_before(v, j, bv[size_t(p - 1)], bi[size_t(p - 1)])) {
                        bv[size_t(p)] = bv[size_t(p - 1)];
                        bi[size_t(p)] = bi[size_t(p - 1)];
                        --p;
                    }
                    bv[size_t(p)] = v;
                    bi[size_t(p)] = int32_t(j);
                }
                for (int64_t q = 0; q < k; ++q) {
                    vo[q] = bv[size_t(q)];
                    io[q] = bi[size_t(q)];
                }
            } else {
                bi.resize(size_t(n));
                for (int64_t j = 0; j < n; ++j) bi[size_t(j)] = int32_t(j);
                std::partial_sort(bi.begin(), bi.begin() + k, bi.end(),
                                  [&](int32_t a, int32_t b) { return topk_before(xr[a], a, xr[b], b); });
                for (int64_t q = 0; q < k; ++q) {
                    io[q] = bi[size_t(q)];
                    vo[q] = xr[bi[size_t(q)]];
                }
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
