// Shared by the general tensor kernels (rf_unary_nd .. rf_topk_axis): dtype
// sizes, argument checks of shape/stride arrays, and the N-d layout helpers
// (dropping unit dims, merging dims that are contiguous in every operand,
// walking offsets). Entry points, reference and per-ISA code all include it;
// everything is static inline (compiled per ISA, never merged by the linker).
#pragma once
#include "backend.h"

namespace rf {

constexpr int kMaxRank = 8;

static inline int64_t dtype_size(int dtype) {
    switch (dtype) {
    case RF_F32: case RF_I32: return 4;
    case RF_I64: return 8;
    case RF_BOOL: return 1;
    default: return 0;
    }
}

static inline bool tensor_dtype(int dtype) { return dtype_size(dtype) != 0; }

static inline const char *dtype_name(int dtype) {
    switch (dtype) {
    case RF_F32: return "f32";
    case RF_I32: return "i32";
    case RF_I64: return "i64";
    case RF_BOOL: return "bool";
    default: return "unsupported";
    }
}

// Checks rank, shape and the stride arrays of an N-d op; *numel = element count.
// `strides` lists `count` stride arrays (NULL entries are errors when rank > 0).
static inline rf_status check_nd(const char *fn, int32_t rank, const int64_t *shape, const int64_t *const *strides,
                                 const char *const *names, int count, int64_t *numel) {
    if (rank < 0 || rank > kMaxRank) return fail(RF_ERR_INVALID_ARG, "%s: rank = %d must be in [0, %d]", fn, rank, kMaxRank);
    if (rank > 0 && !shape) return fail(RF_ERR_INVALID_ARG, "%s: shape is NULL", fn);
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) {
        if (shape[d] < 0) return fail(RF_ERR_INVALID_ARG, "%s: shape[%d] = %lld is negative", fn, d, (long long)shape[d]);
        n = (n > 0 && shape[d] > INT64_MAX / n) ? -1 : n * shape[d];
        if (n < 0) return fail(RF_ERR_INVALID_ARG, "%s: the shape's element count overflows int64", fn);
    }
    for (int i = 0; i < count; ++i)
        if (rank > 0 && !strides[i]) return fail(RF_ERR_INVALID_ARG, "%s: %s is NULL", fn, names[i]);
    *numel = n;
    return RF_OK;
}

// The layout of K operands over one iteration space, after simplification.
template <int K>
struct NdLayout {
    int rank = 0;
    int64_t shape[kMaxRank];
    int64_t stride[K][kMaxRank];
};

// Drop unit dims, then merge dim d into d+1 wherever every operand has
// stride[d] == stride[d+1] * shape[d+1]. Rank 0 afterwards means one element.
template <int K>
static inline NdLayout<K> simplify(int32_t rank, const int64_t *shape, const int64_t *const *strides) {
    NdLayout<K> l;
    for (int d = 0; d < rank; ++d) {
        if (shape[d] == 1) continue;
        int r = l.rank;
        bool merge = r > 0;
        for (int k = 0; k < K && merge; ++k) merge = l.stride[k][r - 1] == strides[k][d] * shape[d];
        if (merge) {
            l.shape[r - 1] *= shape[d];
            for (int k = 0; k < K; ++k) l.stride[k][r - 1] = strides[k][d];
        } else {
            l.shape[r] = shape[d];
            for (int k = 0; k < K; ++k) l.stride[k][r] = strides[k][d];
            l.rank = r + 1;
        }
    }
    return l;
}

// Offsets of "row" `row` (an index over every dim but the last, row-major) of
// each operand, for a layout of rank >= 1.
template <int K>
static inline void row_offsets(const NdLayout<K> &l, int64_t row, int64_t *off) {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = l.rank - 2; d >= 0; --d) {
        int64_t i = row % l.shape[d];
        row /= l.shape[d];
        for (int k = 0; k < K; ++k) off[k] += i * l.stride[k][d];
    }
}

// Offsets of the element with flat (row-major) index `flat` of each operand.
template <int K>
static inline void index_offsets(const NdLayout<K> &l, int64_t flat, int64_t *off) {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = l.rank - 1; d >= 0; --d) {
        int64_t i = flat % l.shape[d];
        flat /= l.shape[d];
        for (int k = 0; k < K; ++k) off[k] += i * l.stride[k][d];
    }
}

// f(off[K]) for every element of shape (row-major), serially: the walk the
// entry points' value checks and the reference path use.
template <int K, class F>
static inline void for_each_offset(int32_t rank, const int64_t *shape, const int64_t *const *strides, F f) {
    int64_t idx[kMaxRank] = {};
    int64_t off[K] = {};
    for (int d = 0; d < rank; ++d)
        if (shape[d] == 0) return;
    for (;;) {
        f(off);
        int d = rank - 1;
        for (; d >= 0; --d) {
            ++idx[d];
            for (int k = 0; k < K; ++k) off[k] += strides[k][d];
            if (idx[d] < shape[d]) break;
            for (int k = 0; k < K; ++k) off[k] -= strides[k][d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

// Read an i32/i64 index array element as int64.
static inline int64_t index_at(const void *idx, int idx_dtype, int64_t i) {
    return idx_dtype == RF_I32 ? int64_t(static_cast<const int32_t *>(idx)[i]) : static_cast<const int64_t *>(idx)[i];
}

}  // namespace rf
