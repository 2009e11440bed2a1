// Devices (identity and the CPU-only knobs: kernels/device/host/library_entries.cpp).
// Without a driver or GPU the device count is 0
// (RF_OK: the library loads and answers); every call that needs a device then
// fails with the CUDA error string. A device's name carries the GEMM path in
// use ("... · GEMM cublasLt 13.0" or "... · GEMM tiled"), which `rankfn info` prints.
#include "backend.h"

#include <cstdio>

using namespace rf::cuda;

extern "C" {

RF_API rf_status rf_device_count(int32_t *count) {
    RF_ENTRY({
        RF_CHECK(count != nullptr, "rf_device_count: count is NULL");
        *count = int32_t(device_count());
        return RF_OK;
    });
}

RF_API rf_status rf_device_info(int32_t device, rf_device_info_t *info) {
    RF_ENTRY({
        RF_CHECK(info != nullptr, "rf_device_info: info is NULL");
        rf_status st = RF_OK;
        Platform *p = platform("rf_device_info", &st);
        if (!p) return st;
        const int n = int(p->devices.size());
        RF_CHECK(device >= 0 && device < n, "rf_device_info: the cuda backend has devices [0, %d), got %d", n, device);
        const Device &d = p->devices[size_t(device)];
        std::memset(info, 0, sizeof *info);
        std::snprintf(info->name, sizeof info->name, "%s · GEMM %s", d.name.c_str(), p->gemm_path);
        info->total_memory = d.total_memory;
        info->kind = 1;
        info->compute_units = d.compute_units;
        info->isa = RF_ISA_REF;
        return RF_OK;
    });
}

RF_API rf_status rf_set_device_partitions(int32_t parts) {
    RF_ENTRY({
        RF_CHECK(parts >= 1, "rf_set_device_partitions: parts = %d must be >= 1", parts);
        if (parts > 1)
            return rf::fail(RF_ERR_UNSUPPORTED,
                            "rf_set_device_partitions: the cuda backend cannot partition a GPU (asked for %d parts); "
                            "every GPU is a device of its own",
                            parts);
        return RF_OK;
    });
}

}  // extern "C"
