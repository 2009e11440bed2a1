// Library identity, CPU feature detection and ISA selection, and the trivial
// device half of the ABI on the CPU: one device, host memory, synchronous streams.
#include "backend.h"
#include "host_pages.h"
#include "stream.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <sys/mman.h>
#include <unistd.h>

#ifndef RF_SOURCE_HASH
#define RF_SOURCE_HASH "unknown"
#endif

namespace rf {
namespace {

rf_isa detect_best_isa() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni");
    if (avx512) return RF_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return RF_ISA_AVX2;
#endif
    return RF_ISA_PORTABLE;
}

std::atomic<int> g_active{-1};

// RANKFN_ISA=ref|portable|avx2|avx512 caps the path chosen at load (for debugging).
rf_isa initial_isa() {
    rf_isa best = best_isa();
    const char *env = std::getenv("RANKFN_ISA");
    if (!env) return best;
    static const char *names[] = {"ref", "portable", "avx2", "avx512"};
    for (int i = 0; i < 4; ++i)
        if (std::strcmp(env, names[i]) == 0 && i <= int(best)) return rf_isa(i);
    return best;
}

}  // namespace

rf_isa best_isa() {
    static const rf_isa best = detect_best_isa();
    return best;
}

rf_isa active_isa() {
    int a = g_active.load(std::memory_order_relaxed);
    if (a < 0) {
        a = int(initial_isa());
        g_active.store(a, std::memory_order_relaxed);
    }
    return rf_isa(a);
}

}  // namespace rf

extern "C" {

RF_API rf_status rf_library_info(int32_t *abi_version, const char **backend, const char **source_hash) {
    RF_ENTRY({
        if (abi_version) *abi_version = RF_ABI_VERSION;
        if (backend) *backend = "cpu";
        if (source_hash) *source_hash = RF_SOURCE_HASH;
        return RF_OK;
    });
}

RF_API rf_status rf_set_isa(int32_t isa) {
    RF_ENTRY({
        RF_CHECK(isa >= RF_ISA_REF && isa <= RF_ISA_AVX512, "rf_set_isa: unknown isa %d", isa);
        if (isa > int(rf::best_isa()))
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_set_isa: this CPU supports isa <= %d, asked for %d",
                            int(rf::best_isa()), isa);
        rf::g_active.store(isa);
        return RF_OK;
    });
}

RF_API rf_status rf_get_isa(int32_t *active, int32_t *best_supported) {
    RF_ENTRY({
        if (active) *active = rf::active_isa();
        if (best_supported) *best_supported = rf::best_isa();
        return RF_OK;
    });
}

RF_API rf_status rf_device_count(int32_t *count) {
    RF_ENTRY({
        RF_CHECK(count != nullptr, "rf_device_count: count is NULL");
        *count = 1;
        return RF_OK;
    });
}

RF_API rf_status rf_device_info(int32_t device, rf_device_info_t *info) {
    RF_ENTRY({
        RF_CHECK(info != nullptr, "rf_device_info: info is NULL");
        RF_CHECK(device == 0, "rf_device_info: the cpu backend has device 0 only, got %d", device);
        static const char *isa_names[] = {"ref", "portable", "avx2", "avx512"};
        std::memset(info, 0, sizeof *info);
        std::snprintf(info->name, sizeof info->name, "cpu (%s)", isa_names[rf::active_isa()]);
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
        info->total_memory = pages > 0 && page > 0 ? int64_t(pages) * page : 0;
        info->kind = 0;
        info->compute_units = rf::num_threads();
        info->isa = rf::active_isa();
        return RF_OK;
    });
}

RF_API rf_status rf_set_device_partitions(int32_t parts) {
    RF_ENTRY({
        RF_CHECK(parts >= 1, "rf_set_device_partitions: parts = %d must be >= 1", parts);
        if (parts > 1)
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_set_device_partitions: the cpu backend has one device, asked for %d",
                            parts);
        return RF_OK;
    });
}

RF_API rf_status rf_malloc(int32_t device, int64_t bytes, void **out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_malloc: out is NULL");
        RF_CHECK(device == 0, "rf_malloc: the cpu backend has device 0 only, got %d", device);
        RF_CHECK(bytes >= 0, "rf_malloc: negative size %lld", (long long)bytes);
        // Large buffers (embedding tables, arenas) are 2 MiB aligned and asked to be
        // backed by huge pages: random row reads then miss the TLB far less often.
        const size_t huge = size_t(2) << 20;
        const size_t align = size_t(bytes) >= huge ? huge : 64;
        size_t rounded = (size_t(bytes) + align - 1) & ~(align - 1);
        void *p = std::aligned_alloc(align, rounded == 0 ? 64 : rounded);
        if (!p) return rf::fail(RF_ERR_OUT_OF_MEMORY, "rf_malloc: cannot allocate %lld bytes", (long long)bytes);
#ifdef MADV_HUGEPAGE
        if (align == huge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
        *out = p;
        return RF_OK;
    });
}

RF_API rf_status rf_free(void *p) {
    std::free(p);
    return RF_OK;
}

RF_API rf_status rf_release_pages(const void *p, int64_t bytes) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_release_pages: negative size %lld", (long long)bytes);
        rf::release_pages(p, bytes);
        return RF_OK;
    });
}

RF_API rf_status rf_memcpy(void *dst, const void *src, int64_t bytes, int32_t kind, rf_stream) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_memcpy: negative size %lld", (long long)bytes);
        RF_CHECK(kind >= RF_COPY_HOST_TO_DEVICE && kind <= RF_COPY_HOST_TO_HOST, "rf_memcpy: unknown kind %d", kind);
        if (bytes == 0) return RF_OK;
        RF_CHECK(dst != nullptr && src != nullptr, "rf_memcpy: NULL pointer");
        std::memmove(dst, src, size_t(bytes));
        return RF_OK;
    });
}

RF_API rf_status rf_stream_create(int32_t device, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create: out is NULL");
        RF_CHECK(device == 0, "rf_stream_create: the cpu backend has device 0 only, got %d", device);
        *out = new rf_stream_s{device, nullptr};
        return RF_OK;
    });
}

RF_API rf_status rf_stream_sync(rf_stream s) {
    RF_ENTRY({
        if (s == nullptr || s->queue == nullptr) return RF_OK;
        return rf::stream_queue_sync(s->queue);
    });
}

RF_API rf_status rf_stream_destroy(rf_stream s) {
    if (s == nullptr) return RF_OK;
    if (s->queue) rf::stream_queue_destroy(s->queue);
    delete s;
    return RF_OK;
}

}  // extern "C"
