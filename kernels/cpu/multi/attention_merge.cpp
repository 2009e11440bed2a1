// rf_attention_merge compiled per ISA: rows split over the pool; per (row,
// head) the shards' weights w_p = exp(lse_p - max) (softmax) or 1 (HSTU's
// plain sum), then one pass over each part's dv values (the compiler
// vectorises the axpy). Every part is read before out is written, so out may
// be part 0 itself.
#include "../sequence_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rf::RF_ISA_NS {

rf_status attention_merge(const AttnMergeArgs &a) {
    const int64_t width = std::max<int64_t>(a.heads * a.dv * a.parts, 1);
    const int64_t per = chunk_size(a.rows, int64_t(num_threads()) * 4, std::max<int64_t>(1, 8192 / width));
    parallel_for((a.rows + per - 1) / per, [&](int64_t task, int) {
        std::vector<float> acc(size_t(a.dv)), w(size_t(a.parts));
        const int64_t end = std::min(a.rows, (task + 1) * per);
        for (int64_t t = task * per; t < end; ++t) {
            for (int64_t h = 0; h < a.heads; ++h) {
                float m = -INFINITY, wsum = 0.f;
                if (a.lse) {
                    for (int64_t p = 0; p < a.parts; ++p) m = std::max(m, a.lse[p * a.lse_stride + t * a.heads + h]);
                    for (int64_t p = 0; p < a.parts; ++p) {
                        const float l = a.lse[p * a.lse_stride + t * a.heads + h];
                        w[size_t(p)] = m == -INFINITY || l == -INFINITY ? 0.f : std::exp(l - m);
                        wsum += w[size_t(p)];
                    }
                } else {
                    std::fill(w.begin(), w.end(), 1.f);
                }
                std::fill(acc.begin(), acc.end(), 0.f);
                float *ac = acc.data();
                for (int64_t p = 0; p < a.parts; ++p) {
                    const float wp = w[size_t(p)];
                    if (wp == 0.f) continue;
                    const float *x = a.x + p * a.part_stride + t * a.ldx + h * a.dv;
                    for (int64_t c = 0; c < a.dv; ++c) ac[c] += wp * x[c];
                }
                const float inv = a.lse ? (wsum > 0.f ? 1.f / wsum : 0.f) : 1.f;
                float *o = a.out + t * a.ldo + h * a.dv;
                for (int64_t c = 0; c < a.dv; ++c) o[c] = ac[c] * inv;
            }
        }
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
