// Multiply-accumulate rates of the AVX2 instructions an int8 GEMM can use, against
// vfmadd231ps: the measurement behind the AVX2 int8 path choice in gemm_avx2.cpp
// (on AMD Zen 1 vpmaddwd reaches ~0.79x the FMA MAC rate, vpmaddubsw + vpmaddwd ~0.9x,
// so int8 there runs FMA on dequantised panels). Not part of the library or the sanitizer build.
//   g++ -O2 -mavx2 -mfma kernels/tests/avx2_mac_rates.cpp -o kernels/build/avx2_mac_rates && kernels/build/avx2_mac_rates
// Times are the thread's CPU time (robust to other processes on a shared machine), best of 3.
#include <immintrin.h>

#include <cstdio>
#include <ctime>

namespace {

double cpu_now() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

volatile int g_sink;
alignas(64) short g_a[64 * 16];
constexpr long kIters = 20000000;

// 12 fp32 FMA chains: 8 MACs per instruction.
double fma_rate() {
    const double t0 = cpu_now();
    __m256 c[12];
    for (int i = 0; i < 12; ++i) c[i] = _mm256_set1_ps(float(i));
    const __m256 b = _mm256_set1_ps(.999f), a = _mm256_set1_ps(1e-3f);
    for (long j = 0; j < kIters; ++j)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) c[i] = _mm256_fmadd_ps(c[i], b, a);
    const double s = cpu_now() - t0;
    __m256 z = c[0];
    for (int i = 1; i < 12; ++i) z = _mm256_add_ps(z, c[i]);
    g_sink = _mm256_movemask_ps(z);
    return double(kIters) * 12 * 8 / s * 1e-9;
}

// The 6-row tile of gemm_avx2.cpp's int8 kernel: a qword broadcast of X, vpmaddwd, vpaddd; 16 MACs each.
double maddwd_rate() {
    const double t0 = cpu_now();
    __m256i c[12];
    for (int i = 0; i < 12; ++i) c[i] = _mm256_set1_epi32(i);
    __m256i w0 = _mm256_set1_epi16(3), w1 = _mm256_set1_epi16(5);
    for (long j = 0; j < kIters; ++j) {
        __asm__ volatile("" : "+x"(w0), "+x"(w1));
#pragma GCC unroll 6
        for (int i = 0; i < 6; ++i) {
            const __m256i av = _mm256_set1_epi64x(*reinterpret_cast<const long long *>(g_a + i * 4 + (j & 7) * 24));
            c[2 * i] = _mm256_add_epi32(c[2 * i], _mm256_madd_epi16(av, w0));
            c[2 * i + 1] = _mm256_add_epi32(c[2 * i + 1], _mm256_madd_epi16(av, w1));
        }
    }
    const double s = cpu_now() - t0;
    __m256i z = c[0];
    for (int i = 1; i < 12; ++i) z = _mm256_add_epi32(z, c[i]);
    g_sink = _mm256_movemask_epi8(z);
    return double(kIters) * 12 * 16 / s * 1e-9;
}

// vpmaddubsw widened by vpmaddwd with ones (exact only with 7-bit activations): 32 MACs per pair.
double maddubsw_rate() {
    const double t0 = cpu_now();
    __m256i c[12];
    for (int i = 0; i < 12; ++i) c[i] = _mm256_set1_epi32(i);
    __m256i w0 = _mm256_set1_epi16(3), w1 = _mm256_set1_epi16(5);
    const __m256i ones = _mm256_set1_epi16(1);
    for (long j = 0; j < kIters; ++j) {
        __asm__ volatile("" : "+x"(w0), "+x"(w1));
#pragma GCC unroll 6
        for (int i = 0; i < 6; ++i) {
            const __m256i av = _mm256_set1_epi32(*reinterpret_cast<const int *>(g_a + i * 2 + (j & 7) * 24));
            c[2 * i] = _mm256_add_epi32(c[2 * i], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones));
            c[2 * i + 1] = _mm256_add_epi32(c[2 * i + 1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones));
        }
    }
    const double s = cpu_now() - t0;
    __m256i z = c[0];
    for (int i = 1; i < 12; ++i) z = _mm256_add_epi32(z, c[i]);
    g_sink = _mm256_movemask_epi8(z);
    return double(kIters) * 12 * 32 / s * 1e-9;
}

}  // namespace

int main() {
    double f = 0, m = 0, u = 0;
    for (int rep = 0; rep < 3; ++rep) {
        const double a = fma_rate(), b = maddwd_rate(), c = maddubsw_rate();
        f = a > f ? a : f;
        m = b > m ? b : m;
        u = c > u ? c : u;
    }
    std::printf("vfmadd231ps ymm            %6.1f GMAC/s per core\n", f);
    std::printf("vpmaddwd ymm (int16)       %6.1f GMAC/s  (%.2fx FMA)\n", m, m / f);
    std::printf("vpmaddubsw+vpmaddwd ymm    %6.1f GMAC/s  (%.2fx FMA; exact only with 7-bit activations)\n", u, u / f);
    return 0;
}
