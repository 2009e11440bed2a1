// rf_weight_pack / rf_weight_free and the GEMM launch on CUDA (rf_gemm,
// rf_cross_layer, rf_weight_shape: kernels/device/host/gemm_entries.cpp).
// Argument checks are the CPU backend's (kernels/cpu/gemm_checks.h).
//   tiled path: W lives on the device as [n][k] in its own dtype (plus fp32
//     scales for int8), widened inside the shared tiled kernel (device/gemm.cl);
//   cuBLASLt path (cublaslt.h): W is widened to fp32 once, at pack time (bf16 and
//     int8 weights are weight-only quantization: X stays fp32, as rankfn.h
//     says), and a GEMM whose epilogue cuBLASLt can take (bias, ReLU, a residual
//     without activation; other activations as a second launch) goes through
//     cublasLtMatmul; the rest (a multiplier, an activation then a residual, no
//     algorithm for the shape) through the tiled kernel on the widened weight.
#include "../device/host/gemm.h"
#include "../cpu/gemm_checks.h"
#include "cublaslt.h"

#include <cstring>
#include <memory>
#include <vector>

namespace rf::cuda {
namespace {

const char *gemm_kernel(int dtype) { return dtype == RF_BF16 ? "gemm_bf16" : dtype == RF_I8 ? "gemm_i8" : "gemm_f32"; }

// W [n][k] of dtype widened to fp32 with the int8 scales applied: real W[j][l].
std::vector<float> widened(int dtype, const void *w, const float *scales, int64_t n, int64_t k) {
    std::vector<float> t(size_t(n) * size_t(k));
    for (size_t j = 0; j < size_t(n); ++j)
        for (size_t l = 0; l < size_t(k); ++l) {
            const size_t e = j * size_t(k) + l;
            t[e] = dtype == RF_BF16 ? bf16_to_f32(static_cast<const uint16_t *>(w)[e])
                 : dtype == RF_I8   ? scales[j] * float(static_cast<const int8_t *>(w)[e])
                                    : static_cast<const float *>(w)[e];
        }
    return t;
}

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

}  // namespace

rf_status enqueue_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act,
                       const Operand &mul, const Operand &res, const Operand &y) {
    const int dtype = w.widened ? RF_F32 : w.dtype;
    const bool has_mul = address(l, mul.arg) != nullptr, has_res = address(l, res.arg) != nullptr;
    if (w.widened && w.k > 0 && !has_mul && !(has_res && act != RF_ACT_NONE)) {
        const bool relu = act == RF_ACT_RELU;
        LtGemm g{m, w.n, w.k, address(l, x.arg), x.ld, static_cast<const float *>(w.w), address(l, bias), relu,
                 address(l, res.arg), res.ld, const_cast<float *>(address(l, y.arg)), y.ld};
        rf_status st = lt_matmul(l.who(), l.device().ordinal, l.stream(), g);
        if (st == RF_OK && act != RF_ACT_NONE && !relu)  // the activation cuBLASLt has no exact epilogue for
            return l.run("activation", {a_i32(act), a_i64(m), a_i64(w.n), y.arg, a_i64(y.ld), y.arg, a_i64(y.ld)},
                         size_t(w.n), 0, size_t(m), 0);
        if (st != RF_ERR_UNSUPPORTED) return l.set_status(st);
        clear_error();  // no algorithm for this shape: the tiled kernel below
    }
    std::initializer_list<KArg> args = {a_i64(m),   a_i64(w.n), a_i64(w.k), x.arg,        a_i64(x.ld),
                                        a_mem(w.w), a_mem(w.scales), bias,  a_i32(act),   mul.arg,
                                        a_i64(mul.ld), res.arg,   a_i64(res.ld), y.arg,      a_i64(y.ld)};
    const size_t wg = size_t(l.platform().gemm_wg), tile = 2 * wg;
    const size_t groups_n = (size_t(w.n) + tile - 1) / tile, groups_m = (size_t(m) + tile - 1) / tile;
    return l.run(gemm_kernel(dtype), args, groups_n * wg, wg, groups_m * wg, wg);
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
        auto h = std::make_unique<rf_weight_s>(rf_weight_s{dtype, device, n, k, nullptr, nullptr, lt_active()});
        const size_t count = size_t(n) * size_t(k);
        if (h->widened) {
            const std::vector<float> t = dtype == RF_F32 ? std::vector<float>() : widened(dtype, w, scales, n, k);
            st = upload("rf_weight_pack", device, dtype == RF_F32 ? w : t.data(), count * 4, &h->w);
        } else {
            st = upload("rf_weight_pack", device, w, count * (dtype == RF_I8 ? 1 : dtype == RF_BF16 ? 2 : 4), &h->w);
            if (st == RF_OK && dtype == RF_I8) st = upload("rf_weight_pack", device, scales, size_t(n) * 4, &h->scales);
        }
        if (st != RF_OK) {
            cached_free(h->w);
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
    delete w;
    return RF_OK;
}

}  // extern "C"
