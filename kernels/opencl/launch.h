// One op's trip to the device: resolve its pointer arguments to buffers (see
// the memory model in backend.h), enqueue one or more kernels on its queue,
// and wait when the stream is NULL. Holds the launch lock for its lifetime.
//
// Every pointer parameter of a kernel is two OpenCL parameters: the buffer and
// a byte offset into it (kernels/device/common.cl: GBUF / AT / OPT).
#pragma once
#include "backend.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

namespace rf::ocl {

// A device buffer as a launch sees it; span_bytes, KArg and its a_* makers, group_overlapping,
// platform_with_device.
using DevMem = cl_mem;
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
    // A device-only scratch buffer released when the launch ends.
    rf_status scratch(size_t bytes, cl_mem *out);

    // Enqueue `kernel` over a 1-D or 2-D range (local == 0: the driver picks).
    rf_status run(const char *kernel, std::initializer_list<KArg> args, size_t g0, size_t l0, size_t g1 = 1,
                  size_t l1 = 1);
    // Copy between resolved arguments / scratch buffers.
    rf_status copy(cl_mem src, size_t src_off, cl_mem dst, size_t dst_off, size_t bytes);
    // Fill the first `bytes` of a buffer with zeros.
    rf_status zero(cl_mem m, size_t bytes);
    cl_mem mem(int i) const { return args_[size_t(i)].mem; }
    size_t offset(int i) const { return args_[size_t(i)].offset; }
    // A declared argument as a kernel argument with its offset moved by `extra` bytes.
    KArg at(int i, size_t extra = 0) const { return a_mem(mem(i), offset(i) + extra); }
    // Wait (NULL stream) or record the stream's last event. Call after the last run().
    rf_status finish();

    Platform &platform() { return *platform_; }
    Device &device() { return platform_->devices[size_t(device_)]; }
    rf_status status() const { return status_; }

private:
    struct Arg {
        const char *p;
        size_t bytes;
        cl_mem mem = nullptr;
        size_t offset = 0;
    };
    const char *who_;
    rf_stream stream_;
    Platform *platform_ = nullptr;
    rf_status status_ = RF_OK;
    int device_ = 0;
    std::unique_lock<std::mutex> lock_;
    std::vector<Arg> args_;
    std::vector<cl_mem> owned_;  // wrappers and scratch, released at the end
    cl_event last_ = nullptr;
    cl_command_queue queue() const;
    void track(cl_event e);
    bool explicit_sync() const;
    // Map + unmap every argument range (see Coherence in backend.h).
    rf_status sync_args(cl_map_flags flags, bool blocking);
};

}  // namespace rf::ocl
