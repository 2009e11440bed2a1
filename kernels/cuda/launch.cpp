// Launch: argument resolution (rf_malloc blocks in place; other host ranges,
// overlapping ones merged, staged into device memory through pinned buffers),
// launches by kernel name with a grid chosen per launch, and completion (the
// changed bytes of staged ranges copied back).
#include "launch.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rf::cuda {
namespace {

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

size_t pow2_at_least(size_t v) {
    size_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

// Copy the bytes of `fresh` that differ from `host` into `host`, in runs: an
// unchanged input is never written (it may be a read-only mapping), and bytes
// between an output's rows stay exactly what the caller has there.
void write_changed(char *host, const char *fresh, size_t bytes) {
    const size_t chunk = 4096;
    for (size_t at = 0; at < bytes; at += chunk) {
        const size_t n = std::min(chunk, bytes - at);
        if (std::memcmp(host + at, fresh + at, n) == 0) continue;
        for (size_t i = at; i < at + n;) {
            if (host[i] == fresh[i]) { ++i; continue; }
            size_t j = i + 1;
            while (j < at + n && host[j] != fresh[j]) ++j;
            std::memcpy(host + i, fresh + i, j - i);
            i = j;
        }
    }
}

}  // namespace

Launch::Launch(const char *who, rf_stream s) : who_(who), stream_(s) {
    platform_ = cuda::platform(who, &status_);
    if (s) device_ = s->device;
}

Launch::~Launch() {
    // A launch that failed half-way may still have kernels using its buffers: wait for them first.
    if (!owned_.empty() && !waited_) cudaStreamSynchronize(stream());
    for (void *p : owned_) cached_free(p);
}

cudaStream_t Launch::stream() const { return stream_ ? stream_->stream : platform_->devices[size_t(device_)].stream; }

int Launch::arg(const void *p, size_t bytes) {
    args_.push_back({static_cast<const char *>(p), p ? bytes : 0});
    return int(args_.size() - 1);
}

rf_status Launch::bind() {
    if (status_ != RF_OK) return status_;
    bool picked = stream_ != nullptr;
    std::vector<size_t> host;
    for (size_t i = 0; i < args_.size(); ++i) {
        Arg &a = args_[i];
        if (a.bytes == 0) continue;
        Block b;
        if (find_block(a.p, &b)) {
            const size_t off = size_t(a.p - b.host);
            if (off + a.bytes > b.bytes)
                return status_ = fail(RF_ERR_INVALID_ARG,
                                      "%s: an argument of %zu bytes at offset %zu overruns its %zu-byte device buffer",
                                      who_, a.bytes, off, b.bytes);
            a.mem = const_cast<char *>(b.host);
            a.offset = off;
            if (!picked) device_ = b.device, picked = true;
        } else {
            host.push_back(i);
        }
    }
    if (use_device(who_, device_) != RF_OK) return status_ = RF_ERR_DEVICE;
    // Host ranges: one staged copy per overlapping group.
    for (const RangeGroup &g : group_overlapping(args_, host)) {
        const size_t bytes = g.bytes;
        Staged st{const_cast<char *>(g.start), bytes, nullptr, nullptr};
        if ((status_ = cached_alloc(who_, MemKind::Device, device_, bytes, &st.dev)) != RF_OK) return status_;
        owned_.push_back(st.dev);
        if ((status_ = cached_alloc(who_, MemKind::Pinned, device_, bytes, &st.pinned)) != RF_OK) return status_;
        owned_.push_back(st.pinned);
        std::memcpy(st.pinned, g.start, bytes);
        cudaError_t err = cudaMemcpyAsync(st.dev, st.pinned, bytes, cudaMemcpyHostToDevice, stream());
        if (err != cudaSuccess) return status_ = cuda_fail(who_, "cudaMemcpyAsync(host to device)", err);
        staged_.push_back(st);
        for (size_t i : g.members) {
            args_[i].mem = st.dev;
            args_[i].offset = size_t(args_[i].p - g.start);
        }
    }
    return RF_OK;
}

rf_status Launch::scratch(size_t bytes, void **out) {
    if (status_ != RF_OK) return status_;
    if ((status_ = cached_alloc(who_, MemKind::Device, device_, bytes == 0 ? 4 : bytes, out)) != RF_OK) return status_;
    owned_.push_back(*out);
    return RF_OK;
}

rf_status Launch::run(const char *name, std::initializer_list<KArg> args, size_t g0, size_t l0, size_t g1, size_t l1) {
    if (status_ != RF_OK) return status_;
    if (g0 == 0 || g1 == 0) return RF_OK;
    cudaError_t err;
    cudaKernel_t k = platform_->kernel(name, &err);
    if (!k) {
        char call[96];
        std::snprintf(call, sizeof call, "cudaLibraryGetKernel(%s)", name);
        return status_ = cuda_fail(who_, call, err);
    }
    // Parameter values, two per pointer (pointer, byte offset), in declaration order.
    struct Value {
        alignas(8) unsigned char raw[8];
    };
    std::vector<Value> values;
    std::vector<void *> params;
    values.reserve(2 * args.size());
    for (const KArg &a : args) {
        Value v{};
        switch (a.kind) {
        case KArg::BUF:
        case KArg::MEM: {
            void *p = a.kind == KArg::BUF ? args_[size_t(a.buf)].mem : a.mem;
            const uint64_t off = a.kind == KArg::BUF ? args_[size_t(a.buf)].offset : a.off;
            std::memcpy(v.raw, &p, sizeof p);
            values.push_back(v);
            std::memcpy(v.raw, &off, sizeof off);
            values.push_back(v);
            break;
        }
        case KArg::I64: std::memcpy(v.raw, &a.i64, 8); values.push_back(v); break;
        case KArg::I32: std::memcpy(v.raw, &a.i32, 4); values.push_back(v); break;
        case KArg::F32: std::memcpy(v.raw, &a.f32, 4); values.push_back(v); break;
        case KArg::BYTES: values.push_back(v); break;  // placeholder: points at the struct itself below
        }
    }
    size_t at = 0;
    for (const KArg &a : args) {
        if (a.kind == KArg::BUF || a.kind == KArg::MEM) {
            params.push_back(values[at].raw);
            params.push_back(values[at + 1].raw);
            at += 2;
        } else {
            params.push_back(a.kind == KArg::BYTES ? const_cast<void *>(a.bytes) : static_cast<void *>(values[at].raw));
            at += 1;
        }
    }
    // Grid: the given work-group shape, else 256 work-items per block (2-D: up to
    // 256 along dimension 0, the rest along 1). Kernels bound-check their work-items.
    dim3 block, grid;
    if (l0 != 0) {
        block = dim3(unsigned(l0), unsigned(l1 ? l1 : 1));
    } else if (g1 <= 1) {
        block = dim3(256, 1);
    } else {
        const size_t bx = std::min<size_t>(256, pow2_at_least(g0));
        block = dim3(unsigned(bx), unsigned(std::max<size_t>(1, 256 / bx)));
    }
    grid = dim3(unsigned(ceil_div(g0, block.x)), unsigned(ceil_div(g1, block.y)));
    while (l0 == 0 && grid.y > 65535 && block.x * block.y < 1024) {
        block.y *= 2;
        grid.y = unsigned(ceil_div(g1, block.y));
    }
    if (grid.y > 65535 || ceil_div(g0, block.x) > 0x7fffffffu)
        return status_ = fail(RF_ERR_UNSUPPORTED, "%s: %s over %zu x %zu work-items exceeds a CUDA grid", who_, name, g0, g1);
    err = cudaLaunchKernel(reinterpret_cast<const void *>(k), grid, block, params.data(), 0, stream());
    if (err != cudaSuccess) {
        char call[96];
        std::snprintf(call, sizeof call, "cudaLaunchKernel(%s)", name);
        return status_ = cuda_fail(who_, call, err);
    }
    waited_ = false;
    return RF_OK;
}

rf_status Launch::copy(void *src, size_t src_off, void *dst, size_t dst_off, size_t bytes) {
    if (status_ != RF_OK || bytes == 0) return status_;
    cudaError_t err = cudaMemcpyAsync(static_cast<char *>(dst) + dst_off, static_cast<const char *>(src) + src_off, bytes,
                                      cudaMemcpyDefault, stream());
    if (err != cudaSuccess) return status_ = cuda_fail(who_, "cudaMemcpyAsync", err);
    waited_ = false;
    return RF_OK;
}

rf_status Launch::zero(void *m, size_t bytes) {
    if (status_ != RF_OK || bytes == 0) return status_;
    cudaError_t err = cudaMemsetAsync(m, 0, bytes, stream());
    if (err != cudaSuccess) return status_ = cuda_fail(who_, "cudaMemsetAsync", err);
    waited_ = false;
    return RF_OK;
}

rf_status Launch::finish() {
    if (status_ != RF_OK) return status_;
    for (const Staged &st : staged_) {
        cudaError_t err = cudaMemcpyAsync(st.pinned, st.dev, st.bytes, cudaMemcpyDeviceToHost, stream());
        if (err != cudaSuccess) return status_ = cuda_fail(who_, "cudaMemcpyAsync(device to host)", err);
    }
    if (!must_wait()) return RF_OK;
    cudaError_t err = cudaStreamSynchronize(stream());
    waited_ = true;
    if (err != cudaSuccess) return status_ = cuda_fail(who_, "cudaStreamSynchronize", err);
    for (const Staged &st : staged_) write_changed(st.host, static_cast<const char *>(st.pinned), st.bytes);
    return RF_OK;
}

}  // namespace rf::cuda
