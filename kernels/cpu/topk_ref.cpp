// Scalar reference of rf_topk: k rounds of selecting the best remaining element (O(n k)).
#include "topk.h"

#include <vector>

namespace rf::ref {

rf_status topk(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, float *values, int32_t *indices, int64_t ldk) {
    std::vector<char> taken(static_cast<size_t>(n));
    for (int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * ldx;
        for (auto &t : taken) t = 0;
        for (int64_t t = 0; t < k; ++t) {
            int64_t best = -1;
            for (int64_t j = 0; j < n; ++j)
                if (!taken[size_t(j)] && (best < 0 || topk_before(xi[j], j, xi[best], best))) best = j;
            taken[size_t(best)] = 1;
            values[i * ldk + t] = xi[best];
            indices[i * ldk + t] = int32_t(best);
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
