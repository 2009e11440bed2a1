// Private contract of rf_seq_attention / rf_hstu_attention: the validated
// arguments, the mask and bucket rules of rankfn.h's sequence section (shared by
// the reference and the tiled paths), and the per-ISA declarations.
#pragma once
#include "backend.h"

namespace rf {

struct SeqAttnArgs {
    int64_t batch, heads, d, dv;
    const float *q;
    int64_t ldq;
    const int64_t *q_offsets;
    const float *k;
    int64_t ldk;
    const float *v;
    int64_t ldv;
    const int64_t *kv_offsets;
    int mask;
    const int64_t *num_candidates;
    float scale;
    const float *rab;  // [heads][num_buckets] or NULL
    int64_t num_buckets;
    const int64_t *q_pos, *kv_pos;  // both or neither
    bool pointwise;    // HSTU: SiLU(s) / n instead of softmax
    int64_t norm_len;  // HSTU: n = norm_len > 0 ? norm_len : nk
    float *out;
    int64_t ldo;
    float *lse;        // softmax: per (row, head) log-sum-exp [q_rows][heads], or NULL
};

// rf_attention_merge's validated arguments (rankfn.h).
struct AttnMergeArgs {
    int64_t parts, rows, heads, dv;
    const float *x;
    int64_t ldx, part_stride;
    const float *lse;  // NULL: a plain sum (HSTU)
    int64_t lse_stride;
    float *out;
    int64_t ldo;
};

// The kv indices query position p sees: [lo, hi) plus `self` (-1: none).
struct SeqVisible {
    int64_t lo, hi, self;
};

static inline SeqVisible seq_visible(int mask, int64_t p, int64_t nk, int64_t nh) {
    if (p < 0 && mask != RF_SEQ_MASK_NONE) return {0, 0, -1};
    if (mask == RF_SEQ_MASK_CAUSAL) return {0, p + 1, -1};
    if (mask == RF_SEQ_MASK_FALCON) return p < nh ? SeqVisible{0, p + 1, -1} : SeqVisible{0, nh, p};
    return {0, nk, -1};
}

// History length of item b (the kv tokens before its candidates).
static inline int64_t seq_history(const SeqAttnArgs &a, int64_t b, int64_t nk) {
    return a.mask == RF_SEQ_MASK_FALCON ? nk - a.num_candidates[b] : nk;
}

// Log bucket of a relative position: the bit width of |qp - kp|, clamped.
static inline int64_t seq_bucket(int64_t qp, int64_t kp, int64_t num_buckets) {
    const uint64_t delta = qp > kp ? uint64_t(qp) - uint64_t(kp) : uint64_t(kp) - uint64_t(qp);
    const int64_t b = delta == 0 ? 0 : 64 - __builtin_clzll(delta);
    return b < num_buckets - 1 ? b : num_buckets - 1;
}

RF_DECLARE_ALL_ISAS(rf_status seq_attention(const SeqAttnArgs &a);
                    rf_status attention_merge(const AttnMergeArgs &a);)

}  // namespace rf
