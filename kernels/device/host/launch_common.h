// What the device backends' launch.h share: kernel arguments, the grouping of
// host ranges, the device-index check. Each includes this inside its
// namespace after its backend.h (Platform, platform()) and after naming its
// device buffer type (`using DevMem = cl_mem;` on OpenCL, `void *` on CUDA).
// A pointer parameter of a kernel is a buffer and a byte offset
// (kernels/device/common.cl: GBUF). No include guard: one inclusion per backend namespace.

// Bytes a row-major [rows][cols] block with leading dimension ld covers.
static inline size_t span_bytes(int64_t rows, int64_t cols, int64_t ld, size_t elem) {
    if (rows <= 0 || cols <= 0) return 0;
    return (size_t(rows - 1) * size_t(ld) + size_t(cols)) * elem;
}

struct KArg {
    enum Kind { BUF, MEM, I64, I32, F32, BYTES } kind;
    int buf = 0;           // BUF: a declared argument
    DevMem mem = nullptr;  // MEM: a buffer (NULL allowed) and a byte offset
    uint64_t off = 0;
    int64_t i64 = 0;
    int32_t i32 = 0;
    float f32 = 0.f;
    const void *bytes = nullptr;  // BYTES: a struct passed by value (copied when set)
    size_t size = 0;
};
static inline KArg a_buf(int i) { KArg a{KArg::BUF}; a.buf = i; return a; }
static inline KArg a_mem(DevMem m, size_t off = 0) { KArg a{KArg::MEM}; a.mem = m; a.off = off; return a; }
static inline KArg a_i64(int64_t v) { KArg a{KArg::I64}; a.i64 = v; return a; }
static inline KArg a_i32(int32_t v) { KArg a{KArg::I32}; a.i32 = v; return a; }
static inline KArg a_f32(float v) { KArg a{KArg::F32}; a.f32 = v; return a; }
static inline KArg a_bytes(const void *p, size_t n) { KArg a{KArg::BYTES}; a.bytes = p; a.size = n; return a; }

// The arguments `which` of `args` (each with a `p` and its `bytes`), grouped
// where their host ranges overlap: each group becomes one wrapper / staged
// copy, its members at offsets into it (e.g. y aliasing a residual).
struct RangeGroup {
    const char *start;
    size_t bytes;
    std::vector<size_t> members;  // indices into args
};
template <class Arg> std::vector<RangeGroup> group_overlapping(const std::vector<Arg> &args, std::vector<size_t> which) {
    std::sort(which.begin(), which.end(), [&](size_t x, size_t y) { return args[x].p < args[y].p; });
    std::vector<RangeGroup> groups;
    for (size_t g = 0; g < which.size();) {
        const char *start = args[which[g]].p, *end = start + args[which[g]].bytes;
        size_t h = g + 1;
        while (h < which.size() && args[which[h]].p < end) {
            end = std::max(end, args[which[h]].p + args[which[h]].bytes);
            ++h;
        }
        groups.push_back({start, size_t(end - start), std::vector<size_t>(which.begin() + long(g), which.begin() + long(h))});
        g = h;
    }
    return groups;
}

// The platform, with `device` one of its devices; else nullptr, the error recorded for `who` in *st.
static inline Platform *platform_with_device(const char *who, int32_t device, rf_status *st) {
    Platform *p = platform(who, st);
    if (!p) return nullptr;
    const int n = int(p->devices.size());
    if (device < 0 || device >= n) {
        *st = fail(RF_ERR_INVALID_ARG, "%s: device %d is outside [0, %d)", who, device, n);
        return nullptr;
    }
    return p;
}
