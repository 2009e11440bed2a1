// Finding the CUDA devices, one non-blocking stream per device for the NULL
// stream's work, the embedded fatbin loaded as a CUDA library, kernels by
// name, and CUDA errors as rf_status. Initialised once, on first use; a
// failure (no driver, no GPU, a fatbin without code for this GPU) is kept and
// reported by every later call that needs a device.
#include "backend.h"
#include "cublaslt.h"

#include <cstdio>
#include <cstdlib>

namespace rf::cuda {
namespace {

std::mutex g_init_mutex;
Platform *g_platform = nullptr;
bool g_tried = false;
rf_status g_status = RF_OK;
std::string g_error;

bool debug() {
    const char *e = std::getenv("RANKFN_DEBUG");
    return e && e[0] == '1';
}

rf_status init(Platform &p, const char *who) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess)
        return fail(RF_ERR_DEVICE, "%s: no CUDA device: %s (%s)", who, cudaGetErrorString(err), cudaGetErrorName(err));
    if (n == 0) return fail(RF_ERR_DEVICE, "%s: no CUDA device (cudaGetDeviceCount found 0)", who);
    for (int d = 0; d < n; ++d) {
        cudaDeviceProp prop{};
        RF_CU(who, cudaGetDeviceProperties(&prop, d));
        RF_CU(who, cudaSetDevice(d));
        Device dev;
        dev.ordinal = d;
        dev.name = prop.name;
        dev.total_memory = int64_t(prop.totalGlobalMem);
        dev.compute_units = prop.multiProcessorCount;
        dev.max_work_group = size_t(prop.maxThreadsPerBlock);
        dev.local_memory = int64_t(prop.sharedMemPerBlock);
        RF_CU(who, cudaStreamCreateWithFlags(&dev.stream, cudaStreamNonBlocking));
        p.devices.push_back(dev);
    }
    RF_CU(who, cudaLibraryLoadData(&p.library, rf_cuda_fatbin, nullptr, nullptr, 0, nullptr, nullptr, 0));
    p.gemm_path = lt_init(p);
    if (debug()) std::fprintf(stderr, "[rankfn cuda] %d device(s), GEMM: %s\n", n, p.gemm_path);
    return RF_OK;
}

}  // namespace

rf_status cuda_fail(const char *who, const char *call, cudaError_t err) {
    const rf_status st = err == cudaErrorMemoryAllocation ? RF_ERR_OUT_OF_MEMORY : RF_ERR_DEVICE;
    return fail(st, "%s: %s failed: %s (%s)", who, call, cudaGetErrorString(err), cudaGetErrorName(err));
}

Platform *platform(const char *who, rf_status *status) {
    std::lock_guard<std::mutex> lock(g_init_mutex);
    if (!g_tried) {
        g_tried = true;
        auto *p = new Platform();
        g_status = init(*p, "rankfn cuda");
        if (g_status == RF_OK) {
            g_platform = p;
        } else {
            g_error = rf_last_error();
            delete p;  // streams of a half-initialised platform stay with the (failed) driver
        }
    }
    if (!g_platform) {
        // "rankfn cuda: no CUDA device: ..." -> "<who>: no CUDA device: ..."
        const char *reason = g_error.c_str();
        if (g_error.rfind("rankfn cuda: ", 0) == 0) reason += 13;
        *status = fail(g_status, "%s: %s", who, reason);
        return nullptr;
    }
    *status = RF_OK;
    return g_platform;
}

int device_count() {
    rf_status st = RF_OK;
    Platform *p = platform("rf_device_count", &st);
    clear_error();
    return p ? int(p->devices.size()) : 0;
}

rf_status use_device(const char *who, int device) {
    RF_CU(who, cudaSetDevice(device));
    return RF_OK;
}

cudaKernel_t Platform::kernel(const char *name, cudaError_t *err) {
    std::lock_guard<std::mutex> lock(kernels_mutex);
    for (auto &[n, k] : kernels)
        if (n == name) return k;
    cudaKernel_t k = nullptr;
    *err = cudaLibraryGetKernel(&k, library, name);
    if (*err != cudaSuccess) return nullptr;
    kernels.emplace_back(name, k);
    return k;
}

}  // namespace rf::cuda
