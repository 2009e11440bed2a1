// Sanitizer case for sequence parallelism's kernels: attention over kv split
// into unequal shards (one empty) with rf_seq_attention_lse / rf_hstu_attention
// queued on two pool streams (RF_CMD_SEQ_ATTENTION / RF_CMD_HSTU_ATTENTION),
// merged by rf_attention_merge on every ISA, equals the unsplit call; and bad
// merge arguments / a command without its args struct come back as statuses.
#include "sanitize.h"

#include <cstring>

using namespace sanitize;

SANITIZE_CASE(sequence_parallel) {
    int failed = 0;
    const int64_t heads = 2, d = 7, dv = 5, nq = 6, nk = 131, buckets = 9;
    const int64_t hd = heads * d, hv = heads * dv;
    Rng rng(91);
    auto q = rng.floats(size_t(nq * hd)), k = rng.floats(size_t(nk * hd)), v = rng.floats(size_t(nk * hv)), rab = rng.floats(size_t(heads * buckets));
    std::vector<int64_t> qp(static_cast<size_t>(nq)), kp(static_cast<size_t>(nk));
    for (int64_t i = 0; i < nq; ++i) qp[size_t(i)] = 500 + i;
    for (int64_t j = 0; j < nk; ++j) kp[size_t(j)] = 3 * j;
    const int64_t shard[4] = {0, 50, 50, nk};  // shards [0, 50), [50, 50) (empty), [50, nk)
    const int64_t parts = 3, qo[2] = {0, nq}, full_ko[2] = {0, nk};
    int64_t ko[3][2];
    for (int p = 0; p < parts; ++p) {
        ko[p][0] = 0;
        ko[p][1] = shard[p + 1] - shard[p];
    }
    rf_stream s[2] = {nullptr, nullptr};
    for (int i = 0; i < 2; ++i) failed += expect_status("create pool", rf_stream_create_pool(0, 1, nullptr, 0, &s[i]), RF_OK);
    for (int pointwise = 0; pointwise < 2; ++pointwise) {
        std::vector<float> want(size_t(nq * hv)), got(want.size()), part(size_t(parts * nq * hv)), lse(size_t(parts * nq * heads));
        rf_set_isa(RF_ISA_REF);
        failed += expect_status("unsplit", pointwise
            ? rf_hstu_attention(nullptr, 1, heads, d, dv, q.data(), hd, qo, k.data(), hd, v.data(), hv, full_ko, RF_SEQ_MASK_NONE, nullptr, 0.3f, rab.data(), buckets, qp.data(), kp.data(), nk, want.data(), hv)
            : rf_seq_attention(nullptr, 1, heads, d, dv, q.data(), hd, qo, k.data(), hd, v.data(), hv, full_ko, RF_SEQ_MASK_NONE, nullptr, 0.3f, rab.data(), buckets, qp.data(), kp.data(), want.data(), hv), RF_OK);
        for (int isa : supported_isas()) {
            rf_set_isa(isa);
            rf_attention_args_t args[3];
            for (int p = 0; p < parts; ++p) {
                rf_attention_args_t &a = args[p];
                std::memset(&a, 0, sizeof a);
                a.batch = 1; a.heads = heads; a.d = d; a.dv = dv;
                a.q = q.data(); a.ldq = hd; a.q_offsets = qo;
                a.k = k.data() + shard[p] * hd; a.ldk = hd; a.v = v.data() + shard[p] * hv; a.ldv = hv; a.kv_offsets = ko[p];
                a.mask = RF_SEQ_MASK_NONE; a.scale = 0.3f; a.rab_table = rab.data(); a.num_buckets = buckets;
                a.q_pos = qp.data(); a.kv_pos = kp.data() + shard[p]; a.norm_len = nk;
                a.out = part.data() + p * nq * hv; a.ldo = hv;
                a.lse = pointwise ? nullptr : lse.data() + p * nq * heads;
                rf_cmd_t c;
                std::memset(&c, 0, sizeof c);
                c.op = pointwise ? RF_CMD_HSTU_ATTENTION : RF_CMD_SEQ_ATTENTION;
                c.a = &a;
                failed += expect_status("enqueue attention", rf_stream_enqueue(s[p % 2], &c, 1), RF_OK);
            }
            for (int i = 0; i < 2; ++i) failed += expect_status("sync", rf_stream_sync(s[i]), RF_OK);
            failed += expect_status("merge", rf_attention_merge(nullptr, parts, nq, heads, dv, part.data(), hv, nq * hv, pointwise ? nullptr : lse.data(), nq * heads, got.data(), hv), RF_OK);
            failed += expect_close("sharded attention", got.data(), want.data(), got.size(), 1e-5f);
        }
    }
    float x[16] = {}, y[16];
    failed += expect_status("merge no parts", rf_attention_merge(nullptr, 0, 1, 1, 4, x, 4, 4, nullptr, 0, y, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("merge short ld", rf_attention_merge(nullptr, 2, 1, 2, 4, x, 4, 8, nullptr, 0, y, 8), RF_ERR_INVALID_ARG);
    failed += expect_status("merge short lse stride", rf_attention_merge(nullptr, 2, 2, 1, 4, x, 4, 8, x, 1, y, 4), RF_ERR_INVALID_ARG);
    rf_cmd_t c;
    std::memset(&c, 0, sizeof c);
    c.op = RF_CMD_SEQ_ATTENTION;
    failed += expect_status("attention command without args", rf_stream_enqueue(s[0], &c, 1), RF_ERR_INVALID_ARG);
    for (int i = 0; i < 2; ++i) rf_stream_destroy(s[i]);
    return failed;
}
