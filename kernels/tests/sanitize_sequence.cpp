// Sanitizer cases for the sequence section: jagged softmax / HSTU attention on
// every ISA against the reference (every mask, an empty item, length 1, odd head
// widths, log-bucketed bias, more kv tiles than one), the norm gate, token
// mixing, grouped GEMM, and bad arguments that must come back as statuses.
#include "sanitize.h"

using namespace sanitize;

SANITIZE_CASE(sequence_attention) {
    int failed = 0;
    const int64_t heads = 2, d = 5, dv = 3, batch = 4;
    const int64_t qo[] = {0, 3, 3, 4, 74}, ko[] = {0, 5, 7, 8, 78}, nc[] = {3, 2, 1, 9};
    const int64_t q_rows = qo[batch], kv_rows = ko[batch];
    Rng rng(77);
    auto q = rng.floats(size_t(q_rows * heads * d)), k = rng.floats(size_t(kv_rows * heads * d));
    auto v = rng.floats(size_t(kv_rows * heads * dv)), rab = rng.floats(size_t(heads * 5));
    for (int pointwise = 0; pointwise < 2; ++pointwise)
        for (int mask = RF_SEQ_MASK_NONE; mask <= RF_SEQ_MASK_FALCON; ++mask)
            for (int with_rab = 0; with_rab < 2; ++with_rab) {
                auto run = [&](std::vector<float> &out) {
                    const float *table = with_rab ? rab.data() : nullptr;
                    return pointwise ? rf_hstu_attention(nullptr, batch, heads, d, dv, q.data(), heads * d, qo, k.data(), heads * d, v.data(),
                                                         heads * dv, ko, mask, nc, 0.4f, table, 5, nullptr, nullptr, 0, out.data(), heads * dv)
                                     : rf_seq_attention(nullptr, batch, heads, d, dv, q.data(), heads * d, qo, k.data(), heads * d, v.data(),
                                                        heads * dv, ko, mask, nc, 0.4f, table, 5, nullptr, nullptr, out.data(), heads * dv);
                };
                std::vector<float> want(size_t(q_rows * heads * dv)), got(want.size());
                rf_set_isa(RF_ISA_REF);
                failed += expect_status("seq attention ref", run(want), RF_OK);
                for (int isa : supported_isas()) {
                    rf_set_isa(isa);
                    failed += expect_status("seq attention", run(got), RF_OK);
                    failed += expect_close("seq attention", got.data(), want.data(), got.size(), 1e-5f);
                }
            }
    float x[64] = {}, y[64];
    const int64_t bad[] = {0, 4, 2}, ok[] = {0, 2, 4}, many[] = {1, 3};
    failed += expect_status("seq bad offsets", rf_seq_attention(nullptr, 2, 1, 4, 4, x, 4, bad, x, 4, x, 4, ok, 0, nullptr, 1.f, nullptr, 0, nullptr, nullptr, y, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("seq bad candidates", rf_seq_attention(nullptr, 2, 1, 4, 4, x, 4, ok, x, 4, x, 4, ok, 2, many, 1.f, nullptr, 0, nullptr, nullptr, y, 4), RF_ERR_OUT_OF_RANGE);
    failed += expect_status("seq falcon without counts", rf_seq_attention(nullptr, 2, 1, 4, 4, x, 4, ok, x, 4, x, 4, ok, 2, nullptr, 1.f, nullptr, 0, nullptr, nullptr, y, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("hstu bad ld", rf_hstu_attention(nullptr, 2, 2, 4, 4, x, 4, ok, x, 8, x, 8, ok, 0, nullptr, 1.f, nullptr, 0, nullptr, nullptr, 0, y, 8), RF_ERR_INVALID_ARG);
    failed += expect_status("hstu no buckets", rf_hstu_attention(nullptr, 2, 1, 4, 4, x, 4, ok, x, 4, x, 4, ok, 0, nullptr, 1.f, x, 0, nullptr, nullptr, 0, y, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("seq null q", rf_seq_attention(nullptr, 2, 1, 4, 4, nullptr, 4, ok, x, 4, x, 4, ok, 0, nullptr, 1.f, nullptr, 0, nullptr, nullptr, y, 4), RF_ERR_INVALID_ARG);
    return failed;
}

// The tiled path's bias sources and task kinds: explicit per-token positions (8-lane buckets,
// 44 buckets, deltas past 2^40), one shared query position (per-column bias), default positions
// (the bias row), many items of at most 8 kv rows (the direct path) beside one of 150 (3 kv tiles).
SANITIZE_CASE(sequence_attention_tiles) {
    int failed = 0;
    const int64_t heads = 2, d = 9, dv = 17, buckets = 44, batch = 41;
    std::vector<int64_t> qo{0}, ko{0};
    for (int64_t b = 0; b < batch; ++b) {
        const int64_t n = b == batch - 1 ? 150 : b % 9;
        qo.push_back(qo.back() + n);
        ko.push_back(ko.back() + n);
    }
    const int64_t q_rows = qo.back(), kv_rows = ko.back();
    Rng rng(79);
    auto q = rng.floats(size_t(q_rows * heads * d)), k = rng.floats(size_t(kv_rows * heads * d));
    auto v = rng.floats(size_t(kv_rows * heads * dv)), rab = rng.floats(size_t(heads * buckets));
    std::vector<int64_t> qp(static_cast<size_t>(q_rows)), kp(static_cast<size_t>(kv_rows)), shared(static_cast<size_t>(q_rows));
    for (int64_t t = 0; t < q_rows; ++t) qp[size_t(t)] = (int64_t(1) << 41) + int64_t(rng.next() % 3);
    for (int64_t t = 0; t < kv_rows; ++t) kp[size_t(t)] = (int64_t(1) << 41) - (int64_t(1) << (rng.next() % 42)) + int64_t(rng.next() % 3) - 1;
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = qo[size_t(b)]; t < qo[size_t(b + 1)]; ++t) shared[size_t(t)] = int64_t(1000 + b);
    for (int pointwise = 0; pointwise < 2; ++pointwise)
        for (int mask = RF_SEQ_MASK_NONE; mask <= RF_SEQ_MASK_CAUSAL; ++mask)
            for (int pos = 0; pos < 3; ++pos) {
                const int64_t *qpos = pos == 0 ? nullptr : pos == 1 ? qp.data() : shared.data();
                const int64_t *kpos = pos == 0 ? nullptr : kp.data();
                auto run = [&](std::vector<float> &out) {
                    return pointwise ? rf_hstu_attention(nullptr, batch, heads, d, dv, q.data(), heads * d, qo.data(), k.data(), heads * d, v.data(),
                                                         heads * dv, ko.data(), mask, nullptr, 0.3f, rab.data(), buckets, qpos, kpos, 150, out.data(), heads * dv)
                                     : rf_seq_attention(nullptr, batch, heads, d, dv, q.data(), heads * d, qo.data(), k.data(), heads * d, v.data(),
                                                        heads * dv, ko.data(), mask, nullptr, 0.3f, rab.data(), buckets, qpos, kpos, out.data(), heads * dv);
                };
                std::vector<float> want(size_t(q_rows * heads * dv)), got(want.size());
                rf_set_isa(RF_ISA_REF);
                failed += expect_status("seq tiles ref", run(want), RF_OK);
                for (int isa : supported_isas()) {
                    rf_set_isa(isa);
                    failed += expect_status("seq tiles", run(got), RF_OK);
                    failed += expect_close("seq tiles", got.data(), want.data(), got.size(), 1e-5f);
                }
            }
    return failed;
}

SANITIZE_CASE(sequence_rows) {
    int failed = 0;
    Rng rng(78);
    const int64_t m = 5, n = 19, T = 3, D = 8, H = 4;
    auto x = rng.floats(size_t(m * n)), u = rng.floats(size_t(m * n)), g = rng.floats(size_t(n));
    auto tx = rng.floats(size_t(m * T * D));
    std::vector<float> want(size_t(m * n)), got(want.size()), twant(tx.size()), tgot(tx.size());
    rf_set_isa(RF_ISA_REF);
    failed += expect_status("norm gate ref", rf_norm_gate(nullptr, m, n, x.data(), n, u.data(), n, g.data(), nullptr, 1e-5f, want.data(), n), RF_OK);
    failed += expect_status("token mix ref", rf_token_mix(nullptr, m, T, D, H, tx.data(), T * D, twant.data(), T * D), RF_OK);
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        failed += expect_status("norm gate", rf_norm_gate(nullptr, m, n, x.data(), n, u.data(), n, g.data(), nullptr, 1e-5f, got.data(), n), RF_OK);
        failed += expect_close("norm gate", got.data(), want.data(), got.size(), 1e-5f);
        failed += expect_status("token mix", rf_token_mix(nullptr, m, T, D, H, tx.data(), T * D, tgot.data(), T * D), RF_OK);
        failed += expect_close("token mix", tgot.data(), twant.data(), tgot.size(), 0.f);
    }
    // Grouped GEMM: 3 groups of [4 x 6] weights over token-interleaved rows.
    const int64_t G = 3, gn = 4, gk = 6, gm = 7;
    rf_weight w[3] = {};
    std::vector<std::vector<float>> raw;
    for (auto &h : w) {
        raw.push_back(rng.floats(size_t(gn * gk)));
        failed += expect_status("pack", rf_weight_pack(0, RF_F32, gn, gk, raw.back().data(), nullptr, &h), RF_OK);
    }
    auto gx = rng.floats(size_t(gm * G * gk)), bias = rng.floats(size_t(G * gn));
    std::vector<float> gy(size_t(gm * G * gn)), gwant(gy.size());
    for (int64_t gi = 0; gi < G; ++gi)
        for (int64_t i = 0; i < gm; ++i)
            for (int64_t j = 0; j < gn; ++j) {
                float acc = bias[size_t(gi * gn + j)];
                for (int64_t l = 0; l < gk; ++l) acc += gx[size_t(i * G * gk + gi * gk + l)] * raw[size_t(gi)][size_t(j * gk + l)];
                gwant[size_t(i * G * gn + gi * gn + j)] = acc > 0.f ? acc : 0.f;
            }
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        failed += expect_status("grouped gemm", rf_grouped_gemm(nullptr, G, gm, gx.data(), G * gk, gk, w, bias.data(), gn, RF_ACT_RELU, gy.data(), G * gn, gn), RF_OK);
        failed += expect_close("grouped gemm", gy.data(), gwant.data(), gy.size(), 1e-5f);
    }
    rf_weight mixed[2] = {w[0], nullptr};
    failed += expect_status("grouped null weight", rf_grouped_gemm(nullptr, 2, gm, gx.data(), G * gk, gk, mixed, nullptr, 0, 0, gy.data(), G * gn, gn), RF_ERR_INVALID_ARG);
    failed += expect_status("grouped bad act", rf_grouped_gemm(nullptr, G, gm, gx.data(), G * gk, gk, w, nullptr, 0, 99, gy.data(), G * gn, gn), RF_ERR_INVALID_ARG);
    for (auto h : w) rf_weight_free(h);
    failed += expect_status("norm gate bad ld", rf_norm_gate(nullptr, m, n, x.data(), n - 1, u.data(), n, nullptr, nullptr, 1e-5f, got.data(), n), RF_ERR_INVALID_ARG);
    failed += expect_status("token mix bad heads", rf_token_mix(nullptr, m, T, D, 3, tx.data(), T * D, tgot.data(), T * D), RF_ERR_INVALID_ARG);
    return failed;
}
