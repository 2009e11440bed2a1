// Device memory: the caching allocator (device, managed and pinned host
// blocks kept by size class when freed), rf_malloc blocks (managed memory, see
// backend.h) and streams (CUDA streams, an event per sync); copies:
// kernels/device/host/memcpy_entries.cpp.
#include "launch.h"

#include "../device/host/block_map.h"

#include <map>
#include <tuple>
#include <unordered_map>

namespace rf::cuda {
namespace {

// ------------------------------------------------------------------ caching allocator

struct Owner {
    MemKind kind;
    int device;
    size_t size;  // the size class
};

std::mutex g_cache_mutex;
std::map<std::tuple<int, int, size_t>, std::vector<void *>> g_free;  // (kind, device, size) -> blocks
std::unordered_map<void *, Owner> g_owner;                           // every block handed out

// Size classes: powers of two up to 1 MiB (at least 512 bytes), then whole MiB.
size_t size_class(size_t bytes) {
    if (bytes <= 512) return 512;
    if (bytes <= (size_t(1) << 20)) {
        size_t c = 512;
        while (c < bytes) c <<= 1;
        return c;
    }
    return (bytes + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
}

cudaError_t raw_alloc(MemKind kind, size_t bytes, void **out) {
    switch (kind) {
    case MemKind::Device: return cudaMalloc(out, bytes);
    case MemKind::Managed: return cudaMallocManaged(out, bytes, cudaMemAttachGlobal);
    default: return cudaMallocHost(out, bytes);
    }
}

void raw_free(MemKind kind, void *p) {
    if (kind == MemKind::Pinned) cudaFreeHost(p);
    else cudaFree(p);
}

// Give every cached block of `kind` on `device` back to CUDA (caller holds the lock).
void drain(MemKind kind, int device) {
    for (auto it = g_free.begin(); it != g_free.end();) {
        if (std::get<0>(it->first) == int(kind) && std::get<1>(it->first) == device) {
            for (void *p : it->second) raw_free(kind, p);
            it = g_free.erase(it);
        } else {
            ++it;
        }
    }
}

BlockMap<Block> g_blocks;


}  // namespace

rf_status cached_alloc(const char *who, MemKind kind, int device, size_t bytes, void **out) {
    const size_t size = size_class(bytes);
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto &list = g_free[{int(kind), device, size}];
    if (!list.empty()) {
        *out = list.back();
        list.pop_back();
    } else {
        cudaError_t err = raw_alloc(kind, size, out);
        if (err == cudaErrorMemoryAllocation) {  // the cache may hold what is missing
            cudaGetLastError();
            drain(kind, device);
            err = raw_alloc(kind, size, out);
        }
        if (err != cudaSuccess) return cuda_fail(who, kind == MemKind::Pinned ? "cudaMallocHost" : kind == MemKind::Managed ? "cudaMallocManaged" : "cudaMalloc", err);
    }
    g_owner[*out] = Owner{kind, device, size};
    return RF_OK;
}

void cached_free(void *p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_owner.find(p);
    if (it == g_owner.end()) return;
    g_free[{int(it->second.kind), it->second.device, it->second.size}].push_back(p);
    g_owner.erase(it);
}

rf_status stream_wait(const char *who, rf_stream s) {
    RF_CU(who, cudaStreamSynchronize(s->stream));
    return RF_OK;
}

bool find_block(const void *p, Block *out) { return g_blocks.find(p, out); }

}  // namespace rf::cuda

using namespace rf::cuda;

extern "C" {

RF_API rf_status rf_malloc(int32_t device, int64_t bytes, void **out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_malloc: out is NULL");
        rf_status st = RF_OK;
        Platform *p = platform_with_device("rf_malloc", device, &st);
        if (!p) return st;
        RF_CHECK(bytes >= 0, "rf_malloc: negative size %lld", (long long)bytes);
        if ((st = use_device("rf_malloc", device)) != RF_OK) return st;
        void *m = nullptr;
        if ((st = cached_alloc("rf_malloc", MemKind::Managed, device, size_t(bytes == 0 ? 1 : bytes), &m)) != RF_OK) return st;
        g_blocks.add(Block{static_cast<const char *>(m), size_t(bytes == 0 ? 1 : bytes), device});
        *out = m;
        return RF_OK;
    });
}

RF_API rf_status rf_free(void *ptr) {
    RF_ENTRY({
        if (!ptr) return RF_OK;
        Block b;
        RF_CHECK(g_blocks.remove(ptr, &b), "rf_free: %p is not a block from rf_malloc", ptr);
        // Work still queued may use the block: it returns to the cache only when the device is idle.
        if (use_device("rf_free", b.device) == RF_OK) RF_CU("rf_free", cudaDeviceSynchronize());
        cached_free(ptr);
        return RF_OK;
    });
}

RF_API rf_status rf_stream_create(int32_t device, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create: out is NULL");
        *out = nullptr;
        rf_status st = RF_OK;
        Platform *p = platform_with_device("rf_stream_create", device, &st);
        if (!p) return st;
        if ((st = use_device("rf_stream_create", device)) != RF_OK) return st;
        cudaStream_t stream;
        RF_CU("rf_stream_create", cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        cudaEvent_t done;
        cudaError_t err = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
        if (err != cudaSuccess) {
            cudaStreamDestroy(stream);
            return cuda_fail("rf_stream_create", "cudaEventCreateWithFlags", err);
        }
        *out = new rf_stream_s{device, stream, done};
        return RF_OK;
    });
}

RF_API rf_status rf_stream_sync(rf_stream s) {
    RF_ENTRY({
        if (!s) {  // every device's own stream
            rf_status st = RF_OK;
            Platform *p = platform("rf_stream_sync", &st);
            if (!p) return st;
            for (Device &d : p->devices) RF_CU("rf_stream_sync", cudaStreamSynchronize(d.stream));
            return RF_OK;
        }
        RF_CU("rf_stream_sync", cudaEventRecord(s->done, s->stream));
        RF_CU("rf_stream_sync", cudaEventSynchronize(s->done));
        return RF_OK;
    });
}

RF_API rf_status rf_stream_destroy(rf_stream s) {
    RF_ENTRY({
        if (!s) return RF_OK;
        cudaStreamSynchronize(s->stream);
        cudaEventDestroy(s->done);
        cudaStreamDestroy(s->stream);
        delete s;
        return RF_OK;
    });
}

}  // extern "C"
