// rf_probe_peak_gflops / rf_probe_mem_bandwidth: machine probes run on
// `threads` std::threads (not the pool, so the probe does not depend on the
// pool size). The instruction loops live in probes_avx512.cpp / probes_avx2.cpp.
// The peak is per-thread CPU time, best of several windows, summed over threads:
// what the cores can do, which a kernel's wall-clock figure must not exceed.
#include "backend.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace rf {
namespace avx512 {
double peak_ops(int dtype, double seconds, double *cpu_seconds);
uint64_t read_sum(const void *p, size_t bytes);
}  // namespace avx512
namespace avx2 {
double peak_ops(int dtype, double seconds, double *cpu_seconds);
uint64_t read_sum(const void *p, size_t bytes);
}  // namespace avx2

namespace {

constexpr int kMaxProbeThreads = 256;
constexpr double kPeakSeconds = 0.15;
constexpr int kPeakWindows = 5;  // the best of several windows: the peak is a ceiling, not an average

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t read_sum_portable(const void *p, size_t bytes) {
    const uint64_t *q = static_cast<const uint64_t *>(p);
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
        s0 += q[i];
        s1 += q[i + 1];
        s2 += q[i + 2];
        s3 += q[i + 3];
    }
    return s0 ^ s1 ^ s2 ^ s3;
}

uint64_t read_sum(const void *p, size_t bytes) {
    switch (best_isa()) {
    case RF_ISA_AVX512: return avx512::read_sum(p, bytes);
    case RF_ISA_AVX2: return avx2::read_sum(p, bytes);
    default: return read_sum_portable(p, bytes);
    }
}

// Run f(thread) on `threads` std::threads released together.
template <class F>
void on_threads(int threads, F &&f) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    pool.reserve(size_t(threads));
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            f(t);
        });
    while (ready.load() != threads) std::this_thread::yield();
    go.store(true, std::memory_order_release);
    for (auto &th : pool) th.join();
}

std::atomic<uint64_t> g_sink{0};

}  // namespace
}  // namespace rf

extern "C" {

RF_API rf_status rf_probe_peak_gflops(int32_t threads, int32_t dtype, double *gflops) {
    RF_ENTRY({
        RF_CHECK(gflops != nullptr, "rf_probe_peak_gflops: gflops is NULL");
        RF_CHECK(threads >= 1 && threads <= rf::kMaxProbeThreads, "rf_probe_peak_gflops: threads must be in [1, %d], got %d",
                 rf::kMaxProbeThreads, threads);
        RF_CHECK(dtype == RF_F32 || dtype == RF_BF16 || dtype == RF_I8,
                 "rf_probe_peak_gflops: dtype must be RF_F32, RF_BF16 or RF_I8, got %d", dtype);
        // The active ISA's instructions: under RANKFN_ISA=avx2 an AVX-512 machine reports the
        // AVX2 peak, the ceiling of the path its kernels then run.
        const rf_isa isa = rf::active_isa();
        // AVX2 int8 is vpmaddwd (the int8 GEMM's instruction there); AVX2 has no bf16 dot product.
        if (isa < RF_ISA_AVX2 || (isa == RF_ISA_AVX2 && dtype == RF_BF16))
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_probe_peak_gflops: this CPU has no %s dot-product instructions",
                            dtype == RF_F32 ? "vector FMA" : dtype == RF_BF16 ? "bf16" : "int8");
        std::vector<double> rate(size_t(threads), 0.0);
        // Each thread's rate is ops per second of its own CPU time (the ISA loops time
        // themselves with CLOCK_THREAD_CPUTIME_ID), so preemption by other processes on a
        // shared machine cannot pull the figure below the hardware's.
        rf::on_threads(threads, [&](int t) {
            for (int wdw = 0; wdw < rf::kPeakWindows; ++wdw) {
                double cpu = 0;
                const double window = rf::kPeakSeconds / rf::kPeakWindows;
                double ops = isa == RF_ISA_AVX512 ? rf::avx512::peak_ops(dtype, window, &cpu)
                                                  : rf::avx2::peak_ops(dtype, window, &cpu);
                if (cpu > 0 && ops / cpu > rate[size_t(t)]) rate[size_t(t)] = ops / cpu;
            }
        });
        double total = 0;
        for (double r : rate) total += r;
        *gflops = total * 1e-9;
        return RF_OK;
    });
}

RF_API rf_status rf_probe_mem_bandwidth(int32_t threads, double *gbytes_per_s) {
    RF_ENTRY({
        RF_CHECK(gbytes_per_s != nullptr, "rf_probe_mem_bandwidth: gbytes_per_s is NULL");
        RF_CHECK(threads >= 1 && threads <= rf::kMaxProbeThreads,
                 "rf_probe_mem_bandwidth: threads must be in [1, %d], got %d", rf::kMaxProbeThreads, threads);
        // 1 GiB: several times the (large, 260 MiB class) L3 of current server parts.
        const size_t bytes = size_t(1) << 30;
        void *buf = std::aligned_alloc(4096, bytes);
        if (!buf) return rf::fail(RF_ERR_OUT_OF_MEMORY, "rf_probe_mem_bandwidth: cannot allocate 1 GiB");
        struct Free {
            void *p;
            ~Free() { std::free(p); }
        } guard{buf};
        const size_t slice = bytes / size_t(threads) / 4096 * 4096;
        // First touch by the thread that will read the slice.
        rf::on_threads(threads, [&](int t) { std::memset(static_cast<char *>(buf) + size_t(t) * slice, t + 1, slice); });
        double best = 0;
        for (int pass = 0; pass < 5; ++pass) {
            auto t0 = std::chrono::steady_clock::now();
            rf::on_threads(threads, [&](int t) {
                rf::g_sink.fetch_add(rf::read_sum(static_cast<char *>(buf) + size_t(t) * slice, slice),
                                     std::memory_order_relaxed);
            });
            double s = rf::seconds_since(t0);
            double gbps = double(slice) * threads / s * 1e-9;
            if (gbps > best) best = gbps;
        }
        *gbytes_per_s = best;
        return RF_OK;
    });
}

}  // extern "C"
