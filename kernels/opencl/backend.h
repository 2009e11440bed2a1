// Private contract of the OpenCL backend.
//
// Memory model. The ABI passes plain pointers to every op, and the runtime
// (the executor's arena, tensors in TypedArrays, memory-mapped tables) hands
// it host addresses. So device memory here is host-visible: rf_malloc returns
// a host address backed by a cl_mem created with CL_MEM_USE_HOST_PTR, which a
// CPU / integrated-GPU / NPU driver with unified memory (PoCL included) uses
// in place — no copy. An op resolves each pointer argument to (cl_mem, byte
// offset): inside an rf_malloc block it is that block's buffer; any other host
// range is wrapped for the op in a temporary USE_HOST_PTR buffer (overlapping
// ranges, e.g. y aliasing a residual, share one wrapper).
//
// Coherence. On a device without host-unified memory (a discrete GPU may keep
// its own copy of a USE_HOST_PTR buffer) each op publishes its arguments' host
// bytes before its kernels (map with CL_MAP_WRITE_INVALIDATE_REGION + unmap)
// and brings them back after (map for reading + unmap), the spec's way of
// syncing such buffers. RANKFN_OPENCL_COHERENCE=map forces this on unified
// devices too (tests run it on PoCL).
//
// Ordering. A NULL stream is synchronous: the op is enqueued on its device's
// default in-order queue and waited for before returning (the caller may read
// or free its arrays). An rf_stream is an in-order queue of its own; ops on it
// return once enqueued and rf_stream_sync waits for its last event.
//
// Kernels are compiled once per device set (one context holds every device,
// sub-devices included) and the program binaries are cached on disk, keyed by
// the devices, the driver and the hash of the OpenCL C source.
#pragma once

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "../cpu/backend.h"

#include <mutex>
#include <string>
#include <vector>

// The backend's name in messages of the shared host code (kernels/device/host/).
#define RF_BACKEND_NAME "OpenCL"
#define RF_BACKEND_ID "opencl"  // rf_library_info
#define RF_PARTITION_HINT "; split a device with rf_set_device_partitions"

namespace rf::ocl {

// ------------------------------------------------------------------ errors

const char *cl_error_name(cl_int err);

// Record "<who>: <call> failed: CL_ERROR_NAME (code)" and return the rf_status
// for it (RF_ERR_OUT_OF_MEMORY for allocation failures, else RF_ERR_DEVICE).
rf_status cl_fail(const char *who, const char *call, cl_int err);

#define RF_CL(who, call)                                              \
    do {                                                              \
        cl_int rf_cl_err_ = (call);                                   \
        if (rf_cl_err_ != CL_SUCCESS) return ::rf::ocl::cl_fail(who, #call, rf_cl_err_); \
    } while (0)

// ------------------------------------------------------------------ devices

struct Device {
    cl_device_id id = nullptr;
    cl_command_queue queue = nullptr;  // the default (NULL-stream) queue
    std::string name;
    int64_t total_memory = 0;
    int64_t max_alloc = 0;  // CL_DEVICE_MAX_MEM_ALLOC_SIZE
    int32_t compute_units = 0;
    size_t max_work_group = 1;
    int64_t local_memory = 0;
    bool host_unified = true;
};

struct Kernel;

// Every device the backend drives, one context, one program. Built on first use.
struct Platform {
    cl_context context = nullptr;
    cl_program program = nullptr;
    std::vector<Device> devices;
    int gemm_wg = 8;  // work-items per side of a GEMM work-group (tile = 2·gemm_wg)
    // Kernel family. GPUs / NPUs: work-groups cooperate (tiled GEMM in local
    // memory, W [n][k]; a work-group per embedding bag). CPU devices, whose
    // drivers run a work-group as one task and barriers as serial loops, and
    // vectorise innermost loops: a work-item per register block (GEMM with W
    // stored as [k][16] panels) or per run of bags (columns innermost).
    // RANKFN_OPENCL_KERNELS=gpu|cpu overrides the choice (tests run both).
    bool cpu_kernels = false;
    bool force_map = false;   // RANKFN_OPENCL_COHERENCE=map
    std::vector<std::pair<std::string, cl_kernel>> kernels;
    cl_kernel kernel(const char *name, cl_int *err);
};

// The platform, initialising it on first call. On failure returns nullptr and
// has recorded the error (for `who`). Thread-safe.
Platform *platform(const char *who, rf_status *status);

// rf_set_device_partitions: the partition count used when the platform is set up.
rf_status set_partitions(int parts);

// Serialises kernel argument setting and enqueueing (cl_kernel objects are shared).
std::mutex &launch_mutex();

// An rf_malloc block: host-visible memory and the cl_mem over it.
struct Block {
    const char *host = nullptr;
    size_t bytes = 0;
    cl_mem mem = nullptr;
    int device = 0;
};

// The rf_malloc block holding address p, if any (true when found).
bool find_block(const void *p, Block *out);

// ------------------------------------------------------------------ program

// OpenCL C source of every kernel (generated from kernels/device/dialect.h and
// kernels/device/*.cl by kernels/opencl/build.ts).
extern const char *const kProgramSource;

// Build (or load from the on-disk cache) the program for every device of `p`.
rf_status build_program(Platform &p, const char *who);

}  // namespace rf::ocl

struct rf_stream_s {
    int32_t device;
    cl_command_queue queue;
    cl_event last;  // last enqueued command (NULL when none pending)
};

struct rf_weight_s {
    int32_t dtype;
    int32_t device;
    int64_t n, k;
    bool columns;   // stored as panels of 16 columns for the column kernels (gemm.cpp)
    cl_mem w;       // W [n][k] as given (f32 / bf16 bits / int8), or as panels
    cl_mem scales;  // int8: [n] fp32 per-channel scales; else NULL
};
