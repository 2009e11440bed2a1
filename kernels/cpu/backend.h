// Private contract of the CPU backend: error reporting, ISA dispatch, the
// thread pool and scalar conversions shared by every op file.
//
// Layout of kernels/cpu/ (the build script follows these name rules):
//   <op>.cpp            exported rf_* entry: validates arguments, dispatches on ISA
//   <op>_ref.cpp        scalar reference, namespace rf::ref (the parity oracle)
//   <op>_avx512.cpp     hand-written AVX-512 path, namespace rf::avx512
//   <op>_avx2.cpp       hand-written AVX2+FMA path, namespace rf::avx2
//   multi/<op>.cpp      one portable source compiled three times, into
//                       rf::portable, rf::avx2 and rf::avx512 (RF_ISA_NS), for
//                       ops where the compiler's vectoriser is good enough.
#pragma once

#include "../include/rankfn.h"

#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

namespace rf {

// ------------------------------------------------------------------ errors

// Record a printf-style message for rf_last_error() and return `status`.
rf_status fail(rf_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void clear_error();

// Wrap an entry point body (which returns a status): C++ exceptions never cross the ABI.
#define RF_ENTRY(...)                                                               \
    try {                                                                           \
        ::rf::clear_error();                                                        \
        __VA_ARGS__                                                                 \
    } catch (const std::bad_alloc &) {                                              \
        return ::rf::fail(RF_ERR_OUT_OF_MEMORY, "%s: out of memory", __func__);     \
    } catch (...) {                                                                 \
        return ::rf::fail(RF_ERR_INTERNAL, "%s: internal error", __func__);         \
    }                                                                               \
    return ::rf::fail(RF_ERR_INTERNAL, "%s: returned no status", __func__)

#define RF_CHECK(cond, ...)                                     \
    do {                                                        \
        if (!(cond)) return ::rf::fail(RF_ERR_INVALID_ARG, __VA_ARGS__); \
    } while (0)

// ------------------------------------------------------------------ ISA dispatch

rf_isa active_isa();
rf_isa best_isa();

// Call ns::fn(args...) for the active ISA's namespace. Another backend that
// reuses these entry points (argument checks included) compiles them with
// -DRF_DISPATCH_NS=<its namespace>, e.g. kernels/opencl/ with rf::ocl.
// Entry points name their stream `s`; that backend's functions take it first
// and declare themselves (force-included header), so the ISA declarations of
// the op headers are dropped.
#ifdef RF_DISPATCH_NS
#define RF_DISPATCH(fn, ...) return ::rf::RF_DISPATCH_NS::fn(s, __VA_ARGS__)
#define RF_DECLARE_ALL_ISAS(decls)
#else
#define RF_DISPATCH(fn, ...)                                      \
    do {                                                          \
        switch (::rf::active_isa()) {                             \
        case RF_ISA_AVX512: return ::rf::avx512::fn(__VA_ARGS__); \
        case RF_ISA_AVX2: return ::rf::avx2::fn(__VA_ARGS__);     \
        case RF_ISA_PORTABLE: return ::rf::portable::fn(__VA_ARGS__); \
        default: return ::rf::ref::fn(__VA_ARGS__);               \
        }                                                         \
    } while (0)

// Declare `decls` (a list of function prototypes) in every ISA namespace.
#define RF_DECLARE_ALL_ISAS(decls)            \
    namespace ref { decls }                   \
    namespace portable { decls }              \
    namespace avx2 { decls }                  \
    namespace avx512 { decls }
#endif

// ------------------------------------------------------------------ thread pool

int num_threads();
void set_num_threads(int n);

// Run task(i, thread) for i in [0, n) on the pool; `thread` is in [0, num_threads()).
// Tasks are handed out dynamically; the call returns when all are done. Runs
// serially when n <= 1, when called from inside a pool task, or when another
// thread is already using the pool (concurrent batches never deadlock).
void parallel_for_raw(int64_t n, void (*task)(void *ctx, int64_t i, int thread), void *ctx);

// Pools owned by streams (CPU core groups, rf_stream_create_pool).
class Pool;
// A pool of `threads` threads (its caller included) whose workers pin
// themselves to cpus[0..num_cpus) (num_cpus == 0: unpinned).
Pool *pool_create(int threads, const int *cpus, int num_cpus);
void pool_destroy(Pool *p);
int pool_size(const Pool *p);
int pool_pinned_workers(const Pool *p);
// Pin the calling thread to the pool's cpus; false where the OS refuses.
bool pin_current_thread(const Pool *p);
// Route this thread's parallel_for (and num_threads()) to `p` (nullptr: the
// library's default pool). Returns the previous binding.
Pool *bind_pool(Pool *p);

template <class F>
static inline void parallel_for(int64_t n, F &&f) {
    parallel_for_raw(
        n, [](void *ctx, int64_t i, int thread) { (*static_cast<F *>(ctx))(i, thread); },
        const_cast<void *>(static_cast<const void *>(&f)));
}

// Header functions are `static inline`: this header is included by translation
// units compiled with different -m flags, and a plain `inline` function would be
// merged by the linker into one copy (possibly an AVX-512 one run on the
// portable path).

// Split [0, total) into about `parts` chunks of at least `min_chunk`; returns the chunk size.
static inline int64_t chunk_size(int64_t total, int64_t parts, int64_t min_chunk) {
    if (parts < 1) parts = 1;
    int64_t c = (total + parts - 1) / parts;
    return c < min_chunk ? min_chunk : c;
}

// ------------------------------------------------------------------ scalar conversions

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Round to nearest even; NaN stays NaN.
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Scalar activations (the reference for every vectorised epilogue).
float apply_act(int act, float x);
static inline bool valid_act(int act) { return act >= RF_ACT_NONE && act <= RF_ACT_TANH; }

}  // namespace rf
