// Devices (identity and the CPU-only knobs of the ABI: kernels/device/host/library_entries.cpp).
#include "backend.h"

#include <cstdio>

using namespace rf::ocl;

extern "C" {

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

}  // extern "C"
