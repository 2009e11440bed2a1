// Finding the devices (rf_set_device_partitions(N) before first use partitions
// the first device into N sub-devices with clCreateSubDevices), one context and one default
// queue per device, the compiled program and its kernels. Initialised once,
// on first use; a failure (no ICD, no platform, no device, build error) is
// kept and reported by every later call.
#include "backend.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rf::ocl {
namespace {

std::mutex g_init_mutex;
Platform *g_platform = nullptr;
bool g_tried = false;
rf_status g_status = RF_OK;
std::string g_error;

std::atomic<int> g_partitions{1};

std::string device_string(cl_device_id d, cl_device_info what) {
    char buf[256] = {};
    clGetDeviceInfo(d, what, sizeof buf - 1, buf, nullptr);
    return buf;
}

template <class T> T device_value(cl_device_id d, cl_device_info what) {
    T v{};
    clGetDeviceInfo(d, what, sizeof v, &v, nullptr);
    return v;
}

rf_status find_devices(std::vector<cl_device_id> &out, const char *who) {
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, nullptr, &np);
    if (err != CL_SUCCESS || np == 0)
        return fail(RF_ERR_DEVICE, "%s: no OpenCL platform (%s): install an ICD, e.g. pocl-opencl-icd", who,
                    err != CL_SUCCESS ? cl_error_name(err) : "0 platforms");
    std::vector<cl_platform_id> ps(np);
    RF_CL(who, clGetPlatformIDs(np, ps.data(), nullptr));
    for (cl_platform_id p : ps) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
        out.resize(nd);
        RF_CL(who, clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, out.data(), nullptr));
        break;
    }
    if (out.empty()) return fail(RF_ERR_DEVICE, "%s: no OpenCL device (CL_DEVICE_NOT_FOUND) on %u platform(s)", who, np);
    int parts = g_partitions.load();
    if (parts == 1) return RF_OK;
    cl_device_id root = out[0];
    cl_uint units = device_value<cl_uint>(root, CL_DEVICE_MAX_COMPUTE_UNITS);
    cl_uint max_sub = device_value<cl_uint>(root, CL_DEVICE_PARTITION_MAX_SUB_DEVICES);
    if (cl_uint(parts) > max_sub || cl_uint(parts) > units)
        return fail(RF_ERR_UNSUPPORTED,
                    "%s: %d partitions asked for, but %s partitions into at most %u sub-devices (%u compute units)",
                    who, parts, device_string(root, CL_DEVICE_NAME).c_str(), max_sub, units);
    cl_device_partition_property props[] = {CL_DEVICE_PARTITION_EQUALLY, cl_device_partition_property(units / parts), 0};
    std::vector<cl_device_id> subs(static_cast<size_t>(parts));
    cl_uint got = 0;
    RF_CL(who, clCreateSubDevices(root, props, cl_uint(parts), subs.data(), &got));
    subs.resize(got);
    out = subs;
    return RF_OK;
}

rf_status init(Platform &p, const char *who) {
    std::vector<cl_device_id> ids;
    rf_status st = find_devices(ids, who);
    if (st != RF_OK) return st;
    cl_int err;
    p.context = clCreateContext(nullptr, cl_uint(ids.size()), ids.data(), nullptr, nullptr, &err);
    if (err != CL_SUCCESS) return cl_fail(who, "clCreateContext", err);
    size_t min_wg = SIZE_MAX;
    int64_t min_local = INT64_MAX;
    for (cl_device_id id : ids) {
        Device d;
        d.id = id;
        d.name = device_string(id, CL_DEVICE_NAME);
        d.total_memory = int64_t(device_value<cl_ulong>(id, CL_DEVICE_GLOBAL_MEM_SIZE));
        d.max_alloc = int64_t(device_value<cl_ulong>(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE));
        d.compute_units = int32_t(device_value<cl_uint>(id, CL_DEVICE_MAX_COMPUTE_UNITS));
        d.max_work_group = device_value<size_t>(id, CL_DEVICE_MAX_WORK_GROUP_SIZE);
        d.local_memory = int64_t(device_value<cl_ulong>(id, CL_DEVICE_LOCAL_MEM_SIZE));
        d.host_unified = device_value<cl_bool>(id, CL_DEVICE_HOST_UNIFIED_MEMORY) == CL_TRUE;
        d.queue = clCreateCommandQueue(p.context, id, 0, &err);
        if (err != CL_SUCCESS) return cl_fail(who, "clCreateCommandQueue", err);
        if (d.max_work_group < min_wg) min_wg = d.max_work_group;
        if (d.local_memory < min_local) min_local = d.local_memory;
        p.devices.push_back(d);
    }
    // GEMM work-groups are gemm_wg² work-items: the largest of 16, 8, 4, 2, 1
    // every device accepts (and whose two tiles fit in local memory).
    // (Two tiles of TILE x (TK + 1) floats, TILE = 2·gemm_wg, TK = 16: see kernels/device/gemm.cl.)
    auto tiles_bytes = [](int wg) { return int64_t(2) * (2 * wg) * (16 + 1) * 4; };
    p.gemm_wg = 16;
    while (p.gemm_wg > 1 && (size_t(p.gemm_wg * p.gemm_wg) > min_wg || tiles_bytes(p.gemm_wg) > min_local)) p.gemm_wg /= 2;
    const char *coherence = std::getenv("RANKFN_OPENCL_COHERENCE");
    p.force_map = coherence && std::strcmp(coherence, "map") == 0;
    const char *family = std::getenv("RANKFN_OPENCL_KERNELS");
    if (family && std::strcmp(family, "gpu") == 0) p.cpu_kernels = false;
    else if (family && std::strcmp(family, "cpu") == 0) p.cpu_kernels = true;
    else p.cpu_kernels = device_value<cl_device_type>(ids[0], CL_DEVICE_TYPE) & CL_DEVICE_TYPE_CPU;
    return build_program(p, who);
}

}  // namespace

cl_kernel Platform::kernel(const char *name, cl_int *err) {
    for (auto &k : kernels)
        if (k.first == name) return k.second;
    cl_kernel k = clCreateKernel(program, name, err);
    if (*err != CL_SUCCESS) return nullptr;
    kernels.emplace_back(name, k);
    return k;
}

Platform *platform(const char *who, rf_status *status) {
    std::lock_guard<std::mutex> lock(g_init_mutex);
    if (!g_tried) {
        g_tried = true;
        auto *p = new Platform();
        g_status = init(*p, who);
        if (g_status == RF_OK) g_platform = p;
        else g_error = rf_last_error();  // p is leaked: a half-built context is not worth a teardown path
    }
    if (!g_platform) {
        fail(g_status, "%s", g_error.c_str());
        *status = g_status;
    }
    return g_platform;
}

rf_status set_partitions(int parts) {
    std::lock_guard<std::mutex> lock(g_init_mutex);
    if (g_tried && parts != g_partitions.load())
        return fail(RF_ERR_INVALID_ARG,
                    "rf_set_device_partitions: the devices are already set up (%d partition(s)); call it before first use",
                    g_partitions.load());
    g_partitions.store(parts);
    return RF_OK;
}

std::mutex &launch_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace rf::ocl
