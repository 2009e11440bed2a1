// GEMM timing / parity tool (not part of the library or the sanitizer build).
// Build after `bun kernels/build.ts`, from the repository root:
//   g++ -O2 -std=c++20 -pthread kernels/tests/gemm_bench.cpp -o kernels/build/gemm_bench \
//       -Lkernels/build -lrankfn_cpu -Wl,-rpath,$PWD/kernels/build
// Run: kernels/build/gemm_bench [--no-probe] [M ...]
// Prints the probes (peak GFLOP/s per dtype, memory GB/s), then GFLOP/s of
// rf_gemm for K = N = 1024 at each M, each dtype, 1 and 2 threads (median of
// repeated calls, ~0.3 s each; best and median), with a parity check against the reference at M = 64.
#include "../include/rankfn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

static void threads(int n) {
    rf_set_num_threads(n);
}

int main(int argc, char **argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    threads(2);
    bool probe = true;
    std::vector<int64_t> ms;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--no-probe")) probe = false;
        else ms.push_back(std::atoll(argv[i]));
    }
    if (ms.empty()) ms = {1, 64, 512, 2048};
    const int dtypes[3] = {RF_F32, RF_BF16, RF_I8};
    const char *names[3] = {"f32", "bf16", "i8"};
    double peak[3][3] = {};
    if (probe) {
        for (int t = 1; t <= 2; ++t) {
            for (int d = 0; d < 3; ++d) {
                for (int rep = 0; rep < 3; ++rep) {  // best of 3: the host may be shared
                    double g = 0;
                    if (rf_probe_peak_gflops(t, dtypes[d], &g) == RF_OK && g > peak[d][t]) peak[d][t] = g;
                }
                std::printf("probe peak %-4s %d thread(s): %8.1f GFLOP/s\n", names[d], t, peak[d][t]);
            }
            double bw = 0;
            rf_probe_mem_bandwidth(t, &bw);
            std::printf("probe memory bandwidth %d thread(s): %.1f GB/s\n", t, bw);
        }
    }
    const int64_t K = 1024, N = 1024;
    int64_t maxm = *std::max_element(ms.begin(), ms.end());
    std::vector<float> x(size_t(std::max<int64_t>(maxm, 64) * K)), y(size_t(std::max<int64_t>(maxm, 64) * N)), bias(N);
    uint64_t s = 12345;
    auto rnd = [&] { s = s * 6364136223846793005ull + 1442695040888963407ull; return float(s >> 40) / float(1 << 24) * 2 - 1; };
    for (auto &v : x) v = rnd();
    for (auto &v : bias) v = rnd();
    std::vector<float> wf(size_t(N * K));
    for (auto &v : wf) v = rnd();
    std::vector<uint16_t> wb(wf.size());
    std::vector<int8_t> wq(wf.size());
    std::vector<float> sc(N, 1.f / 127);
    for (size_t i = 0; i < wf.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &wf[i], 4);
        wb[i] = uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        wq[i] = int8_t(std::lround(wf[i] * 127));
    }
    rf_weight w[3];
    rf_weight_pack(0, RF_F32, N, K, wf.data(), nullptr, &w[0]);
    rf_weight_pack(0, RF_BF16, N, K, wb.data(), nullptr, &w[1]);
    rf_weight_pack(0, RF_I8, N, K, wq.data(), sc.data(), &w[2]);
    int32_t best = 0;
    rf_get_isa(nullptr, &best);

    // parity at M = 64 against the reference
    for (int d = 0; d < 3; ++d) {
        std::vector<float> want(64 * N), got(64 * N);
        rf_set_isa(RF_ISA_REF);
        rf_gemm(nullptr, 64, x.data(), K, w[d], bias.data(), RF_ACT_GELU, nullptr, 0, want.data(), N);
        for (int isa = RF_ISA_PORTABLE; isa <= best; ++isa) {
            rf_set_isa(isa);
            rf_gemm(nullptr, 64, x.data(), K, w[d], bias.data(), RF_ACT_GELU, nullptr, 0, got.data(), N);
            float mx = 0, err = 0;
            for (size_t i = 0; i < got.size(); ++i) {
                mx = std::max(mx, std::fabs(want[i]));
                err = std::max(err, std::fabs(got[i] - want[i]));
            }
            std::printf("parity %-4s isa %d: normalised max error %.2e\n", names[d], isa, err / mx);
        }
    }
    rf_set_isa(best);
    for (int t = 1; t <= 2; ++t) {
        threads(t);
        for (int64_t M : ms)
            for (int d = 0; d < 3; ++d) {
                const double flop = 2.0 * M * N * K;
                for (int i = 0; i < 3; ++i)
                    rf_gemm(nullptr, M, x.data(), K, w[d], bias.data(), RF_ACT_NONE, nullptr, 0, y.data(), N);
                std::vector<double> ts;
                double t0 = now();
                while (now() - t0 < 0.3 || ts.size() < 5) {
                    double a = now();
                    rf_gemm(nullptr, M, x.data(), K, w[d], bias.data(), RF_ACT_NONE, nullptr, 0, y.data(), N);
                    ts.push_back(now() - a);
                }
                std::sort(ts.begin(), ts.end());
                double med = ts[ts.size() / 2];
                double g = flop / ts[0] * 1e-9;  // best of the repeats: the host may be shared
                std::printf("gemm %-4s M=%-5lld K=N=1024 threads=%d: best %8.1f GFLOP/s, median %8.1f (%.3f ms)", names[d],
                            (long long)M, t, g, flop / med * 1e-9, med * 1e3);
                if (peak[0][t] > 0) std::printf("  %5.1f%% of f32 peak", 100 * g / peak[0][t]);
                if (peak[d][t] > 0) std::printf("  %5.1f%% of %s peak", 100 * g / peak[d][t], names[d]);
                std::printf("\n");
                std::fflush(stdout);
            }
    }
    for (auto h : w) rf_weight_free(h);
    return 0;
}
