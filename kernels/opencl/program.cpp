// Compiling the OpenCL C program once per device set, with binaries cached on
// disk: <cache>/<key>.bin, key = hash of the source, the build options and
// each device's name, version and driver version. Cache dir:
// RANKFN_OPENCL_CACHE, else $XDG_CACHE_HOME/rankfn/opencl, else ~/.cache/rankfn/opencl.
// A corrupt or foreign cache file is ignored and rewritten.
#include "backend.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace rf::ocl {
namespace {

const char kMagic[8] = {'R', 'F', 'C', 'L', 'B', 'I', 'N', '1'};

uint64_t fnv1a(const std::string &s, uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string info(cl_device_id d, cl_device_info what) {
    char buf[512] = {};
    clGetDeviceInfo(d, what, sizeof buf - 1, buf, nullptr);
    return buf;
}

std::string cache_dir() {
    if (const char *d = std::getenv("RANKFN_OPENCL_CACHE")) return d;
    if (const char *x = std::getenv("XDG_CACHE_HOME")) return std::string(x) + "/rankfn/opencl";
    if (const char *h = std::getenv("HOME")) return std::string(h) + "/.cache/rankfn/opencl";
    return "/tmp/rankfn-opencl-cache";
}

void make_dirs(const std::string &path) {
    for (size_t i = 1; i <= path.size(); ++i)
        if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

bool debug() {
    const char *e = std::getenv("RANKFN_DEBUG");
    return e && e[0] == '1';
}

std::vector<std::string> read_cache(const std::string &path, size_t devices) {
    std::ifstream f(path, std::ios::binary);
    char magic[8];
    uint32_t n = 0;
    if (!f.read(magic, 8) || std::string(magic, 8) != std::string(kMagic, 8)) return {};
    if (!f.read(reinterpret_cast<char *>(&n), 4) || n != devices) return {};
    std::vector<std::string> out(n);
    for (auto &b : out) {
        uint64_t size = 0;
        if (!f.read(reinterpret_cast<char *>(&size), 8) || size > (uint64_t(1) << 31)) return {};
        b.resize(size_t(size));
        if (!f.read(b.data(), std::streamsize(size))) return {};
    }
    return out;
}

void write_cache(const std::string &path, cl_program prog, size_t devices) {
    std::vector<size_t> sizes(devices);
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, devices * sizeof(size_t), sizes.data(), nullptr) != CL_SUCCESS) return;
    std::vector<std::string> bins(devices);
    std::vector<unsigned char *> ptrs(devices);
    for (size_t i = 0; i < devices; ++i) {
        bins[i].resize(sizes[i]);
        ptrs[i] = reinterpret_cast<unsigned char *>(bins[i].data());
    }
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, devices * sizeof(unsigned char *), ptrs.data(), nullptr) != CL_SUCCESS)
        return;
    std::string tmp = path + ".tmp" + std::to_string(getpid());
    {
        std::ofstream f(tmp, std::ios::binary);
        uint32_t n = uint32_t(devices);
        f.write(kMagic, 8);
        f.write(reinterpret_cast<const char *>(&n), 4);
        for (auto &b : bins) {
            uint64_t size = b.size();
            f.write(reinterpret_cast<const char *>(&size), 8);
            f.write(b.data(), std::streamsize(b.size()));
        }
        if (!f) return;
    }
    std::rename(tmp.c_str(), path.c_str());  // atomic: a concurrent reader never sees half a file
}

rf_status build_failed(cl_program prog, const Platform &p, const char *who, cl_int err) {
    std::string log;
    for (const Device &d : p.devices) {
        size_t size = 0;
        clGetProgramBuildInfo(prog, d.id, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
        std::string part(size, '\0');
        clGetProgramBuildInfo(prog, d.id, CL_PROGRAM_BUILD_LOG, size, part.data(), nullptr);
        while (!part.empty() && (part.back() == '\0' || part.back() == '\n')) part.pop_back();
        if (!part.empty()) {
            log = part;
            break;
        }
    }
    if (log.size() > 700) log = log.substr(0, 700) + " ...";
    return fail(RF_ERR_DEVICE, "%s: clBuildProgram failed: %s (%d); build log:\n%s", who, cl_error_name(err), int(err),
                log.c_str());
}

}  // namespace

rf_status build_program(Platform &p, const char *who) {
    char defines[64];
    std::snprintf(defines, sizeof defines, "-cl-std=CL1.2 -DRF_GEMM_WG=%d", p.gemm_wg);
    std::string options = defines;
    if (const char *extra = std::getenv("RANKFN_OPENCL_OPTIONS")) options += std::string(" ") + extra;

    std::string key_text = std::string(kProgramSource) + '\0' + options;
    std::vector<cl_device_id> ids;
    for (const Device &d : p.devices) {
        ids.push_back(d.id);
        key_text += '\0' + d.name + '\0' + info(d.id, CL_DEVICE_VERSION) + '\0' + info(d.id, CL_DRIVER_VERSION);
    }
    char key[32];
    std::snprintf(key, sizeof key, "%016llx", (unsigned long long)fnv1a(key_text));
    const std::string dir = cache_dir(), path = dir + "/" + key + ".bin";

    auto t0 = std::chrono::steady_clock::now();
    cl_int err = CL_SUCCESS;
    std::vector<std::string> bins = read_cache(path, ids.size());
    if (!bins.empty()) {
        std::vector<size_t> sizes;
        std::vector<const unsigned char *> ptrs;
        for (auto &b : bins) {
            sizes.push_back(b.size());
            ptrs.push_back(reinterpret_cast<const unsigned char *>(b.data()));
        }
        std::vector<cl_int> per(ids.size());
        p.program = clCreateProgramWithBinary(p.context, cl_uint(ids.size()), ids.data(), sizes.data(), ptrs.data(),
                                              per.data(), &err);
        if (err == CL_SUCCESS) err = clBuildProgram(p.program, cl_uint(ids.size()), ids.data(), options.c_str(), nullptr, nullptr);
        if (err == CL_SUCCESS) {
            if (debug())
                std::fprintf(stderr, "[rankfn opencl] program loaded from cache %s in %.0f ms\n", path.c_str(),
                             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            return RF_OK;
        }
        if (p.program) clReleaseProgram(p.program);
        p.program = nullptr;
    }
    const char *src = kProgramSource;
    p.program = clCreateProgramWithSource(p.context, 1, &src, nullptr, &err);
    if (err != CL_SUCCESS) return cl_fail(who, "clCreateProgramWithSource", err);
    err = clBuildProgram(p.program, cl_uint(ids.size()), ids.data(), options.c_str(), nullptr, nullptr);
    if (err != CL_SUCCESS) return build_failed(p.program, p, who, err);
    make_dirs(dir);
    write_cache(path, p.program, ids.size());
    if (debug())
        std::fprintf(stderr, "[rankfn opencl] program built in %.0f ms, cached at %s\n",
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), path.c_str());
    return RF_OK;
}

}  // namespace rf::ocl
