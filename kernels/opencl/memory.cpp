// Device memory (host-visible blocks over USE_HOST_PTR buffers, see backend.h),
// and streams (in-order queues with their last event); copies: kernels/device/host/memcpy_entries.cpp.
#include "launch.h"

#include "../device/host/block_map.h"

#include <cstdlib>

namespace rf::ocl {
namespace {

BlockMap<Block> g_blocks;

void CL_CALLBACK free_host(cl_mem, void *host) { std::free(host); }


}  // namespace

rf_status stream_wait(const char *who, rf_stream s) {
    RF_CL(who, clFinish(s->queue));
    return RF_OK;
}

bool find_block(const void *p, Block *out) { return g_blocks.find(p, out); }

}  // namespace rf::ocl

using namespace rf::ocl;

extern "C" {

RF_API rf_status rf_malloc(int32_t device, int64_t bytes, void **out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_malloc: out is NULL");
        rf_status st = RF_OK;
        Platform *p = platform_with_device("rf_malloc", device, &st);
        if (!p) return st;
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
        g_blocks.add(Block{static_cast<const char *>(host), size_t(bytes == 0 ? 1 : bytes), m, device});
        *out = host;
        return RF_OK;
    });
}

RF_API rf_status rf_free(void *ptr) {
    RF_ENTRY({
        if (!ptr) return RF_OK;
        Block b;
        RF_CHECK(g_blocks.remove(ptr, &b), "rf_free: %p is not a block from rf_malloc", ptr);
        clReleaseMemObject(b.mem);
        return RF_OK;
    });
}

RF_API rf_status rf_stream_create(int32_t device, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create: out is NULL");
        rf_status st = RF_OK;
        Platform *p = platform_with_device("rf_stream_create", device, &st);
        if (!p) return st;
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
