// One op's trip to the device, with the interface of kernels/opencl/launch.h
// (the shared launchers in kernels/device/host/ are written against it):
// resolve its pointer arguments (rf_malloc blocks in place, other host ranges
// staged into device memory, see backend.h), launch kernels by name on its
// stream, and wait when the stream is NULL.
//
#pragma once
#include "backend.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

namespace rf::cuda {

// A device buffer as a launch sees it; span_bytes, KArg and its a_* makers, group_overlapping,
// platform_with_device.
using DevMem = void *;
#include "../device/host/launch_common.h"

// Wait for the work queued on stream s (not NULL).
rf_status stream_wait(const char *who, rf_stream s);

class Launch {
public:
    // `who` names the entry point in errors. The device is the stream's, else
    // the device of the first rf_malloc block among the arguments, else 0.
    Launch(const char *who, rf_stream s);
    ~Launch();
    Launch(const Launch &) = delete;
    Launch &operator=(const Launch &) = delete;

    // Declare a pointer argument covering [p, p + bytes); NULL or 0 bytes is a NULL argument.
    int arg(const void *p, size_t bytes);
    // Resolve every declared argument (call once, after the last arg()).
    rf_status bind();
    // A device-only scratch buffer, returned to the allocator when the launch ends.
    rf_status scratch(size_t bytes, void **out);

    // Launch `kernel` over a 1-D or 2-D range of work-items (local == 0: chosen here).
    rf_status run(const char *kernel, std::initializer_list<KArg> args, size_t g0, size_t l0, size_t g1 = 1,
                  size_t l1 = 1);
    // Copy between resolved arguments / scratch buffers.
    rf_status copy(void *src, size_t src_off, void *dst, size_t dst_off, size_t bytes);
    // Fill the first `bytes` of a buffer with zeros.
    rf_status zero(void *m, size_t bytes);
    void *mem(int i) const { return args_[size_t(i)].mem; }
    size_t offset(int i) const { return args_[size_t(i)].offset; }
    // The device address of a declared argument (its pointer once resolved).
    char *address(int i) const { return args_[size_t(i)].mem ? static_cast<char *>(args_[size_t(i)].mem) + args_[size_t(i)].offset : nullptr; }
    // A declared argument as a kernel argument with its offset moved by `extra` bytes.
    KArg at(int i, size_t extra = 0) const { return a_mem(mem(i), offset(i) + extra); }
    // Copy changed host bytes back and wait (NULL stream, host ranges, scratch). Call after the last run().
    rf_status finish();

    Platform &platform() { return *platform_; }
    Device &device() { return platform_->devices[size_t(device_)]; }
    cudaStream_t stream() const;
    const char *who() const { return who_; }
    rf_status status() const { return status_; }
    rf_status set_status(rf_status st) { return status_ = st; }

private:
    struct Arg {
        const char *p;
        size_t bytes;
        void *mem = nullptr;
        size_t offset = 0;
    };
    // A host range staged in device memory: its bytes as copied in (to find the changed ones).
    struct Staged {
        char *host;
        size_t bytes;
        void *dev;
        void *pinned;
    };
    const char *who_;
    rf_stream stream_;
    Platform *platform_ = nullptr;
    rf_status status_ = RF_OK;
    int device_ = 0;
    std::vector<Arg> args_;
    std::vector<Staged> staged_;
    std::vector<void *> owned_;  // device scratch and staging, returned to the allocator at the end
    bool waited_ = false;        // finish() waited for the stream
    bool must_wait() const { return !stream_ || !staged_.empty() || !owned_.empty(); }
};

}  // namespace rf::cuda
