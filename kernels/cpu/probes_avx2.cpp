// AVX2 probe loops: 12 independent vfmadd231ps ymm chains (16 flop each) and a
// streaming read with 256-bit loads. No bf16 / int8 dot products at this level.
#include "backend.h"

#include <chrono>
#include <immintrin.h>

namespace rf::avx2 {

namespace {
constexpr int kChains = 12;
constexpr int kInner = 512;
volatile float g_sinkf;

double elapsed(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

double peak_ops(int, double seconds) {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t iters = 0;
    __m256 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    do {
        for (int it = 0; it < kInner; ++it)
#pragma GCC unroll 12
            for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
        iters += kInner;
    } while (elapsed(t0) < seconds);
    __m256 s = acc[0];
    for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, s);
    g_sinkf = tmp[0] + tmp[7];
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
