// rf_target_attention: argument checks (every request index before any row is
// read) and ISA dispatch.
#include "target_attention.h"

extern "C" RF_API rf_status rf_target_attention(rf_stream s, int64_t n, int64_t T, int64_t d, int64_t h, const float *q,
                                                int64_t ldq, const float *keys, int64_t ldk, const float *mask,
                                                int64_t ldm, const int32_t *request_of_row, int64_t requests,
                                                const float *qp, int64_t ldqp, const float *kp, const float *wqk,
                                                const float *w2, float b2, int32_t act, float *out, int64_t ldo) {
    RF_ENTRY({
        RF_CHECK(n >= 0 && T >= 0 && d >= 0 && h >= 0 && requests >= 0,
                 "rf_target_attention: negative size (n %lld, T %lld, d %lld, h %lld, requests %lld)", (long long)n,
                 (long long)T, (long long)d, (long long)h, (long long)requests);
        RF_CHECK(rf::valid_act(act), "rf_target_attention: unknown activation %d", act);
        RF_CHECK(ldq >= d && ldk >= T * d && ldm >= T && ldqp >= h && ldo >= d,
                 "rf_target_attention: leading dimensions too small (ldq %lld >= d, ldk %lld >= T*d, ldm %lld >= T, "
                 "ldqp %lld >= h, ldo %lld >= d)",
                 (long long)ldq, (long long)ldk, (long long)ldm, (long long)ldqp, (long long)ldo);
        if (n == 0 || d == 0) return RF_OK;
        RF_CHECK(out && request_of_row, "rf_target_attention: out and request_of_row are required");
        for (int64_t i = 0; i < n; ++i)
            if (request_of_row[i] < 0 || request_of_row[i] >= requests)
                return rf::fail(RF_ERR_OUT_OF_RANGE, "rf_target_attention: request_of_row[%lld] = %d is outside [0, %lld)",
                                (long long)i, request_of_row[i], (long long)requests);
        if (T > 0 && h > 0) RF_CHECK(q && keys && mask && qp && kp && wqk && w2, "rf_target_attention: NULL pointer");
        if (T > 0 && h == 0) RF_CHECK(keys && mask, "rf_target_attention: NULL pointer");
        rf::AttentionArgs a{n, T, d, h, q, ldq, keys, ldk, mask, ldm, request_of_row, qp, ldqp, kp, wqk, w2, b2, act, out, ldo};
        RF_DISPATCH(target_attention, a);
    });
}
