// rf_cumsum_axis and rf_topk_axis, compiled once per ISA (RF_ISA_NS).
// CumSum: inner == 1 scans each row serially (rows over the pool); inner > 1
// carries a block of up to 512 running sums along the axis (the inner loop
// vectorises). TopK: per (outer, inner) column, the column is copied to a
// buffer when strided; k <= 64 keeps a sorted buffer of the best k in one
// pass, larger k partially sorts an index array; same order as the reference.
#include "../tensor_loops.h"
#include "../tensor_ops.h"
#include "../tensor_scalar.h"

#include <algorithm>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

constexpr int64_t kBlock = 512;

template <class T, class Acc>
void cumsum_typed(int64_t outer, int64_t n, int64_t inner, int exclusive, int reverse, const T *x, T *y) {
    auto add = [](Acc a, T v) {
        if constexpr (std::is_same_v<T, float>) return a + double(v);
        else return wrap_add(a, v);
    };
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    const int64_t w_max = inner < kBlock ? inner : kBlock;
    for_chunks(outer * blocks, n * w_max >= 16384 ? 1 : 16384 / (n * w_max + 1) + 1, [&](int64_t u0, int64_t u1) {
        Acc acc[kBlock];
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
            const int64_t w = inner - i0 < kBlock ? inner - i0 : kBlock;
            for (int64_t i = 0; i < w; ++i) acc[i] = Acc(0);
            for (int64_t s = 0; s < n; ++s) {
                const int64_t j = reverse ? n - 1 - s : s;
                const T *xr = x + (o * n + j) * inner + i0;
                T *yr = y + (o * n + j) * inner + i0;
                if (exclusive) {
                    for (int64_t i = 0; i < w; ++i) {
                        const T v = xr[i];
                        yr[i] = T(acc[i]);
                        acc[i] = add(acc[i], v);
                    }
                } else {
                    for (int64_t i = 0; i < w; ++i) {
                        acc[i] = add(acc[i], xr[i]);
                        yr[i] = T(acc[i]);
                    }
                }
            }
        }
    });
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
    const bool lg = largest != 0;
    for_chunks(outer * inner, n >= 16384 ? 1 : 16384 / (n + 1) + 1, [&](int64_t u0, int64_t u1) {
        std::vector<float> col(inner == 1 ? 0 : size_t(n)), bv;
        std::vector<int64_t> bi;
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / inner, i = u % inner;
            const float *xc = x + o * n * inner + i;
            if (inner != 1) {
                for (int64_t j = 0; j < n; ++j) col[size_t(j)] = xc[j * inner];
                xc = col.data();
            }
            float *vo = values + o * k * inner + i;
            int64_t *io = indices + o * k * inner + i;
            if (k <= 64) {
                bv.assign(size_t(k), 0.f);
                bi.assign(size_t(k), 0);
                int64_t cnt = 0;
                for (int64_t j = 0; j < n; ++j) {
                    const float v = xc[j];
                    if (cnt == k && !topk_axis_before(lg, v, j, bv[size_t(k - 1)], bi[size_t(k - 1)])) continue;
                    int64_t p = cnt < k ? cnt++ : k - 1;
                    while (p > 0 && topk_axis_before(lg, v, j, bv[size_t(p - 1)], bi[size_t(p - 1)])) {
                        bv[size_t(p)] = bv[size_t(p - 1)];
                        bi[size_t(p)] = bi[size_t(p - 1)];
                        --p;
                    }
                    bv[size_t(p)] = v;
                    bi[size_t(p)] = j;
                }
                for (int64_t q = 0; q < k; ++q) vo[q * inner] = bv[size_t(q)], io[q * inner] = bi[size_t(q)];
            } else {
                bi.resize(size_t(n));
                for (int64_t j = 0; j < n; ++j) bi[size_t(j)] = j;
                std::partial_sort(bi.begin(), bi.begin() + k, bi.end(),
                                  [&](int64_t a, int64_t b) { return topk_axis_before(lg, xc[a], a, xc[b], b); });
                for (int64_t q = 0; q < k; ++q) io[q * inner] = bi[size_t(q)], vo[q * inner] = xc[bi[size_t(q)]];
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
