// rf_target_attention compiled per ISA: candidates split over the pool; per
// candidate, blocks of 8 unmasked sequence steps share each load of Wqkᵀ (a
// small [8 × d] · [d × h] GEMM with its 8 accumulators held in registers,
// 16 columns at a time), then activation, score and the weighted sum.
#include "../target_attention.h"
#include "../vector_math.h"
#include "vec16.h"

#include <cstring>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

constexpr int B = 8;

// hid[b][0..h) = qp + kp_b + Wqk · u_b for B steps (unused steps have u = 0 and are ignored).
inline void project(const float *u, const float *W, const float *qp, const float *const *kp, int64_t d, int64_t h, float *hid) {
    int64_t j0 = 0;
    for (; j0 + 16 <= h; j0 += 16) {
        v16 acc[B];
        const v16 base = load16(qp + j0);
        for (int b = 0; b < B; ++b) acc[b] = base + load16(kp[b] + j0);
        for (int64_t c = 0; c < d; ++c) {
            const v16 w = load16(W + c * h + j0);
            for (int b = 0; b < B; ++b) acc[b] += u[b * d + c] * w;
        }
        for (int b = 0; b < B; ++b) store16(hid + b * h + j0, acc[b]);
    }
    for (; j0 < h; ++j0) {
        for (int b = 0; b < B; ++b) {
            float acc = qp[j0] + kp[b][j0];
            for (int64_t c = 0; c < d; ++c) acc += u[b * d + c] * W[c * h + j0];
            hid[b * h + j0] = acc;
        }
    }
}

}  // namespace

rf_status target_attention(const AttentionArgs &a) {
    const int64_t d = a.d, h = a.h, T = a.T;
    // Wqkᵀ [d][h]: the inner loops then run over h, contiguous.
    std::vector<float> wt(size_t(d * h));
    for (int64_t j = 0; j < h; ++j)
        for (int64_t c = 0; c < d; ++c) wt[size_t(c * h + j)] = a.wqk[j * d + c];
    const float *W = wt.data();
    const int64_t per = chunk_size(a.n, int64_t(num_threads()) * 4, 4);
    const int64_t tasks = (a.n + per - 1) / per;
    parallel_for(tasks, [&](int64_t task, int) {
        std::vector<float> buf(size_t(B * (d + h)));
        float *u = buf.data();            // [B][d]
        float *hid = buf.data() + B * d;  // [B][h]
        int64_t steps[B];
        const float *kp[B];
        const int64_t end = (task + 1) * per < a.n ? (task + 1) * per : a.n;
        for (int64_t i = task * per; i < end; ++i) {
            const int64_t r = a.req[i];
            const float *qi = a.q + i * a.ldq;
            const float *qpi = a.qp + i * a.ldqp;
            const float *mask = a.mask + r * a.ldm;
            const float *keys = a.keys + r * a.ldk;
            float *o = a.out + i * a.ldo;
            for (int64_t c = 0; c < d; ++c) o[c] = 0.f;
            for (int64_t t0 = 0; t0 < T;) {
                int nb = 0;
                for (; t0 < T && nb < B; ++t0)
                    if (mask[t0] != 0.f) steps[nb++] = t0;
                if (nb == 0) break;
                for (int b = 0; b < B; ++b) {
                    float *ub = u + b * d;
                    if (b < nb) {
                        const float *k = keys + steps[b] * d;
                        for (int64_t c = 0; c < d; ++c) ub[c] = qi[c] * k[c];
                        kp[b] = a.kp + (r * T + steps[b]) * h;
                    } else {
                        for (int64_t c = 0; c < d; ++c) ub[c] = 0.f;
                        kp[b] = kp[0];
                    }
                }
                project(u, W, qpi, kp, d, h, hid);
                for (int b = 0; b < nb; ++b) {
                    float *hb = hid + b * h;
                    apply_act_row(a.act, hb, hb, h);
                    float score = 0.f;
                    for (int64_t j = 0; j < h; ++j) score += a.w2[j] * hb[j];
                    const float at = mask[steps[b]] * (score + a.b2);
                    const float *k = keys + steps[b] * d;
                    for (int64_t c = 0; c < d; ++c) o[c] += at * k[c];
                }
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
