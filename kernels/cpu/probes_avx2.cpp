// AVX2 probe loops: 14 independent vfmadd231ps ymm chains (16 flop each), for
// int8 14 vpmaddwd chains (16 s16 x s16 multiply-adds: 32 ops each, the AVX2
// int8 GEMM's instruction), and a streaming read with 256-bit loads. No bf16
// dot product at this level.
// 14 chains cover latency x throughput with margin on every AVX2 core (Zen 1:
// two 128-bit FMA pipes, latency 5, so a ymm FMA per cycle needs >= 5 chains;
// Haswell..Zen 4: 2 ymm per cycle, latency 4-5, >= 10) and, with the two
// constants, fill the 16 ymm registers without spilling.
#include "backend.h"

#include <ctime>
#include <immintrin.h>

namespace rf::avx2 {

namespace {
constexpr int kChains = 14;
// Iterations between clock reads. CLOCK_THREAD_CPUTIME_ID is a real system call (~0.4 us
// here, no vDSO), which cost 512 iterations (~3 us) 11% of the probe: the AVX2 probe read
// 34.6 GFLOP/s per core where the GEMM then ran at 38.2. 16384 iterations (~100 us on Zen 1) keep it < 1%.
constexpr int kInner = 16384;
volatile float g_sinkf;

// CPU time of the calling thread: time the thread spends descheduled (other
// processes on a shared core) neither counts nor ends the window early.
double thread_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
double elapsed(double t0) { return thread_seconds() - t0; }
}  // namespace

// vpmaddwd chains: each result feeds the next (its int16 halves as the next pairs), so nothing is
// loop-invariant; the chains hide its 3-5 cycle latency at 2 per cycle.
double peak_ops_i16(double seconds, double *cpu_seconds) {
    const double t0 = thread_seconds();
    uint64_t iters = 0;
    __m256i acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi16(short(i + 1));
    const __m256i b = _mm256_set1_epi16(1);
    do {
        for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 14
            for (int i = 0; i < kChains; ++i) acc[i] = _mm256_madd_epi16(acc[i], b);
        iters += kInner;
    } while (elapsed(t0) < seconds);
    __m256i s = acc[0];
    for (int i = 1; i < kChains; ++i) s = _mm256_add_epi32(s, acc[i]);
    g_sinkf = float(_mm256_extract_epi32(s, 0));
    *cpu_seconds = elapsed(t0);
    return double(iters) * kChains * 32;
}

double peak_ops(int dtype, double seconds, double *cpu_seconds) {
    if (dtype == RF_I8) return peak_ops_i16(seconds, cpu_seconds);
    const double t0 = thread_seconds();
    uint64_t iters = 0;
    __m256 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    do {
        for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 14
            for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
        iters += kInner;
    } while (elapsed(t0) < seconds);
    __m256 s = acc[0];
    for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, s);
    g_sinkf = tmp[0] + tmp[7];
    *cpu_seconds = elapsed(t0);
    return double(iters) * kChains * 16;
}

uint64_t read_sum(const void *p, size_t bytes) {
    const __m256i *q = static_cast<const __m256i *>(p);
    const size_t n = bytes / 32;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256(q + i));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256(q + i + 1));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256(q + i + 2));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256(q + i + 3));
    }
    for (; i < n; ++i) s0 = _mm256_add_epi64(s0, _mm256_load_si256(q + i));
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    alignas(32) uint64_t t[4];
    _mm256_store_si256(reinterpret_cast<__m256i *>(t), s0);
    return t[0] + t[1] + t[2] + t[3];
}

}  // namespace rf::avx2
