// Scalar reference of rf_cumsum_axis (double sums for f32) and rf_topk_axis
// (k rounds of selecting the best remaining element, O(n k)).
#include "tensor_ops.h"
#include "tensor_scalar.h"

#include <vector>

namespace rf::ref {
namespace {

template <class T, class Acc>
void cumsum_typed(int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse, const T *x, T *y) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            Acc acc = 0;
            for (int64_t s = 0; s < n; ++s) {
                int64_t j = reverse ? n - 1 - s : s;
                int64_t at = (o * n + j) * inner + i;
                T v = x[at];
                if (exclusive) y[at] = T(acc);
                if constexpr (std::is_same_v<T, float>) acc += double(v);
                else acc = wrap_add(acc, v);
                if (!exclusive) y[at] = T(acc);
            }
        }
}

}  // namespace

rf_status cumsum_axis(int dtype, int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse, const void *x,
                      void *y) {
    if (dtype == RF_F32)
        cumsum_typed<float, double>(outer, n, inner, exclusive, reverse, static_cast<const float *>(x), static_cast<float *>(y));
    else if (dtype == RF_I32)
        cumsum_typed<int32_t, int32_t>(outer, n, inner, exclusive, reverse, static_cast<const int32_t *>(x), static_cast<int32_t *>(y));
    else
        cumsum_typed<int64_t, int64_t>(outer, n, inner, exclusive, reverse, static_cast<const int64_t *>(x), static_cast<int64_t *>(y));
    return RF_OK;
}

rf_status topk_axis(int64_t outer, int64_t n, int64_t inner, int64_t k, int largest, const float *x, float *values,
                    int64_t *indices) {
    std::vector<char> taken(static_cast<size_t>(n));
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float *xs = x + o * n * inner + i;
            for (auto &t : taken) t = 0;
            for (int64_t t = 0; t < k; ++t) {
                int64_t best = -1;
                for (int64_t j = 0; j < n; ++j)
                    if (!taken[size_t(j)] && (best < 0 || topk_axis_before(largest != 0, xs[j * inner], j, xs[best * inner], best)))
                        best = j;
                taken[size_t(best)] = 1;
                values[(o * k + t) * inner + i] = xs[best * inner];
                indices[(o * k + t) * inner + i] = best;
            }
        }
    return RF_OK;
}

}  // namespace rf::ref
