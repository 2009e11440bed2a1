// A device library's identity and the CPU-only knobs of the ABI (threads,
// ISA), which a device backend accepts with the CPU backend's checks: its
// parallelism comes from the device, and its one code path reports as "ref".
#include "backend.h"

#include <atomic>

#ifndef RF_SOURCE_HASH
#define RF_SOURCE_HASH "unknown"
#endif

namespace {
std::atomic<int> g_threads{1};
}

extern "C" {

RF_API rf_status rf_library_info(int32_t *abi_version, const char **backend, const char **source_hash) {
    RF_ENTRY({
        if (abi_version) *abi_version = RF_ABI_VERSION;
        if (backend) *backend = RF_BACKEND_ID;
        if (source_hash) *source_hash = RF_SOURCE_HASH;
        return RF_OK;
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
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_set_isa: the " RF_BACKEND_NAME " backend has one code path (isa 0), asked for %d", isa);
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
