// Shared helpers for the row-wise ops compiled per ISA (multi/*.cpp): the
// row-splitting loop and 16-lane reductions the vectoriser turns into one zmm
// (AVX-512), two ymm (AVX2) or four xmm (portable) accumulators.
// Only included by multi/ sources; everything here is static inline in the
// per-ISA namespace, so no ISA-specific code is shared between objects.
#pragma once
#include "backend.h"

#ifndef RF_ISA_NS
#error "row_ops.h is for multi/*.cpp sources (compiled once per ISA)"
#endif

namespace rf::RF_ISA_NS {
namespace {

// Run op(i) for every row i < m on the pool, ~16K elements of work per task.
template <class Op>
inline void for_rows(int64_t m, int64_t n, Op op) {
    int64_t per_task = chunk_size(m, int64_t(num_threads()) * 4, n >= 16384 ? 1 : 16384 / (n + 1) + 1);
    int64_t tasks = (m + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        int64_t end = (t + 1) * per_task < m ? (t + 1) * per_task : m;
        for (int64_t i = t * per_task; i < end; ++i) op(i);
    });
}

constexpr int kLanes = 16;

inline float hsum(const float *acc) {
    float s = 0.f;
    for (int l = 0; l < kLanes; ++l) s += acc[l];
    return s;
}

inline float row_sum(const float *x, int64_t n) {
    float acc[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l) acc[l] += x[j + l];
    for (int l = 0; j + l < n; ++l) acc[l] += x[j + l];
    return hsum(acc);
}

inline float row_sum_sq_dev(const float *x, int64_t n, float mu) {
    float acc[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            float d = x[j + l] - mu;
            acc[l] += d * d;
        }
    for (int l = 0; j + l < n; ++l) {
        float d = x[j + l] - mu;
        acc[l] += d * d;
    }
    return hsum(acc);
}

inline float row_max(const float *x, int64_t n) {
    float acc[kLanes];
    for (int l = 0; l < kLanes; ++l) acc[l] = -__builtin_inff();
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    for (int l = 0; j + l < n; ++l) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    float m = acc[0];
    for (int l = 1; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
    return m;
}

}  // namespace
}  // namespace rf::RF_ISA_NS
