// Private contract of the CUDA backend.
//
// Kernels. The device code is kernels/device/*.cl, the same source the OpenCL
// backend compiles at run time, compiled here by nvcc through the dialect
// header (kernels/device/dialect.h) into one fatbin (sm_80, sm_90 and PTX)
// embedded in the library. It is loaded with cudaLibraryLoadData on first use
// and its kernels are looked up by name, as OpenCL's are, so the host-side
// launchers of kernels/device/host/ serve both backends unchanged.
//
// Memory model. The runtime hands every op plain addresses, and reads
// rf_malloc memory from the host (the executor's arena), so rf_malloc returns
// managed memory (cudaMallocManaged: one address, valid on host and device),
// from a caching allocator. An op resolves each pointer argument: inside an
// rf_malloc block it is used in place; any other host range is copied through
// pinned staging into device memory from the same allocator before the op's
// kernels, and its bytes that the kernels changed are copied back after them
// (inputs are never written back, so a read-only mapping stays untouched).
//
// Ordering. A NULL stream is synchronous (the device's own non-blocking
// stream, waited for before returning). An rf_stream is a CUDA stream; ops on
// it return once launched, except an op with host-range arguments or scratch
// buffers, which waits for its own work (the copy-back needs the results, and
// scratch returns to the allocator). rf_stream_sync records an event and waits
// for it, reporting any asynchronous kernel failure with its CUDA message.
//
// Without a GPU or driver the library still loads (static cudart): it reports
// 0 devices, and every entry point that needs one returns RF_ERR_DEVICE with
// the CUDA error string ("no CUDA device: ...").
#pragma once

#include <cuda_runtime_api.h>

#include "../cpu/backend.h"

#include <mutex>
#include <string>
#include <vector>

// The backend's name in messages of the shared host code (kernels/device/host/).
#define RF_BACKEND_NAME "CUDA"
#define RF_BACKEND_ID "cuda"  // rf_library_info
#define RF_PARTITION_HINT ""

namespace rf::cuda {

// ------------------------------------------------------------------ errors

// Record "<who>: <call> failed: <cuda error string> (<cudaErrorName>)" and
// return RF_ERR_OUT_OF_MEMORY for allocation failures, else RF_ERR_DEVICE.
rf_status cuda_fail(const char *who, const char *call, cudaError_t err);

#define RF_CU(who, call)                                                   \
    do {                                                                   \
        cudaError_t rf_cu_err_ = (call);                                   \
        if (rf_cu_err_ != cudaSuccess) return ::rf::cuda::cuda_fail(who, #call, rf_cu_err_); \
    } while (0)

// ------------------------------------------------------------------ devices

struct Device {
    int ordinal = 0;
    cudaStream_t stream = nullptr;  // the NULL stream's work goes here (non-blocking)
    std::string name;
    int64_t total_memory = 0;
    int32_t compute_units = 0;  // SMs
    size_t max_work_group = 1024;
    int64_t local_memory = 0;  // shared memory per block
};

// Every device, the loaded kernel library and the GEMM path. Built on first use.
struct Platform {
    std::vector<Device> devices;
    cudaLibrary_t library = nullptr;
    int gemm_wg = 16;           // RF_GEMM_WG the fatbin was compiled with (threads per side of a GEMM block)
    bool cpu_kernels = false;   // the shared launchers' kernel family: always the work-group one here
    const char *gemm_path = "tiled";  // "cublasLt <version>" when cuBLASLt is in use (kernels/cuda/cublaslt.cpp)
    std::mutex kernels_mutex;
    std::vector<std::pair<std::string, cudaKernel_t>> kernels;
    cudaKernel_t kernel(const char *name, cudaError_t *err);
};

// The platform, initialising it on first call. On failure (no driver, no
// device, the fatbin not loadable) returns nullptr and has recorded the error
// for `who`. Thread-safe.
Platform *platform(const char *who, rf_status *status);

// Devices without failing: 0 when there is no driver or no GPU.
int device_count();

// Make `device` current on this thread.
rf_status use_device(const char *who, int device);

// ------------------------------------------------------------------ memory

enum class MemKind { Device, Managed, Pinned };

// Caching allocator: blocks are kept per (kind, device, size class) when freed
// and handed out again; a failed allocation empties the cache and retries once.
rf_status cached_alloc(const char *who, MemKind kind, int device, size_t bytes, void **out);
void cached_free(void *p);

// An rf_malloc block (managed memory: its address is valid on host and device).
struct Block {
    const char *host = nullptr;  // the start address (host and device alike)
    size_t bytes = 0;
    int device = 0;
};

// The rf_malloc block holding address p, if any (true when found).
bool find_block(const void *p, Block *out);

// ------------------------------------------------------------------ kernels

// The fatbin of kernels/device/ (embedded by kernels/cuda/build.ts).
extern "C" const unsigned char rf_cuda_fatbin[];

}  // namespace rf::cuda

struct rf_stream_s {
    int32_t device;
    cudaStream_t stream;
    cudaEvent_t done;  // recorded by rf_stream_sync
};

struct rf_weight_s {
    int32_t dtype;
    int32_t device;
    int64_t n, k;
    void *w;        // device memory: W [n][k] as given (f32 / bf16 bits / int8)
    void *scales;   // int8: [n] fp32 per-channel scales; else NULL
    bool lt;        // cuBLASLt was active at pack time: its GEMMs take this weight
    void *colsum;   // int8 with lt: [n] int32 Σ_l W[j][l] (the split product's offset term); else NULL
};
