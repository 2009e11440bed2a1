// The parallel N-d loop of the per-ISA general tensor kernels (multi/tensor_*.cpp):
// a simplified layout (tensor_nd.h) is cut into runs along its last dim, runs
// long enough to vectorise, split over the pool. Only for multi/ sources.
#pragma once
#include "tensor_nd.h"

#ifndef RF_ISA_NS
#error "tensor_loops.h is for multi/*.cpp sources (compiled once per ISA)"
#endif

namespace rf::RF_ISA_NS {
namespace {

// body(off[K], len): one run of `len` elements starting at element offsets off
// (the last dim's strides are l.stride[k][l.rank - 1]). Runs of one row may be
// split when rows are few, so that every thread gets work.
template <int K, class Body>
inline void for_runs(NdLayout<K> &l, Body body) {
    if (l.rank == 0) {
        l.rank = 1;
        l.shape[0] = 1;
        for (int k = 0; k < K; ++k) l.stride[k][0] = 0;
    }
    const int64_t inner = l.shape[l.rank - 1];
    int64_t rows = 1;
    for (int d = 0; d + 1 < l.rank; ++d) rows *= l.shape[d];
    const int64_t threads = num_threads();
    int64_t run = inner;
    if (rows < threads * 4 && inner > 8192) {
        int64_t pieces = (threads * 4 + rows - 1) / rows;
        run = (inner + pieces - 1) / pieces;
        run = run < 4096 ? 4096 : (run + 15) / 16 * 16;
    }
    const int64_t per_row = (inner + run - 1) / run;
    const int64_t units = rows * per_row;
    const int64_t per_task = chunk_size(units, threads * 4, run >= 16384 ? 1 : 16384 / run + 1);
    const int64_t tasks = (units + per_task - 1) / per_task;
    const NdLayout<K> &lc = l;
    parallel_for(tasks, [&](int64_t t, int) {
        const int64_t end = (t + 1) * per_task < units ? (t + 1) * per_task : units;
        for (int64_t u = t * per_task; u < end; ++u) {
            const int64_t row = u / per_row, j0 = (u % per_row) * run;
            int64_t off[K];
            row_offsets(lc, row, off);
            for (int k = 0; k < K; ++k) off[k] += j0 * lc.stride[k][lc.rank - 1];
            body(off, inner - j0 < run ? inner - j0 : run);
        }
    });
}

// Items [0, n) in tasks of at least `min_items`, about 4 per thread: f(begin, end).
template <class F>
inline void for_chunks(int64_t n, int64_t min_items, F f) {
    const int64_t per_task = chunk_size(n, int64_t(num_threads()) * 4, min_items < 1 ? 1 : min_items);
    const int64_t tasks = (n + per_task - 1) / per_task;
    parallel_for(tasks, [&](int64_t t, int) {
        const int64_t b = t * per_task;
        f(b, b + per_task < n ? b + per_task : n);
    });
}

}  // namespace
}  // namespace rf::RF_ISA_NS
