// Machine probes measured on device 0 of a device backend: fp32 FMA throughput
// (independent fma chains) and read bandwidth (a 256 MiB device buffer).
// `threads` is accepted with the CPU backend's check and ignored: the device
// decides its parallelism. bf16 / int8 peaks have no portable kernel instruction
// (kernels/device/probes.cl): RF_ERR_UNSUPPORTED.
#include "launch.h"

#include <chrono>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

using namespace rf::RF_DISPATCH_NS;

extern "C" {

RF_API rf_status rf_probe_peak_gflops(int32_t threads, int32_t dtype, double *gflops) {
    RF_ENTRY({
        RF_CHECK(gflops != nullptr, "rf_probe_peak_gflops: gflops is NULL");
        RF_CHECK(threads >= 1, "rf_probe_peak_gflops: threads must be >= 1, got %d", threads);
        if (dtype != RF_F32)
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_probe_peak_gflops: the " RF_BACKEND_NAME " backend measures RF_F32 only, got dtype %d", dtype);
        Launch l("rf_probe_peak_gflops", nullptr);
        if (l.bind() != RF_OK) return l.status();
        const size_t items = size_t(l.device().compute_units) * 1024;
        const int iters = 4096;
        DevMem out;
        if (l.scratch(items * 4, &out) != RF_OK) return l.status();
        double best = 0;
        for (int rep = 0; rep < 4; ++rep) {  // the first run includes the kernel's compilation by the driver
            auto t0 = std::chrono::steady_clock::now();
            l.run("probe_fma", {a_i32(iters), a_mem(out)}, items, 0);
            if (l.finish() != RF_OK) return l.status();
            double flops = double(items) * iters * 4 * 8 * 2;
            double g = flops / seconds_since(t0) / 1e9;
            if (g > best) best = g;
        }
        *gflops = best;
        return RF_OK;
    });
}

RF_API rf_status rf_probe_mem_bandwidth(int32_t threads, double *gbytes_per_s) {
    RF_ENTRY({
        RF_CHECK(gbytes_per_s != nullptr, "rf_probe_mem_bandwidth: gbytes_per_s is NULL");
        RF_CHECK(threads >= 1, "rf_probe_mem_bandwidth: threads must be >= 1, got %d", threads);
        Launch l("rf_probe_mem_bandwidth", nullptr);
        if (l.bind() != RF_OK) return l.status();
        const size_t bytes = size_t(256) << 20, items = size_t(l.device().compute_units) * 256;
        DevMem src, out;
        if (l.scratch(bytes, &src) != RF_OK || l.scratch(items * 4, &out) != RF_OK) return l.status();
        if (l.zero(src, bytes) != RF_OK || l.finish() != RF_OK) return l.status();
        double best = 0;
        for (int rep = 0; rep < 4; ++rep) {
            auto t0 = std::chrono::steady_clock::now();
            l.run("probe_read", {a_mem(src), a_i64(int64_t(bytes / 16)), a_mem(out)}, items, 0);
            if (l.finish() != RF_OK) return l.status();
            double g = double(bytes) / seconds_since(t0) / 1e9;
            if (g > best) best = g;
        }
        *gbytes_per_s = best;
        return RF_OK;
    });
}

}  // extern "C"
