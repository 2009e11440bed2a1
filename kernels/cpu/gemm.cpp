// rf_weight_pack / rf_weight_shape / rf_weight_free / rf_gemm: argument checks,
// weight packing (layout described in gemm.h) and ISA dispatch.
#include "gemm.h"
#include "gemm_checks.h"

#include <cmath>
#include <memory>

namespace rf {

rf_status run_gemm(const GemmArgs &a) { RF_DISPATCH(gemm, a); }

namespace {

void pack_weight(rf_weight_s &h, const void *w, const float *scales) {
    const int g = dtype_group(h.dtype);
    const size_t eb = dtype_bytes(h.dtype);
    const int64_t n = h.n, k = h.k, kp = h.kp;
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
        if (rf_status bad = rf::check_weight_pack(dtype, n, k, w, scales); bad != RF_OK) return bad;
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

RF_API rf_status rf_weight_set_act_groups(rf_weight w, int32_t num_groups, const int64_t *bounds) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_set_act_groups: weight handle is NULL");
        if (rf_status bad = rf::check_act_groups(w->dtype, w->k, num_groups, bounds); bad != RF_OK) return bad;
        if (num_groups == 1) {
            w->agroups.clear();
            w->gcolsum.clear();
            return RF_OK;
        }
        w->agroups.assign(bounds, bounds + num_groups + 1);
        const size_t stride = size_t(w->panels) * rf::kNR;
        w->gcolsum.assign(size_t(num_groups) * stride, 0);
        // Read W back from the packed panels: [panel][k/4][32][4] (gemm.h).
        const int8_t *q = static_cast<const int8_t *>(w->packed.p);
        const int64_t kq = w->kp / 4;
        for (int32_t g = 0; g < num_groups; ++g)
            for (int64_t j = 0; j < w->n; ++j) {
                const int64_t p = j / rf::kNR, c = j % rf::kNR;
                int32_t s = 0;
                for (int64_t l = bounds[g]; l < bounds[g + 1]; ++l) s += q[((p * kq + l / 4) * rf::kNR + c) * 4 + l % 4];
                w->gcolsum[size_t(g) * stride + size_t(j)] = s;
            }
        return RF_OK;
    });
}

RF_API rf_status rf_weight_set_act_bits(rf_weight w, int32_t bits) {
    RF_ENTRY({
        RF_CHECK(w != nullptr, "rf_weight_set_act_bits: weight handle is NULL");
        if (rf_status bad = rf::check_act_bits(w->dtype, bits); bad != RF_OK) return bad;
        w->act_bits = bits;
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
        bool empty = false;
        if (rf_status bad = rf::check_gemm(w, m, x, ldx, act, residual, ldr, y, ldy, &empty); bad != RF_OK || empty) return bad;
        rf::GemmArgs a{m, x, ldx, w, bias, act, nullptr, 0, residual, ldr, y, ldy};
        return rf::run_gemm(a);
    });
}

}  // extern "C"
