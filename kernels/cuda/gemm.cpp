// rf_weight_pack / rf_weight_free and the GEMM launch on CUDA (rf_gemm,
// rf_cross_layer, rf_weight_shape: kernels/device/host/gemm_entries.cpp).
// Argument checks are the CPU backend's (kernels/cpu/gemm_checks.h). W lives
// on the device as [n][k] in its own dtype (plus fp32 scales for int8).
//   cuBLASLt path (cublaslt.h), where it loaded:
//     fp32: one cublasLtMatmul, its epilogue taking bias, ReLU or a residual
//       (other activations as a second launch);
//     bf16: X split into two bf16 digits (device/gemm_split.cl: X keeps ~16
//       bits, as rankfn.h's fp32 X for bf16 weights), two bf16 GEMMs into
//       the same fp32 output, the second with the epilogue;
//     int8 (k a multiple of 4): X per row to int16 levels split into two int8
//       digits, two int8 GEMMs into int32, and one epilogue kernel that
//       recombines them (exactly, in int64) with both scales, bias,
//       activation, multiplier and residual;
//   tiled kernel (device/gemm.cl) for the rest (no cuBLASLt, a multiplier or
//   an activation then a residual on fp32 / bf16, an int8 k not a multiple of
//   4, no algorithm for the shape): W widened as it is staged.
#include "../device/host/gemm.h"
#include "../cpu/gemm_checks.h"
#include "cublaslt.h"

#include <cstring>
#include <memory>
#include <vector>

namespace rf::cuda {
namespace {

const char *gemm_kernel(int dtype) { return dtype == RF_BF16 ? "gemm_bf16" : dtype == RF_I8 ? "gemm_i8" : "gemm_f32"; }

rf_status upload(const char *who, int device, const void *src, size_t bytes, void **out) {
    if (rf_status st = cached_alloc(who, MemKind::Device, device, bytes ? bytes : 4, out); st != RF_OK) return st;
    if (bytes) RF_CU(who, cudaMemcpy(*out, src, bytes, cudaMemcpyHostToDevice));
    return RF_OK;
}

// A kernel argument's device address (an rf_malloc block, a staged range or scratch).
const float *address(const Launch &l, const KArg &a) {
    if (a.kind == KArg::BUF) return reinterpret_cast<const float *>(l.address(a.buf));
    return a.mem ? reinterpret_cast<const float *>(static_cast<char *>(a.mem) + a.off) : nullptr;
}

// The two digits of X (bf16: [2][m][k] bf16; int8: [2][m][k] int8 after [m] fp32 row scales) in scratch.
struct Digits {
    void *mem = nullptr;
    char *hi = nullptr, *lo = nullptr;
    float *scale = nullptr;
};

rf_status split_x(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, Digits *out) {
    const size_t mk = size_t(m) * size_t(w.k), elem = w.dtype == RF_I8 ? 1 : 2;
    const size_t scale_bytes = w.dtype == RF_I8 ? (size_t(m) * 4 + 255) / 256 * 256 : 0;
    if (rf_status st = l.scratch(scale_bytes + (2 * mk * elem + 255) / 256 * 256, &out->mem); st != RF_OK) return st;
    char *base = static_cast<char *>(out->mem);
    out->scale = reinterpret_cast<float *>(base);
    out->hi = base + scale_bytes;
    out->lo = out->hi + mk * elem;
    if (w.dtype == RF_BF16)
        return l.run("split_bf16", {a_i64(m), a_i64(w.k), x.arg, a_i64(x.ld), a_mem(out->hi), a_mem(out->lo)}, size_t(w.k), 0, size_t(m), 0);
    if (rf_status st = l.run("row_scale_i16", {a_i64(m), a_i64(w.k), x.arg, a_i64(x.ld), a_mem(out->scale)}, size_t(m), 0); st != RF_OK) return st;
    return l.run("split_i8", {a_i64(m), a_i64(w.k), x.arg, a_i64(x.ld), a_mem(out->scale), a_mem(out->hi), a_mem(out->lo)},
                 size_t(w.k), 0, size_t(m), 0);
}

// fp32 or bf16 weights through cuBLASLt (the epilogues it can take).
rf_status lt_float_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act, const Operand &res,
                        const Operand &y) {
    const bool relu = act == RF_ACT_RELU;
    const float *b = address(l, bias), *r = address(l, res.arg);
    float *d = const_cast<float *>(address(l, y.arg));
    const int dev = l.device().ordinal;
    rf_status st;
    if (w.dtype == RF_F32) {
        st = lt_matmul(l.who(), dev, l.stream(), LtGemm{RF_F32, m, w.n, w.k, address(l, x.arg), x.ld, w.w, b, relu, r, res.ld, d, y.ld});
    } else {
        Digits xd;
        if ((st = split_x(l, m, x, w, &xd)) != RF_OK) return st;
        // D = lo·Wᵀ (+ residual), then D = hi·Wᵀ + D with the bias and ReLU epilogue.
        st = lt_matmul(l.who(), dev, l.stream(), LtGemm{RF_BF16, m, w.n, w.k, xd.lo, w.k, w.w, nullptr, false, r, res.ld, d, y.ld});
        if (st == RF_OK) st = lt_matmul(l.who(), dev, l.stream(), LtGemm{RF_BF16, m, w.n, w.k, xd.hi, w.k, w.w, b, relu, d, y.ld, d, y.ld});
    }
    if (st == RF_OK && act != RF_ACT_NONE && !relu)  // the activation cuBLASLt has no exact epilogue for
        return l.run("activation", {a_i32(act), a_i64(m), a_i64(w.n), y.arg, a_i64(y.ld), y.arg, a_i64(y.ld)}, size_t(w.n), 0, size_t(m), 0);
    return st;
}

// int8 weights through cuBLASLt: the two digit products, then the recombining epilogue.
rf_status lt_int8_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act, const Operand &mul,
                       const Operand &res, const Operand &y) {
    Digits xd;
    if (rf_status st = split_x(l, m, x, w, &xd); st != RF_OK) return st;
    void *dmem = nullptr;
    const size_t mn = size_t(m) * size_t(w.n);
    if (rf_status st = l.scratch(2 * mn * 4, &dmem); st != RF_OK) return st;
    int32_t *dhi = static_cast<int32_t *>(dmem), *dlo = dhi + mn;
    const int dev = l.device().ordinal;
    rf_status st = lt_matmul(l.who(), dev, l.stream(), LtGemm{RF_I8, m, w.n, w.k, xd.hi, w.k, w.w, nullptr, false, nullptr, 0, dhi, w.n});
    if (st == RF_OK) st = lt_matmul(l.who(), dev, l.stream(), LtGemm{RF_I8, m, w.n, w.k, xd.lo, w.k, w.w, nullptr, false, nullptr, 0, dlo, w.n});
    if (st != RF_OK) return st;
    return l.run("gemm_i8_split_epilogue",
                 {a_i64(m), a_i64(w.n), a_mem(dmem), a_mem(xd.scale), a_mem(w.scales), a_mem(w.colsum), bias, a_i32(act), mul.arg,
                  a_i64(mul.ld), res.arg, a_i64(res.ld), y.arg, a_i64(y.ld)},
                 size_t(w.n), 0, size_t(m), 0);
}

}  // namespace

rf_status enqueue_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act,
                       const Operand &mul, const Operand &res, const Operand &y) {
    const bool has_mul = address(l, mul.arg) != nullptr, has_res = address(l, res.arg) != nullptr;
    if (w.lt && w.k > 0 && m > 0) {
        rf_status st = RF_ERR_UNSUPPORTED;
        if (w.dtype == RF_I8 && w.k % 4 == 0) st = lt_int8_gemm(l, m, x, w, bias, act, mul, res, y);
        else if (w.dtype != RF_I8 && !has_mul && !(has_res && act != RF_ACT_NONE)) st = lt_float_gemm(l, m, x, w, bias, act, res, y);
        if (st != RF_ERR_UNSUPPORTED) return l.set_status(st);
        clear_error();  // no cuBLASLt algorithm for this shape: the tiled kernel below
    }
    std::initializer_list<KArg> args = {a_i64(m),   a_i64(w.n), a_i64(w.k), x.arg,        a_i64(x.ld),
                                        a_mem(w.w), a_mem(w.scales), bias,  a_i32(act),   mul.arg,
                                        a_i64(mul.ld), res.arg,   a_i64(res.ld), y.arg,      a_i64(y.ld)};
    const size_t wg = size_t(l.platform().gemm_wg), tile = 2 * wg;
    const size_t groups_n = (size_t(w.n) + tile - 1) / tile, groups_m = (size_t(m) + tile - 1) / tile;
    return l.run(gemm_kernel(w.dtype), args, groups_n * wg, wg, groups_m * wg, wg);
}

}  // namespace rf::cuda

using namespace rf::cuda;

extern "C" {

RF_API rf_status rf_weight_pack(int32_t device, int32_t dtype, int64_t n, int64_t k, const void *w,
                                const float *scales, rf_weight *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_weight_pack: out is NULL");
        *out = nullptr;
        rf_status st = RF_OK;
        if (!platform_with_device("rf_weight_pack", device, &st)) return st;
        if ((st = use_device("rf_weight_pack", device)) != RF_OK) return st;
        if (rf_status bad = rf::check_weight_pack(dtype, n, k, w, scales); bad != RF_OK) return bad;
        auto h = std::make_unique<rf_weight_s>(rf_weight_s{dtype, device, n, k, nullptr, nullptr, lt_active(), nullptr});
        const size_t count = size_t(n) * size_t(k);
        st = upload("rf_weight_pack", device, w, count * (dtype == RF_I8 ? 1 : dtype == RF_BF16 ? 2 : 4), &h->w);
        if (st == RF_OK && dtype == RF_I8) st = upload("rf_weight_pack", device, scales, size_t(n) * 4, &h->scales);
        if (st == RF_OK && dtype == RF_I8 && h->lt) {
            std::vector<int32_t> colsum(size_t(n), 0);
            for (size_t j = 0; j < size_t(n); ++j)
                for (size_t l = 0; l < size_t(k); ++l) colsum[j] += static_cast<const int8_t *>(w)[j * size_t(k) + l];
            st = upload("rf_weight_pack", device, colsum.data(), size_t(n) * 4, &h->colsum);
        }
        if (st != RF_OK) {
            cached_free(h->w);
            cached_free(h->scales);
            cached_free(h->colsum);
            return st;
        }
        *out = h.release();
        return RF_OK;
    });
}

RF_API rf_status rf_weight_free(rf_weight w) {
    if (!w) return RF_OK;
    // GEMMs still queued may read the weight: it returns to the allocator when the device is idle.
    if (cudaSetDevice(w->device) == cudaSuccess) cudaDeviceSynchronize();
    cached_free(w->w);
    cached_free(w->scales);
    cached_free(w->colsum);
    delete w;
    return RF_OK;
}

}  // extern "C"
