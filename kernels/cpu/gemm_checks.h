// Argument checks of rf_weight_pack, rf_gemm and rf_cross_layer, shared by every
// backend (CPU: gemm.cpp, cross.cpp; OpenCL: kernels/opencl/gemm.cpp) so their
// statuses and messages are the same. W is the backend's rf_weight_s (n, k).
#pragma once

#include <cmath>

#include "backend.h"

namespace rf {

// rf_weight_pack after its device check: dtype, shape, weights and (int8 only) finite scales.
inline rf_status check_weight_pack(int32_t dtype, int64_t n, int64_t k, const void *w, const float *scales) {
    if (dtype == RF_F16 || dtype == RF_U8Q || dtype == RF_I32 || dtype == RF_I64)
        return fail(RF_ERR_UNSUPPORTED, "rf_weight_pack: dtype %d is not a GEMM weight dtype (use RF_F32, RF_BF16 or RF_I8)", dtype);
    RF_CHECK(dtype == RF_F32 || dtype == RF_BF16 || dtype == RF_I8, "rf_weight_pack: unknown dtype %d (use RF_F32=0, RF_BF16=2 or RF_I8=3)",
             dtype);
    RF_CHECK(n >= 0 && k >= 0, "rf_weight_pack: negative shape [n=%lld, k=%lld]", (long long)n, (long long)k);
    RF_CHECK(n <= (int64_t(1) << 31) && k <= (int64_t(1) << 31) && n * k <= (int64_t(1) << 38),
             "rf_weight_pack: shape [n=%lld, k=%lld] is too large", (long long)n, (long long)k);
    RF_CHECK(w != nullptr || n * k == 0, "rf_weight_pack: w is NULL for a [%lld][%lld] weight", (long long)n, (long long)k);
    if (dtype == RF_I8) {
        RF_CHECK(scales != nullptr || n == 0, "rf_weight_pack: int8 weights need scales[n] (per-output-channel fp32 scales), got NULL");
        for (int64_t j = 0; j < n; ++j)
            RF_CHECK(std::isfinite(scales[j]), "rf_weight_pack: scales[%lld] = %g is not finite", (long long)j, double(scales[j]));
    } else {
        RF_CHECK(scales == nullptr, "rf_weight_pack: scales must be NULL unless dtype is RF_I8 (got dtype %d)", dtype);
    }
    return RF_OK;
}

// rf_weight_set_act_groups after its handle check: int8 only, bounds as rankfn.h states.
inline rf_status check_act_groups(int32_t dtype, int64_t k, int32_t num_groups, const int64_t *bounds) {
    RF_CHECK(dtype == RF_I8, "rf_weight_set_act_groups: activation groups are for RF_I8 weights, got dtype %d", dtype);
    RF_CHECK(num_groups >= 1 && num_groups <= 4096, "rf_weight_set_act_groups: num_groups = %d must be in 1..4096", num_groups);
    RF_CHECK(bounds != nullptr, "rf_weight_set_act_groups: bounds is NULL");
    RF_CHECK(bounds[0] == 0 && bounds[num_groups] == k, "rf_weight_set_act_groups: bounds must run from 0 to k = %lld, got %lld .. %lld",
             (long long)k, (long long)bounds[0], (long long)bounds[num_groups]);
    for (int32_t g = 1; g <= num_groups; ++g) {
        RF_CHECK(bounds[g] > bounds[g - 1], "rf_weight_set_act_groups: bounds[%d] = %lld is not above bounds[%d] = %lld", g, (long long)bounds[g],
                 g - 1, (long long)bounds[g - 1]);
        RF_CHECK(g == num_groups || bounds[g] % 4 == 0, "rf_weight_set_act_groups: inner bound bounds[%d] = %lld is not a multiple of 4", g,
                 (long long)bounds[g]);
    }
    return RF_OK;
}

// rf_weight_set_act_bits after its handle check: int8 only, 8 or 16 bits.
inline rf_status check_act_bits(int32_t dtype, int32_t bits) {
    RF_CHECK(dtype == RF_I8, "rf_weight_set_act_bits: activation bits are for RF_I8 weights, got dtype %d", dtype);
    RF_CHECK(bits == 8 || bits == 16, "rf_weight_set_act_bits: bits = %d must be 8 or 16", bits);
    return RF_OK;
}

// rf_gemm; *empty is set when there is nothing to compute (m == 0 or n == 0).
template <class W>
inline rf_status check_gemm(const W *w, int64_t m, const float *x, int64_t ldx, int32_t act, const float *residual, int64_t ldr,
                            const float *y, int64_t ldy, bool *empty) {
    RF_CHECK(w != nullptr, "rf_gemm: weight handle is NULL (pack it with rf_weight_pack)");
    RF_CHECK(valid_act(act), "rf_gemm: unknown activation %d", act);
    RF_CHECK(m >= 0, "rf_gemm: negative m = %lld", (long long)m);
    const int64_t n = w->n, k = w->k;
    *empty = m == 0 || n == 0;
    if (*empty) return RF_OK;
    RF_CHECK(y != nullptr, "rf_gemm: y is NULL");
    RF_CHECK(x != nullptr || k == 0, "rf_gemm: x is NULL");
    RF_CHECK(ldx >= k, "rf_gemm: ldx = %lld must be >= k = %lld", (long long)ldx, (long long)k);
    RF_CHECK(ldy >= n, "rf_gemm: ldy = %lld must be >= n = %lld", (long long)ldy, (long long)n);
    if (residual) {
        RF_CHECK(ldr >= n, "rf_gemm: ldr = %lld must be >= n = %lld", (long long)ldr, (long long)n);
        RF_CHECK(residual != y || ldr == ldy, "rf_gemm: residual aliases y, so ldr (%lld) must equal ldy (%lld)", (long long)ldr,
                 (long long)ldy);
    }
    return RF_OK;
}

// rf_cross_layer: full rank (u == NULL, w [d][d]) or low rank (w = V [r][d], u = U [d][r]);
// sets *d and *r (0 for full rank), and *empty when m == 0 or d == 0.
template <class W>
inline rf_status check_cross(const W *w, const W *u, int64_t m, const float *x0, int64_t ldx0, const float *x, int64_t ldx,
                             const float *y, int64_t ldy, int64_t *d, int64_t *r, bool *empty) {
    RF_CHECK(w != nullptr, "rf_cross_layer: weight w is NULL");
    RF_CHECK(m >= 0, "rf_cross_layer: negative m = %lld", (long long)m);
    *r = 0;
    if (u == nullptr) {
        *d = w->n;
        RF_CHECK(w->k == *d, "rf_cross_layer: full rank w must be square [d][d], got [%lld][%lld]", (long long)w->n, (long long)w->k);
    } else {
        *d = w->k;
        *r = w->n;
        RF_CHECK(u->n == *d && u->k == *r,
                 "rf_cross_layer: low rank needs w = V [r][d] and u = U [d][r]; got V [%lld][%lld], so U must be "
                 "[%lld][%lld], got [%lld][%lld]",
                 (long long)w->n, (long long)w->k, (long long)*d, (long long)*r, (long long)u->n, (long long)u->k);
    }
    *empty = m == 0 || *d == 0;
    if (*empty) return RF_OK;
    RF_CHECK(x0 && x && y, "rf_cross_layer: NULL pointer (x0, x and y are required)");
    RF_CHECK(ldx0 >= *d && ldx >= *d && ldy >= *d, "rf_cross_layer: leading dimensions (ldx0 %lld, ldx %lld, ldy %lld) must be >= d = %lld",
             (long long)ldx0, (long long)ldx, (long long)ldy, (long long)*d);
    RF_CHECK(y != x || ldy == ldx, "rf_cross_layer: y aliases x, so ldy (%lld) must equal ldx (%lld)", (long long)ldy, (long long)ldx);
    return RF_OK;
}

}  // namespace rf
