// The host-side helpers a device library (OpenCL, CUDA) shares with the CPU backend (the
// embedding hot-row cache, the KV store) split batches with rf::parallel_for.
// This library has no CPU thread pool of its own: the tasks run in order on the
// calling thread (the device does the heavy work; these are host bookkeeping).
#include "../../cpu/backend.h"

namespace rf {

void parallel_for_raw(int64_t n, void (*task)(void *ctx, int64_t i, int thread), void *ctx) {
    for (int64_t i = 0; i < n; i++) task(ctx, i, 0);
}

}  // namespace rf
