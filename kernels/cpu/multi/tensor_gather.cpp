// rf_gather_axis / rf_gather_elements / rf_scatter_nd, compiled once per ISA
// (RF_ISA_NS); indices arrive range-checked. Gather: a memcpy of `inner`
// elements per (outer, index), split over the pool. ScatterND: updates are
// applied in order (so duplicates resolve like the reference); tasks own
// column blocks of the slice, never an element another task touches.
#include "../tensor_loops.h"
#include "../tensor_ops.h"
#include "../tensor_scalar.h"

#include <cstring>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

inline int64_t wrap_index(int64_t t, int64_t len) { return t < 0 ? t + len : t; }

template <class T>
void gather_axis_typed(int64_t outer, int64_t axis_len, int64_t inner, const T *x, const void *idx, int idx_dtype,
                       int64_t num_idx, int per_outer, T *y) {
    if (inner == 1) {
        for_chunks(outer * num_idx, 4096, [&](int64_t u0, int64_t u1) {
            for (int64_t u = u0; u < u1; ++u) {
                const int64_t o = u / num_idx, j = u % num_idx;
                y[u] = x[o * axis_len + wrap_index(index_at(idx, idx_dtype, per_outer ? u : j), axis_len)];
            }
        });
        return;
    }
    for_chunks(outer * num_idx, inner >= 4096 ? 1 : 4096 / inner + 1, [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t o = u / num_idx, j = u % num_idx;
            const int64_t t = wrap_index(index_at(idx, idx_dtype, per_outer ? u : j), axis_len);
            std::memcpy(y + u * inner, x + (o * axis_len + t) * inner, size_t(inner) * sizeof(T));
        }
    });
}

template <class T>
void gather_elements_typed(int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const T *x, const void *idx,
                           int idx_dtype, T *y) {
    for_chunks(outer * n_out, inner >= 4096 ? 1 : 4096 / inner + 1, [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
            const T *xo = x + (u / n_out) * n_in * inner;
            T *yr = y + u * inner;
            if (idx_dtype == RF_I32) {
                const int32_t *ir = static_cast<const int32_t *>(idx) + u * inner;
                for (int64_t i = 0; i < inner; ++i) yr[i] = xo[wrap_index(ir[i], n_in) * inner + i];
            } else {
                const int64_t *ir = static_cast<const int64_t *>(idx) + u * inner;
                for (int64_t i = 0; i < inner; ++i) yr[i] = xo[wrap_index(ir[i], n_in) * inner + i];
            }
        }
    });
}

template <class T, class F>
void scatter_apply(int64_t num_updates, int64_t slice, const int64_t *base, const T *updates, T *y, F f) {
    const int64_t block = slice >= 8192 ? 2048 : slice;
    const int64_t blocks = (slice + block - 1) / block;
    for_chunks(blocks, num_updates * slice >= 65536 ? 1 : blocks, [&](int64_t b0, int64_t b1) {
        const int64_t e0 = b0 * block, e1 = b1 * block < slice ? b1 * block : slice;
        for (int64_t u = 0; u < num_updates; ++u) {
            T *yr = y + base[u];
            const T *ur = updates + u * slice;
            for (int64_t e = e0; e < e1; ++e) yr[e] = f(yr[e], ur[e]);
        }
    });
}

template <class T>
void scatter_nd_typed(int reduction, int data_rank, const int64_t *shape, const void *idx, int idx_dtype,
                      int64_t num_updates, int depth, const T *updates, T *y) {
    int64_t slice = 1;
    for (int d = depth; d < data_rank; ++d) slice *= shape[d];
    std::vector<int64_t> base(static_cast<size_t>(num_updates));
    for (int64_t u = 0; u < num_updates; ++u) {
        int64_t b = 0;
        for (int d = 0; d < depth; ++d) b = b * shape[d] + wrap_index(index_at(idx, idx_dtype, u * depth + d), shape[d]);
        base[size_t(u)] = b * slice;
    }
    switch (reduction) {
    case 1:
        if constexpr (std::is_same_v<T, float>) scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return a + v; });
        else scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return wrap_add(a, v); });
        break;
    case 2:
        if constexpr (std::is_same_v<T, float>) scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return a * v; });
        else scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return wrap_mul(a, v); });
        break;
    case 3: scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return max_nan(a, v); }); break;
    case 4: scatter_apply(num_updates, slice, base.data(), updates, y, [](T a, T v) { return min_nan(a, v); }); break;
    default: scatter_apply(num_updates, slice, base.data(), updates, y, [](T, T v) { return v; }); break;
    }
}

}  // namespace

#define RF_BY_DTYPE(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case RF_F32: { using T = float; CALL; break; }                   \
    case RF_I32: { using T = int32_t; CALL; break; }                 \
    case RF_I64: { using T = int64_t; CALL; break; }                 \
    default: { using T = uint8_t; CALL; break; }                     \
    }

rf_status gather_axis(int dtype, int64_t outer, int64_t axis_len, int64_t inner, const void *x, const void *idx,
                      int idx_dtype, int64_t num_idx, int idx_per_outer, void *y) {
    RF_BY_DTYPE(dtype, gather_axis_typed(outer, axis_len, inner, static_cast<const T *>(x), idx, idx_dtype, num_idx,
                                         idx_per_outer, static_cast<T *>(y)))
    return RF_OK;
}

rf_status gather_elements(int dtype, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner, const void *x,
                          const void *idx, int idx_dtype, void *y) {
    RF_BY_DTYPE(dtype, gather_elements_typed(outer, n_in, n_out, inner, static_cast<const T *>(x), idx, idx_dtype,
                                             static_cast<T *>(y)))
    return RF_OK;
}

rf_status scatter_nd(int dtype, int reduction, int data_rank, const int64_t *data_shape, const void *idx, int idx_dtype,
                     int64_t num_updates, int index_depth, const void *updates, void *y) {
    RF_BY_DTYPE(dtype, scatter_nd_typed(reduction, data_rank, data_shape, idx, idx_dtype, num_updates, index_depth,
                                        static_cast<const T *>(updates), static_cast<T *>(y)))
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
