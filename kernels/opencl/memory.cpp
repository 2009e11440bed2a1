// Device memory (host-visible blocks over USE_HOST_PTR buffers, see backend.h),
// enqueued copies and streams (in-order queues with their last event).
#include "launch.h"
#include "../cpu/host_pages.h"

#include <cstdlib>
#include <map>

namespace rf::ocl {
namespace {

std::mutex g_blocks_mutex;
std::map<uintptr_t, Block> g_blocks;  // by host start address

void CL_CALLBACK free_host(cl_mem, void *host) { std::free(host); }

rf_status check_device(const char *who, int32_t device, Platform *p) {
    int n = int(p->devices.size());
    RF_CHECK(device >= 0 && device < n, "%s: device %d is outside [0, %d)", who, device, n);
    return RF_OK;
}

}  // namespace

bool find_block(const void *p, Block *out) {
    std::lock_guard<std::mutex> lock(g_blocks_mutex);
    auto it = g_blocks.upper_bound(uintptr_t(p));
    if (it == g_blocks.begin()) return false;
    --it;
    const Block &b = it->second;
    if (uintptr_t(p) >= uintptr_t(b.host) + b.bytes) return false;
    *out = b;
    return true;
}

}  // namespace rf::ocl

using namespace rf::ocl;

extern "C" {

RF_API rf_status rf_malloc(int32_t device, int64_t bytes, void **out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_malloc: out is NULL");
        rf_status st = RF_OK;
        Platform *p = platform("rf_malloc", &st);
        if (!p) return st;
        st = check_device("rf_malloc", device, p);
        if (st != RF_OK) return st;
        RF_CHECK(bytes >= 0, "rf_malloc: negative size %lld", (long long)bytes);
        const int64_t limit = p->devices[size_t(device)].max_alloc;
        if (limit > 0 && bytes > limit)
            return rf::fail(RF_ERR_OUT_OF_MEMORY,
                            "rf_malloc: %lld bytes exceed device %d's largest buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE = %lld)",
                            (long long)bytes, device, (long long)limit);
        // Page-aligned host memory the driver can use in place (USE_HOST_PTR).
        const size_t align = 4096;
        size_t rounded = (size_t(bytes) + align - 1) & ~(align - 1);
        if (rounded == 0) rounded = align;
        void *host = std::aligned_alloc(align, rounded);
        if (!host) return rf::fail(RF_ERR_OUT_OF_MEMORY, "rf_malloc: cannot allocate %lld bytes", (long long)bytes);
        cl_int err;
        cl_mem m = clCreateBuffer(p->context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, rounded, host, &err);
        if (err != CL_SUCCESS) {
            std::free(host);
            return cl_fail("rf_malloc", "clCreateBuffer", err);
        }
        // The host memory goes when the runtime drops the buffer (after pending commands).
        clSetMemObjectDestructorCallback(m, free_host, host);
        {
            std::lock_guard<std::mutex> lock(g_blocks_mutex);
            g_blocks[uintptr_t(host)] = Block{static_cast<const char *>(host), size_t(bytes == 0 ? 1 : bytes), m, device};
        }
        *out = host;
        return RF_OK;
    });
}

RF_API rf_status rf_free(void *ptr) {
    RF_ENTRY({
        if (!ptr) return RF_OK;
        cl_mem m = nullptr;
        {
            std::lock_guard<std::mutex> lock(g_blocks_mutex);
            auto it = g_blocks.find(uintptr_t(ptr));
            RF_CHECK(it != g_blocks.end(), "rf_free: %p is not a block from rf_malloc", ptr);
            m = it->second.mem;
            g_blocks.erase(it);
        }
        clReleaseMemObject(m);
        return RF_OK;
    });
}

RF_API rf_status rf_release_pages(const void *p, int64_t bytes) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_release_pages: negative size %lld", (long long)bytes);
        rf::release_pages(p, bytes);
        return RF_OK;
    });
}

RF_API rf_status rf_memcpy(void *dst, const void *src, int64_t bytes, int32_t kind, rf_stream s) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_memcpy: negative size %lld", (long long)bytes);
        RF_CHECK(kind >= RF_COPY_HOST_TO_DEVICE && kind <= RF_COPY_HOST_TO_HOST, "rf_memcpy: unknown kind %d", kind);
        if (bytes == 0) return RF_OK;
        RF_CHECK(dst != nullptr && src != nullptr, "rf_memcpy: NULL pointer");
        // Each side is what it is (a device block or host memory), whatever `kind` says,
        // like the CPU backend; the copy is one enqueued command on the stream's queue.
        Block b;
        if (!find_block(src, &b) && !find_block(dst, &b)) {  // host to host: after the stream's work
            if (s) RF_CL("rf_memcpy", clFinish(s->queue));
            std::memmove(dst, src, size_t(bytes));
            return RF_OK;
        }
        Launch l("rf_memcpy", s);
        const size_t n = size_t(bytes);
        int from = l.arg(src, n), to = l.arg(dst, n);
        rf_status st = l.bind();
        if (st != RF_OK) return st;
        st = l.copy(l.mem(from), l.offset(from), l.mem(to), l.offset(to), n);
        if (st != RF_OK) return st;
        return l.finish();
    });
}

RF_API rf_status rf_stream_create(int32_t device, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create: out is NULL");
        rf_status st = RF_OK;
        Platform *p = platform("rf_stream_create", &st);
        if (!p) return st;
        st = check_device("rf_stream_create", device, p);
        if (st != RF_OK) return st;
        cl_int err;
        cl_command_queue q = clCreateCommandQueue(p->context, p->devices[size_t(device)].id, 0, &err);
        if (err != CL_SUCCESS) return cl_fail("rf_stream_create", "clCreateCommandQueue", err);
        *out = new rf_stream_s{device, q, nullptr};
        return RF_OK;
    });
}

RF_API rf_status rf_stream_sync(rf_stream s) {
    RF_ENTRY({
        if (!s) {  // every device's default queue
            rf_status st = RF_OK;
            Platform *p = platform("rf_stream_sync", &st);
            if (!p) return st;
            for (Device &d : p->devices) RF_CL("rf_stream_sync", clFinish(d.queue));
            return RF_OK;
        }
        RF_CL("rf_stream_sync", clFinish(s->queue));
        std::lock_guard<std::mutex> lock(launch_mutex());
        if (s->last) clReleaseEvent(s->last);
        s->last = nullptr;
        return RF_OK;
    });
}

RF_API rf_status rf_stream_destroy(rf_stream s) {
    RF_ENTRY({
        if (!s) return RF_OK;
        clFinish(s->queue);
        if (s->last) clReleaseEvent(s->last);
        clReleaseCommandQueue(s->queue);
        delete s;
        return RF_OK;
    });
}

}  // extern "C"
