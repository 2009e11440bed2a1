// Library identity, devices, and the CPU-only knobs of the ABI (threads, ISA),
// which the OpenCL backend accepts with the CPU backend's checks: device
// parallelism comes from the device, and its one code path reports as "ref".
#include "backend.h"

#include <atomic>
#include <cstdio>

#ifndef RF_SOURCE_HASH
#define RF_SOURCE_HASH "unknown"
#endif

namespace {
std::atomic<int> g_threads{1};
}

using namespace rf::ocl;

extern "C" {

RF_API rf_status rf_library_info(int32_t *abi_version, const char **backend, const char **source_hash) {
    RF_ENTRY({
        if (abi_version) *abi_version = RF_ABI_VERSION;
        if (backend) *backend = "opencl";
        if (source_hash) *source_hash = RF_SOURCE_HASH;
        return RF_OK;
    });
}

RF_API rf_status rf_device_count(int32_t *count) {
    RF_ENTRY({
        RF_CHECK(count != nullptr, "rf_device_count: count is NULL");
        *count = 0;
        rf_status st = RF_OK;
        Platform *p = platform("rf_device_count", &st);
        if (!p) return st;
        *count = int32_t(p->devices.size());
        return RF_OK;
    });
}

RF_API rf_status rf_device_info(int32_t device, rf_device_info_t *info) {
    RF_ENTRY({
        RF_CHECK(info != nullptr, "rf_device_info: info is NULL");
        rf_status st = RF_OK;
        Platform *p = platform("rf_device_info", &st);
        if (!p) return st;
        int n = int(p->devices.size());
        RF_CHECK(device >= 0 && device < n, "rf_device_info: the opencl backend has devices [0, %d), got %d", n, device);
        const Device &d = p->devices[size_t(device)];
        std::memset(info, 0, sizeof *info);
        std::snprintf(info->name, sizeof info->name, "%s", d.name.c_str());
        info->total_memory = d.total_memory;
        info->kind = 2;
        info->compute_units = d.compute_units;
        info->isa = RF_ISA_REF;
        return RF_OK;
    });
}

RF_API rf_status rf_set_device_partitions(int32_t parts) {
    RF_ENTRY({
        RF_CHECK(parts >= 1, "rf_set_device_partitions: parts = %d must be >= 1", parts);
        return set_partitions(parts);
    });
}

RF_API rf_status rf_set_num_threads(int32_t n) {
    RF_ENTRY({
        RF_CHECK(n >= 1, "rf_set_num_threads: n must be >= 1, got %d", n);
        g_threads.store(n > 256 ? 256 : n);
        return RF_OK;
    });
}

RF_API rf_status rf_get_num_threads(int32_t *n) {
    RF_ENTRY({
        RF_CHECK(n != nullptr, "rf_get_num_threads: n is NULL");
        *n = g_threads.load();
        return RF_OK;
    });
}

RF_API rf_status rf_set_isa(int32_t isa) {
    RF_ENTRY({
        RF_CHECK(isa >= RF_ISA_REF && isa <= RF_ISA_AVX512, "rf_set_isa: unknown isa %d", isa);
        if (isa != RF_ISA_REF)
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_set_isa: the opencl backend has one code path (isa 0), asked for %d", isa);
        return RF_OK;
    });
}

RF_API rf_status rf_get_isa(int32_t *active, int32_t *best_supported) {
    RF_ENTRY({
        if (active) *active = RF_ISA_REF;
        if (best_supported) *best_supported = RF_ISA_REF;
        return RF_OK;
    });
}

}  // extern "C"
