// rf_weight_pack / rf_weight_free and the GEMM launch on OpenCL (rf_gemm,
// rf_cross_layer, rf_weight_shape: kernels/device/host/gemm_entries.cpp). Argument
// checks are the CPU backend's (kernels/cpu/gemm_checks.h), message for
// message; the weight lives on the device as W [n][k] in its own dtype (plus
// fp32 scales for int8) and is widened inside the kernel (kernels/device/gemm.cl).
#include "../device/host/gemm.h"
#include "../cpu/gemm_checks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace rf::ocl {
namespace {

const char *gemm_kernel(int dtype, bool columns) {
    if (columns) return dtype == RF_BF16 ? "gemm_cols_bf16" : dtype == RF_I8 ? "gemm_cols_i8" : "gemm_cols_f32";
    return dtype == RF_BF16 ? "gemm_bf16" : dtype == RF_I8 ? "gemm_i8" : "gemm_f32";
}

// W [n][k] -> panels of 16 output columns, panel p = [k][16] (zero-padded past n):
// packed[(p*k + l)*16 + c] = W[p*16 + c][l], for the column kernels.
std::vector<char> panels_of_16(const void *w, int64_t n, int64_t k, size_t eb) {
    const size_t np = size_t(n + 15) / 16 * 16;
    std::vector<char> t(np * size_t(k) * eb, 0);
    const char *src = static_cast<const char *>(w);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t l = 0; l < k; ++l)
            std::memcpy(&t[((size_t(j / 16) * size_t(k) + size_t(l)) * 16 + size_t(j % 16)) * eb],
                        src + (size_t(j) * size_t(k) + size_t(l)) * eb, eb);
    return t;
}

}  // namespace

// The OpenCL GEMM (device/host/gemm.h): one launch of the tiled or the column kernel.
rf_status enqueue_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act,
                       const Operand &mul, const Operand &res, const Operand &y) {
    std::initializer_list<KArg> args = {a_i64(m),   a_i64(w.n), a_i64(w.k), x.arg,        a_i64(x.ld),
                                        a_mem(w.w), a_mem(w.scales), bias,  a_i32(act),   mul.arg,
                                        a_i64(mul.ld), res.arg,   a_i64(res.ld), y.arg,      a_i64(y.ld)};
    if (w.columns) {  // a work-item per block of 4 rows x 16 columns
        // Groups of up to 16 row blocks sharing a column block of W, yet enough
        // groups to occupy every compute unit (~4 each) even for a GEMV.
        const size_t rows = (size_t(m) + 3) / 4, cols = (size_t(w.n) + 15) / 16;
        const size_t want = 4 * size_t(std::max(1, l.device().compute_units));
        size_t lr = std::min<size_t>({16, l.device().max_work_group, std::max<size_t>(1, rows * cols / want)});
        if (lr > rows) lr = rows;
        return l.run(gemm_kernel(w.dtype, true), args, rows, lr, cols, 1);
    }
    const size_t wg = size_t(l.platform().gemm_wg), tile = 2 * wg;
    const size_t groups_n = (size_t(w.n) + tile - 1) / tile, groups_m = (size_t(m) + tile - 1) / tile;
    return l.run(gemm_kernel(w.dtype, false), args, groups_n * wg, wg, groups_m * wg, wg);
}

}  // namespace rf::ocl

using namespace rf::ocl;

extern "C" {

RF_API rf_status rf_weight_pack(int32_t device, int32_t dtype, int64_t n, int64_t k, const void *w,
                                const float *scales, rf_weight *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_weight_pack: out is NULL");
        *out = nullptr;
        rf_status st = RF_OK;
        Platform *p = platform_with_device("rf_weight_pack", device, &st);
        if (!p) return st;
        if (rf_status bad = rf::check_weight_pack(dtype, n, k, w, scales); bad != RF_OK) return bad;
        const size_t eb = dtype == RF_I8 ? 1 : dtype == RF_BF16 ? 2 : 4;
        const size_t bytes = size_t(p->cpu_kernels ? (n + 15) / 16 * 16 : n) * size_t(k) * eb;
        auto h = std::make_unique<rf_weight_s>(rf_weight_s{dtype, device, n, k, p->cpu_kernels, nullptr, nullptr});
        std::vector<char> t;
        if (h->columns && bytes) t = panels_of_16(w, n, k, eb);
        cl_int err;
        // COPY_HOST_PTR: the weight is the device's own copy; W may be freed afterwards.
        h->w = clCreateBuffer(p->context, CL_MEM_READ_ONLY | (bytes ? CL_MEM_COPY_HOST_PTR : 0), bytes ? bytes : 4,
                              bytes ? (h->columns ? static_cast<void *>(t.data()) : const_cast<void *>(w)) : nullptr, &err);
        if (err != CL_SUCCESS) return cl_fail("rf_weight_pack", "clCreateBuffer", err);
        if (dtype == RF_I8 && n > 0) {
            h->scales = clCreateBuffer(p->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, size_t(n) * 4,
                                       const_cast<float *>(scales), &err);
            if (err != CL_SUCCESS) {
                clReleaseMemObject(h->w);
                return cl_fail("rf_weight_pack", "clCreateBuffer(scales)", err);
            }
        }
        *out = h.release();
        return RF_OK;
    });
}

RF_API rf_status rf_weight_free(rf_weight w) {
    if (!w) return RF_OK;
    clReleaseMemObject(w->w);
    if (w->scales) clReleaseMemObject(w->scales);
    delete w;
    return RF_OK;
}

}  // extern "C"
