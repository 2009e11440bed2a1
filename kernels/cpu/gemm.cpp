// rf_weight_pack / rf_weight_shape / rf_weight_free / rf_gemm: argument checks,
// weight packing (layout described in gemm.h) and ISA dispatch.
#include "gemm.h"

#include <cmath>
#include <memory>

namespace rf {

rf_status run_gemm(const GemmArgs &a) { RF_DISPATCH(gemm, a); }

namespace {

void pack_weight(rf_weight_s &h, const void *w, const float *scales) {
    const int g = dtype_group(h.dtype);
    const size_t eb = dtype_bytes(h.dtype);
    const int64_t n = h.n, k = h.k, kp = h.kp;
    size_t raw_bytes = size_t(n) * size_t(k) * eb;
    std::memcpy(h.raw.get(raw_bytes), w, raw_bytes);
    size_t packed_elems = size_t(h.panels) * size_t(kp) * kNR;
    void *dst = h.packed.get(packed_elems * eb);
    std::memset(dst, 0, packed_elems * eb);
    for (int64_t p = 0; p < h.panels; ++p) {
        for (int c = 0; c < kNR; ++c) {
            int64_t j = p * kNR + c;
            if (j >= n) break;
            const char *src = static_cast<const char *>(w) + size_t(j) * size_t(k) * eb;
            for (int64_t l = 0; l < k; ++l) {
                size_t idx = size_t(p) * size_t(kp) * kNR + size_t((l / g) * kNR + c) * g + size_t(l % g);
                std::memcpy(static_cast<char *>(dst) + idx * eb, src + size_t(l) * eb, eb);
            }
        }
    }
    if (h.dtype == RF_I8) {
        h.scales.assign(size_t(h.panels) * kNR, 0.f);
        h.colsum.assign(size_t(h.panels) * kNR, 0);
        const int8_t *q = static_cast<const int8_t *>(w);
        for (int64_t j = 0; j < n; ++j) {
            int32_t s = 0;
            for (int64_t l = 0; l < k; ++l) s += q[j * k + l];
            h.colsum[size_t(j)] = s;
            h.scales[size_t(j)] = scales[j];
        }
    }
}

}  // namespace
}  // namespace rf

extern "C" {

RF_API rf_status rf_weight_pack(int32_t device, int32_t dtype, int64_t n, int64_t k, const void *w,
                                const float *scales, rf_weight *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_weight_pack: out is NULL");
        *out = nullptr;
        RF_CHECK(device == 0, "rf_weight_pack: the cpu backend has device 0 only, got %d", device);
        if (dtype == RF_F16 || dtype == RF_U8Q || dtype == RF_I32 || dtype == RF_I64)
            return rf::fail(RF_ERR_UNSUPPORTED,
                            "rf_weight_pack: dtype %d is not a GEMM weight dtype (use RF_F32, RF_BF16 or RF_I8)", dtype);
        RF_CHECK(dtype == RF_F32 || dtype == RF_BF16 || dtype == RF_I8,
                 "rf_weight_pack: unknown dtype %d (use RF_F32=0, RF_BF16=2 or RF_I8=3)", dtype);
        RF_CHECK(n >= 0 && k >= 0, "rf_weight_pack: negative shape [n=%lld, k=%lld]", (long long)n, (long long)k);
        RF_CHECK(n <= (int64_t(1) << 31) && k <= (int64_t(1) << 31) && n * k <= (int64_t(1) << 38),
                 "rf_weight_pack: shape [n=%lld, k=%lld] is too large", (long long)n, (long long)k);
        RF_CHECK(w != nullptr || n * k == 0, "rf_weight_pack: w is NULL for a [%lld][%lld] weight", (long long)n,
                 (long long)k);
        if (dtype == RF_I8) {
            RF_CHECK(scales != nullptr || n == 0,
                     "rf_weight_pack: int8 weights need scales[n] (per-output-channel fp32 scales), got NULL");
            for (int64_t j = 0; j < n; ++j)
                RF_CHECK(std::isfinite(scales[j]), "rf_weight_pack: scales[%lld] = %g is not finite", (long long)j,
                         double(scales[j]));
        } else {
            RF_CHECK(scales == nullptr, "rf_weight_pack: scales must be NULL unless dtype is RF_I8 (got dtype %d)",
                     dtype);
        }
        auto h = std::make_unique<rf_weight_s>();
        h->dtype = dtype;
        h->n = n;
        h->k = k;
        int g = rf::dtype_group(dtype);
        h->kp = (k + g - 1) / g * g;
        h->panels = (n + rf::kNR - 1) / rf::kNR;
        rf::pack_weight(*h, w, scales);
        *out = h.release();
        return RF_OK;
    });
}

RF_API rf_status rf_weight_shape(rf_weight w, int64_t *n, int64_t *k, int32_t *dtype) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_shape: weight handle is NULL");
        if (n) *n = w->n;
        if (k) *k = w->k;
        if (dtype) *dtype = w->dtype;
        return RF_OK;
    });
}

RF_API rf_status rf_weight_free(rf_weight w) {
    delete w;
    return RF_OK;
}

RF_API rf_status rf_gemm(rf_stream, int64_t m, const float *x, int64_t ldx, rf_weight w, const float *bias,
                         int32_t act, const float *residual, int64_t ldr, float *y, int64_t ldy) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_gemm: weight handle is NULL (pack it with rf_weight_pack)");
        RF_CHECK(rf::valid_act(act), "rf_gemm: unknown activation %d", act);
        RF_CHECK(m >= 0, "rf_gemm: negative m = %lld", (long long)m);
        const int64_t n = w->n, k = w->k;
        if (m == 0 || n == 0) return RF_OK;
        RF_CHECK(y != nullptr, "rf_gemm: y is NULL");
        RF_CHECK(x != nullptr || k == 0, "rf_gemm: x is NULL");
        RF_CHECK(ldx >= k, "rf_gemm: ldx = %lld must be >= k = %lld", (long long)ldx, (long long)k);
        RF_CHECK(ldy >= n, "rf_gemm: ldy = %lld must be >= n = %lld", (long long)ldy, (long long)n);
        if (residual) {
            RF_CHECK(ldr >= n, "rf_gemm: ldr = %lld must be >= n = %lld", (long long)ldr, (long long)n);
            RF_CHECK(residual != y || ldr == ldy,
                     "rf_gemm: residual aliases y, so ldr (%lld) must equal ldy (%lld)", (long long)ldr,
                     (long long)ldy);
        }
        rf::GemmArgs a{m, x, ldx, w, bias, act, nullptr, 0, residual, ldr, y, ldy};
        return rf::run_gemm(a);
    });
}

}  // extern "C"
