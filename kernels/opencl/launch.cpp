// Launch: argument resolution (rf_malloc blocks in place, other host ranges
// wrapped, overlapping ranges sharing one wrapper), enqueueing and completion.
#include "launch.h"

#include <algorithm>

namespace rf::ocl {

Launch::Launch(const char *who, rf_stream s) : who_(who), stream_(s), lock_(launch_mutex()) {
    platform_ = ocl::platform(who, &status_);
    if (s) device_ = s->device;
}

Launch::~Launch() {
    if (last_) clReleaseEvent(last_);
    // Released buffers stay alive until the commands using them complete.
    for (cl_mem m : owned_) clReleaseMemObject(m);
}

int Launch::arg(const void *p, size_t bytes) {
    args_.push_back({static_cast<const char *>(p), p ? bytes : 0});
    return int(args_.size() - 1);
}

rf_status Launch::bind() {
    if (status_ != RF_OK) return status_;
    // rf_malloc blocks first; the first one found picks the device of a NULL stream.
    bool picked = stream_ != nullptr;
    std::vector<size_t> host;
    for (size_t i = 0; i < args_.size(); ++i) {
        Arg &a = args_[i];
        if (a.bytes == 0) continue;
        Block b;
        if (find_block(a.p, &b)) {
            size_t off = size_t(a.p - b.host);
            if (off + a.bytes > b.bytes)
                return status_ = fail(RF_ERR_INVALID_ARG,
                                      "%s: an argument of %zu bytes at offset %zu overruns its %zu-byte device buffer",
                                      who_, a.bytes, off, b.bytes);
            a.mem = b.mem;
            a.offset = off;
            if (!picked) device_ = b.device, picked = true;
        } else {
            host.push_back(i);
        }
    }
    // Other host ranges: one USE_HOST_PTR wrapper per overlapping group.
    for (const RangeGroup &g : group_overlapping(args_, host)) {
        cl_int err;
        cl_mem m = clCreateBuffer(platform_->context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, g.bytes,
                                  const_cast<char *>(g.start), &err);
        if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clCreateBuffer(CL_MEM_USE_HOST_PTR)", err);
        owned_.push_back(m);
        for (size_t i : g.members) {
            args_[i].mem = m;
            args_[i].offset = size_t(args_[i].p - g.start);
        }
    }
    if (explicit_sync()) return sync_args(CL_MAP_WRITE_INVALIDATE_REGION, false);  // host bytes -> device
    return RF_OK;
}

bool Launch::explicit_sync() const {
    return platform_->force_map || !platform_->devices[size_t(device_)].host_unified;
}

rf_status Launch::sync_args(cl_map_flags flags, bool blocking) {
    for (const Arg &a : args_) {
        if (a.bytes == 0 || !a.mem) continue;
        cl_int err;
        cl_event e = nullptr;
        void *p = clEnqueueMapBuffer(queue(), a.mem, blocking ? CL_TRUE : CL_FALSE, flags, a.offset, a.bytes, 0, nullptr,
                                     nullptr, &err);
        if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clEnqueueMapBuffer", err);
        err = clEnqueueUnmapMemObject(queue(), a.mem, p, 0, nullptr, &e);
        if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clEnqueueUnmapMemObject", err);
        track(e);
    }
    return RF_OK;
}

rf_status Launch::scratch(size_t bytes, cl_mem *out) {
    cl_int err;
    *out = clCreateBuffer(platform_->context, CL_MEM_READ_WRITE, bytes == 0 ? 4 : bytes, nullptr, &err);
    if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clCreateBuffer(scratch)", err);
    owned_.push_back(*out);
    return RF_OK;
}

cl_command_queue Launch::queue() const {
    return stream_ ? stream_->queue : platform_->devices[size_t(device_)].queue;
}

void Launch::track(cl_event e) {
    if (last_) clReleaseEvent(last_);
    last_ = e;
}

rf_status Launch::run(const char *name, std::initializer_list<KArg> args, size_t g0, size_t l0, size_t g1, size_t l1) {
    if (status_ != RF_OK) return status_;
    if (g0 == 0 || g1 == 0) return RF_OK;
    cl_int err;
    cl_kernel k = platform_->kernel(name, &err);
    if (!k) return status_ = cl_fail(who_, name, err);
    cl_uint i = 0;
    for (const KArg &a : args) {
        switch (a.kind) {
        case KArg::BUF:
        case KArg::MEM: {
            cl_mem m = a.kind == KArg::BUF ? args_[size_t(a.buf)].mem : a.mem;
            cl_ulong off = a.kind == KArg::BUF ? args_[size_t(a.buf)].offset : a.off;
            err = clSetKernelArg(k, i++, sizeof(cl_mem), m ? &m : nullptr);
            if (err == CL_SUCCESS) err = clSetKernelArg(k, i++, sizeof off, &off);
            break;
        }
        case KArg::I64: { cl_long v = a.i64; err = clSetKernelArg(k, i++, sizeof v, &v); break; }
        case KArg::I32: { cl_int v = a.i32; err = clSetKernelArg(k, i++, sizeof v, &v); break; }
        case KArg::F32: { cl_float v = a.f32; err = clSetKernelArg(k, i++, sizeof v, &v); break; }
        case KArg::BYTES: err = clSetKernelArg(k, i++, a.size, a.bytes); break;
        }
        if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clSetKernelArg", err);
    }
    size_t global[2] = {l0 ? (g0 + l0 - 1) / l0 * l0 : g0, l1 ? (g1 + l1 - 1) / l1 * l1 : g1};
    size_t local[2] = {l0, l1};
    cl_event e = nullptr;
    err = clEnqueueNDRangeKernel(queue(), k, g1 > 1 || l1 > 1 ? 2 : 1, nullptr, global, l0 ? local : nullptr, 0,
                                 nullptr, &e);
    if (err != CL_SUCCESS) {
        char call[96];
        std::snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", name);
        return status_ = cl_fail(who_, call, err);
    }
    track(e);
    return RF_OK;
}

rf_status Launch::copy(cl_mem src, size_t src_off, cl_mem dst, size_t dst_off, size_t bytes) {
    if (status_ != RF_OK || bytes == 0) return status_;
    cl_event e = nullptr;
    cl_int err = clEnqueueCopyBuffer(queue(), src, dst, src_off, dst_off, bytes, 0, nullptr, &e);
    if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clEnqueueCopyBuffer", err);
    track(e);
    return RF_OK;
}

rf_status Launch::zero(cl_mem m, size_t bytes) {
    if (status_ != RF_OK || bytes == 0) return status_;
    const float zero = 0.f;
    cl_event e = nullptr;
    cl_int err = clEnqueueFillBuffer(queue(), m, &zero, 4, 0, bytes, 0, nullptr, &e);
    if (err != CL_SUCCESS) return status_ = cl_fail(who_, "clEnqueueFillBuffer", err);
    track(e);
    return RF_OK;
}

rf_status Launch::finish() {
    if (status_ != RF_OK) return status_;
    if (explicit_sync() && sync_args(CL_MAP_READ, false) != RF_OK) return status_;  // device -> host bytes
    if (!stream_) {
        if (last_) RF_CL(who_, clWaitForEvents(1, &last_));
        return RF_OK;
    }
    if (last_) {
        if (stream_->last) clReleaseEvent(stream_->last);
        stream_->last = last_;
        last_ = nullptr;
    }
    return RF_OK;
}

}  // namespace rf::ocl
