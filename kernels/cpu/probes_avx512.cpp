// AVX-512 probe loops: 16 independent accumulator chains of vfmadd231ps
// (32 flop), vdpbf16ps (64 flop) or vpdpbusd (128 op) per instruction, and a
// streaming read with 512-bit loads.
#include "backend.h"

#include <ctime>
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

namespace rf::avx512 {

namespace {
constexpr int kChains = 16;
// Iterations between clock reads. CLOCK_THREAD_CPUTIME_ID is a real system call (~0.4 us
// here, no vDSO), which cost 512 iterations (~3 us) 11% of the probe: the AVX2 probe read
// 34.6 GFLOP/s per core where the GEMM then ran at 38.2. 16384 iterations (~45 us at 2 zmm FMAs per cycle) keep it < 1%.
constexpr int kInner = 16384;
volatile float g_sinkf;
volatile int g_sinki;

// CPU time of the calling thread: time the thread spends descheduled (other
// processes on a shared core) neither counts nor ends the window early.
double thread_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
double elapsed(double t0) { return thread_seconds() - t0; }
}  // namespace

double peak_ops(int dtype, double seconds, double *cpu_seconds) {
    const double t0 = thread_seconds();
    uint64_t iters = 0;
    if (dtype == RF_F32) {
        __m512 acc[kChains];
        for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
        const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
        do {
            for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 16
                for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
            iters += kInner;
        } while (elapsed(t0) < seconds);
        __m512 s = acc[0];
        for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
        g_sinkf = _mm512_reduce_add_ps(s);
        *cpu_seconds = elapsed(t0);
        return double(iters) * kChains * 32;
    }
    if (dtype == RF_BF16) {
        __m512 acc[kChains];
        for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
        const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
        do {
            for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 16
                for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
            iters += kInner;
        } while (elapsed(t0) < seconds);
        __m512 s = acc[0];
        for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
        g_sinkf = _mm512_reduce_add_ps(s);
        *cpu_seconds = elapsed(t0);
        return double(iters) * kChains * 64;
    }
    __m512i acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
    const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
    do {
        for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 16
            for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
        iters += kInner;
    } while (elapsed(t0) < seconds);
    __m512i s = acc[0];
    for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
    g_sinki = _mm512_reduce_add_epi32(s);
    *cpu_seconds = elapsed(t0);
    return double(iters) * kChains * 128;
}

// Reads the buffer as 8 interleaved streams (8 contiguous eighths, one cache
// line of each per step) with software prefetch: a single sequential stream
// leaves the memory system idle behind the hardware prefetcher, while gathers
// like embedding bags keep many lines in flight. The probe reports what the
// memory can deliver, which is the ceiling those kernels are measured against.
uint64_t read_sum(const void *p, size_t bytes) {
    constexpr int kStreams = 8;
    constexpr size_t kAhead = 16;  // cache lines prefetched ahead in every stream
    const __m512i *q = static_cast<const __m512i *>(p);
    const size_t lines = bytes / 64 / kStreams;
    __m512i acc[kStreams];
    for (int s = 0; s < kStreams; ++s) acc[s] = _mm512_setzero_si512();
    for (size_t i = 0; i < lines; ++i) {
        for (int s = 0; s < kStreams; ++s) {
            const __m512i *line = q + size_t(s) * lines + i;
            if (i + kAhead < lines) _mm_prefetch(reinterpret_cast<const char *>(line + kAhead), _MM_HINT_T0);
            acc[s] = _mm512_add_epi64(acc[s], _mm512_load_si512(line));
        }
    }
    __m512i sum = acc[0];
    for (int s = 1; s < kStreams; ++s) sum = _mm512_add_epi64(sum, acc[s]);
    return uint64_t(_mm512_reduce_add_epi64(sum));
}

}  // namespace rf::avx512
