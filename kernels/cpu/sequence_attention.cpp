// rf_seq_attention / rf_seq_attention_lse / rf_hstu_attention / rf_attention_merge: argument checks (every offset, candidate
// count and mask before any row is read) and ISA dispatch.
#include "sequence_attention.h"

#include <cmath>

namespace {

// Offsets [batch + 1]: non-negative and non-decreasing. *rows = offsets[batch].
rf_status check_offsets(const char *who, const char *name, const int64_t *o, int64_t batch, int64_t *rows) {
    if (!o) return rf::fail(RF_ERR_INVALID_ARG, "%s: %s is NULL", who, name);
    if (o[0] < 0) return rf::fail(RF_ERR_INVALID_ARG, "%s: %s[0] = %lld is negative", who, name, (long long)o[0]);
    for (int64_t b = 0; b < batch; ++b)
        if (o[b + 1] < o[b])
            return rf::fail(RF_ERR_INVALID_ARG, "%s: %s decreases at %lld (%lld -> %lld)", who, name, (long long)(b + 1),
                            (long long)o[b], (long long)o[b + 1]);
    *rows = o[batch];
    return RF_OK;
}

rf_status run(const char *who, rf_stream s, rf::SeqAttnArgs &a) {
    RF_CHECK(a.batch >= 0 && a.heads >= 0 && a.d >= 0 && a.dv >= 0,
             "%s: negative size (batch %lld, heads %lld, d %lld, dv %lld)", who, (long long)a.batch, (long long)a.heads,
             (long long)a.d, (long long)a.dv);
    RF_CHECK(a.mask >= RF_SEQ_MASK_NONE && a.mask <= RF_SEQ_MASK_FALCON, "%s: unknown mask %d", who, a.mask);
    RF_CHECK(a.ldq >= a.heads * a.d && a.ldk >= a.heads * a.d && a.ldv >= a.heads * a.dv && a.ldo >= a.heads * a.dv,
             "%s: leading dimensions too small (ldq %lld, ldk %lld >= heads*d = %lld; ldv %lld, ldo %lld >= heads*dv = %lld)",
             who, (long long)a.ldq, (long long)a.ldk, (long long)(a.heads * a.d), (long long)a.ldv, (long long)a.ldo,
             (long long)(a.heads * a.dv));
    RF_CHECK(a.norm_len >= 0, "%s: norm_len %lld is negative", who, (long long)a.norm_len);
    RF_CHECK(std::isfinite(a.scale), "%s: scale is not finite", who);
    RF_CHECK((a.q_pos == nullptr) == (a.kv_pos == nullptr), "%s: give both q_pos and kv_pos or neither", who);
    if (a.rab) RF_CHECK(a.num_buckets >= 1, "%s: num_buckets %lld must be >= 1 with a bias table", who, (long long)a.num_buckets);
    if (a.batch == 0) return RF_OK;
    int64_t q_rows = 0, kv_rows = 0;
    if (rf_status bad = check_offsets(who, "q_offsets", a.q_offsets, a.batch, &q_rows); bad != RF_OK) return bad;
    if (rf_status bad = check_offsets(who, "kv_offsets", a.kv_offsets, a.batch, &kv_rows); bad != RF_OK) return bad;
    if (a.mask == RF_SEQ_MASK_FALCON) {
        RF_CHECK(a.num_candidates, "%s: the falcon mask needs num_candidates", who);
        for (int64_t b = 0; b < a.batch; ++b) {
            const int64_t nk = a.kv_offsets[b + 1] - a.kv_offsets[b], nc = a.num_candidates[b];
            if (nc < 0 || nc > nk)
                return rf::fail(RF_ERR_OUT_OF_RANGE, "%s: num_candidates[%lld] = %lld is outside [0, %lld] (the item's kv length)",
                                who, (long long)b, (long long)nc, (long long)nk);
        }
    }
    if (q_rows == 0 || a.heads == 0 || a.dv == 0) return RF_OK;
    RF_CHECK(a.out && a.q, "%s: q and out are required", who);
    if (kv_rows > 0) RF_CHECK(a.k && a.v, "%s: k and v are required", who);
    RF_DISPATCH(seq_attention, a);
}

}  // namespace

extern "C" {

RF_API rf_status rf_seq_attention(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv, const float *q,
                                  int64_t ldq, const int64_t *q_offsets, const float *k, int64_t ldk, const float *v,
                                  int64_t ldv, const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                  float scale, const float *rab_table, int64_t num_buckets, const int64_t *q_pos,
                                  const int64_t *kv_pos, float *out, int64_t ldo) {
    RF_ENTRY({
        rf::SeqAttnArgs a{batch, heads, d, dv, q, ldq, q_offsets, k, ldk, v, ldv, kv_offsets, mask,
                          num_candidates, scale, rab_table, num_buckets, q_pos, kv_pos, false, 0, out, ldo, nullptr};
        return run("rf_seq_attention", s, a);
    });
}

RF_API rf_status rf_hstu_attention(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv, const float *q,
                                   int64_t ldq, const int64_t *q_offsets, const float *k, int64_t ldk, const float *v,
                                   int64_t ldv, const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                   float scale, const float *rab_table, int64_t num_buckets, const int64_t *q_pos,
                                   const int64_t *kv_pos, int64_t norm_len, float *out, int64_t ldo) {
    RF_ENTRY({
        rf::SeqAttnArgs a{batch, heads, d, dv, q, ldq, q_offsets, k, ldk, v, ldv, kv_offsets, mask,
                          num_candidates, scale, rab_table, num_buckets, q_pos, kv_pos, true, norm_len, out, ldo, nullptr};
        return run("rf_hstu_attention", s, a);
    });
}

RF_API rf_status rf_seq_attention_lse(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv, const float *q,
                                      int64_t ldq, const int64_t *q_offsets, const float *k, int64_t ldk, const float *v,
                                      int64_t ldv, const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                      float scale, const float *rab_table, int64_t num_buckets, const int64_t *q_pos,
                                      const int64_t *kv_pos, float *out, int64_t ldo, float *lse) {
    RF_ENTRY({
        rf::SeqAttnArgs a{batch, heads, d, dv, q, ldq, q_offsets, k, ldk, v, ldv, kv_offsets, mask,
                          num_candidates, scale, rab_table, num_buckets, q_pos, kv_pos, false, 0, out, ldo, lse};
        return run("rf_seq_attention_lse", s, a);
    });
}

RF_API rf_status rf_attention_merge(rf_stream s, int64_t parts, int64_t rows, int64_t heads, int64_t dv, const float *x,
                                    int64_t ldx, int64_t part_stride, const float *lse, int64_t lse_stride, float *out,
                                    int64_t ldo) {
    RF_ENTRY({
        RF_CHECK(parts >= 1, "rf_attention_merge: parts = %lld must be >= 1", (long long)parts);
        RF_CHECK(rows >= 0 && heads >= 0 && dv >= 0, "rf_attention_merge: negative size (rows %lld, heads %lld, dv %lld)",
                 (long long)rows, (long long)heads, (long long)dv);
        RF_CHECK(ldx >= heads * dv && ldo >= heads * dv, "rf_attention_merge: ldx %lld and ldo %lld must be >= heads*dv = %lld",
                 (long long)ldx, (long long)ldo, (long long)(heads * dv));
        RF_CHECK(part_stride >= 0, "rf_attention_merge: part_stride %lld is negative", (long long)part_stride);
        if (lse) RF_CHECK(lse_stride >= rows * heads, "rf_attention_merge: lse_stride %lld must be >= rows*heads = %lld",
                          (long long)lse_stride, (long long)(rows * heads));
        if (rows == 0 || heads == 0 || dv == 0) return RF_OK;
        RF_CHECK(x && out, "rf_attention_merge: x and out are required");
        rf::AttnMergeArgs a{parts, rows, heads, dv, x, ldx, part_stride, lse, lse_stride, out, ldo};
        RF_DISPATCH(attention_merge, a);
    });
}

}  // extern "C"
