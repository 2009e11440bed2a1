// Scalar reference of rf_seq_attention(_lse) / rf_hstu_attention (and rf_attention_merge), straight from the
// header's pseudocode: per (item, head, query) all scores, then softmax (two
// passes) or the pointwise SiLU / n, then the weighted sum of V.
#include "sequence_attention.h"

#include <cmath>
#include <vector>

namespace rf::ref {

rf_status seq_attention(const SeqAttnArgs &a) {
    std::vector<float> s;
    std::vector<int64_t> js;
    for (int64_t b = 0; b < a.batch; ++b) {
        const int64_t q0 = a.q_offsets[b], nq = a.q_offsets[b + 1] - q0;
        const int64_t k0 = a.kv_offsets[b], nk = a.kv_offsets[b + 1] - k0;
        const int64_t nh = seq_history(a, b, nk);
        for (int64_t h = 0; h < a.heads; ++h) {
            for (int64_t i = 0; i < nq; ++i) {
                const int64_t p = i + nk - nq;
                const SeqVisible vis = seq_visible(a.mask, p, nk, nh);
                const float *qr = a.q + (q0 + i) * a.ldq + h * a.d;
                float *o = a.out + (q0 + i) * a.ldo + h * a.dv;
                for (int64_t c = 0; c < a.dv; ++c) o[c] = 0.f;
                s.clear();
                js.clear();
                for (int64_t j = 0; j < nk; ++j) {
                    if (!((j >= vis.lo && j < vis.hi) || j == vis.self)) continue;
                    const float *kr = a.k + (k0 + j) * a.ldk + h * a.d;
                    float acc = 0.f;
                    for (int64_t c = 0; c < a.d; ++c) acc += qr[c] * kr[c];
                    acc *= a.scale;
                    if (a.rab) {
                        const int64_t qp = a.q_pos ? a.q_pos[q0 + i] : p, kp = a.kv_pos ? a.kv_pos[k0 + j] : j;
                        acc += a.rab[h * a.num_buckets + seq_bucket(qp, kp, a.num_buckets)];
                    }
                    s.push_back(acc);
                    js.push_back(j);
                }
                float *lse = a.lse ? a.lse + (q0 + i) * a.heads + h : nullptr;
                if (lse) *lse = -INFINITY;
                if (s.empty()) continue;
                if (a.pointwise) {
                    const float n = float(a.norm_len > 0 ? a.norm_len : nk);
                    for (float &x : s) x = x / (1.f + std::exp(-x)) / n;
                } else {
                    float mx = s[0];
                    for (float x : s) mx = x > mx ? x : mx;
                    float sum = 0.f;
                    for (float &x : s) sum += (x = std::exp(x - mx));
                    for (float &x : s) x /= sum;
                    if (lse) *lse = mx + std::log(sum);
                }
                for (size_t t = 0; t < s.size(); ++t) {
                    const float *vr = a.v + (k0 + js[t]) * a.ldv + h * a.dv;
                    for (int64_t c = 0; c < a.dv; ++c) o[c] += s[t] * vr[c];
                }
            }
        }
    }
    return RF_OK;
}

rf_status attention_merge(const AttnMergeArgs &a) {
    std::vector<float> acc(size_t(a.dv));
    for (int64_t t = 0; t < a.rows; ++t) {
        for (int64_t h = 0; h < a.heads; ++h) {
            float m = -INFINITY;
            if (a.lse)
                for (int64_t p = 0; p < a.parts; ++p) {
                    const float l = a.lse[p * a.lse_stride + t * a.heads + h];
                    m = l > m ? l : m;
                }
            float wsum = 0.f;
            for (float &x : acc) x = 0.f;
            if (!a.lse || m != -INFINITY) {
                for (int64_t p = 0; p < a.parts; ++p) {
                    const float w = a.lse ? std::exp(a.lse[p * a.lse_stride + t * a.heads + h] - m) : 1.f;
                    wsum += w;
                    const float *x = a.x + p * a.part_stride + t * a.ldx + h * a.dv;
                    for (int64_t c = 0; c < a.dv; ++c) acc[size_t(c)] += w * x[c];
                }
            }
            float *o = a.out + t * a.ldo + h * a.dv;
            for (int64_t c = 0; c < a.dv; ++c) o[c] = a.lse ? (m == -INFINITY ? 0.f : acc[size_t(c)] / wsum) : acc[size_t(c)];
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
