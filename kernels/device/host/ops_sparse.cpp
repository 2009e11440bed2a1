// Embedding bags (GPUs: a work-group per bag, vector loads when dim % 4 == 0;
// CPU devices: a work-item per run of bags; one launch per table, all tables
// enqueued before one wait), MoE gather / scatter-add, DIN target attention.
#include "launch.h"
#include "ops.h"

#include <algorithm>

namespace rf::RF_DISPATCH_NS {

rf_status embedding_bags(rf_stream s, const BagJob *jobs, int num_jobs, int64_t num_bags) {
    Launch l(num_jobs == 1 ? "rf_embedding_bag" : "rf_embedding_bags", s);
    struct Bound { int table, ids, offsets, weights, out; };
    std::vector<Bound> b(static_cast<size_t>(num_jobs));
    for (int t = 0; t < num_jobs; ++t) {
        const BagJob &j = jobs[t];
        const size_t id_bytes = j.id_dtype == RF_I32 ? 4 : 8;
        b[size_t(t)] = {l.arg(j.table, size_t(j.rows) * size_t(bag_row_bytes(j.table_dtype, j.dim))),
                        l.arg(j.ids, size_t(j.num_ids) * id_bytes), l.arg(j.offsets, size_t(num_bags + 1) * 8),
                        l.arg(j.weights, size_t(j.num_ids) * 4), l.arg(j.out, span_bytes(num_bags, j.dim, j.ldo, 4))};
    }
    if (l.bind() != RF_OK) return l.status();
    const size_t max_wg = l.device().max_work_group;
    const bool cpu = l.platform().cpu_kernels;
    // CPU devices: a work-item per run of bags (~8 per compute unit), columns innermost.
    const int64_t per_item = std::max<int64_t>(1, num_bags / (8 * std::max(1, l.device().compute_units)));
    for (int t = 0; t < num_jobs; ++t) {
        const BagJob &j = jobs[t];
        if (j.dim == 0) continue;
        const Bound &x = b[size_t(t)];
        if (cpu) {
            l.run("embedding_bag_rows", {a_buf(x.table), a_i32(j.table_dtype), a_i64(j.dim), a_buf(x.ids), a_i32(j.id_dtype),
                                         a_buf(x.offsets), a_buf(x.weights), a_i32(j.mode), a_buf(x.out), a_i64(j.ldo),
                                         a_i64(num_bags), a_i32(int32_t(per_item))},
                  size_t((num_bags + per_item - 1) / per_item), 1);
            continue;
        }
        // GPUs: a work-group per bag; dim % 4 == 0: four columns per work-item with vector
        // loads. A work-item per (vector) column up to 64, a multiple of 8, within the limit.
        const bool v4 = j.dim % 4 == 0;
        const int64_t lanes = v4 ? j.dim / 4 : j.dim;
        size_t wg = lanes >= 64 ? 64 : size_t((lanes + 7) / 8 * 8);
        if (wg > max_wg) wg = max_wg;
        l.run(v4 ? "embedding_bag_v4" : "embedding_bag", {a_buf(x.table), a_i32(j.table_dtype), a_i64(j.dim), a_buf(x.ids), a_i32(j.id_dtype),
                                a_buf(x.offsets), a_buf(x.weights), a_i32(j.mode), a_buf(x.out), a_i64(j.ldo),
                                a_i64(num_bags), a_i32(1)},
              size_t(num_bags) * wg, wg);
    }
    return l.finish();
}

rf_status gather_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                      const float *weights, float *dst, int64_t ldd) {
    int32_t max_row = 0;
    for (int64_t i = 0; i < n; ++i) max_row = idx[i] > max_row ? idx[i] : max_row;
    Launch l("rf_gather_rows", s);
    int bs = l.arg(src, span_bytes(int64_t(max_row) + 1, d, lds, 4)), bi = l.arg(idx, size_t(n) * 4),
        bw = l.arg(weights, size_t(n) * 4), bd = l.arg(dst, span_bytes(n, d, ldd, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("gather_rows", {a_i64(n), a_i64(d), a_buf(bs), a_i64(lds), a_buf(bi), a_buf(bw), a_buf(bd), a_i64(ldd)},
          size_t(d), 0, size_t(n), 0);
    return l.finish();
}

rf_status scatter_add_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                           const float *weights, float *dst, int64_t ldd, int64_t dst_rows) {
    Launch l("rf_scatter_add_rows", s);
    int bs = l.arg(src, span_bytes(n, d, lds, 4)), bi = l.arg(idx, size_t(n) * 4), bw = l.arg(weights, size_t(n) * 4),
        bd = l.arg(dst, span_bytes(dst_rows, d, ldd, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("scatter_add_rows", {a_i64(n), a_i64(d), a_buf(bs), a_i64(lds), a_buf(bi), a_buf(bw), a_buf(bd), a_i64(ldd)},
          size_t(d), 0);
    return l.finish();
}

rf_status target_attention(rf_stream s, const AttentionArgs &a) {
    int32_t requests = 0;  // rows of keys / mask read: up to the largest request index
    for (int64_t i = 0; i < a.n; ++i) requests = a.req[i] + 1 > requests ? a.req[i] + 1 : requests;
    const bool scored = a.T > 0 && a.h > 0;
    Launch l("rf_target_attention", s);
    int bq = l.arg(scored ? a.q : nullptr, span_bytes(a.n, a.d, a.ldq, 4)),
        bk = l.arg(a.T > 0 ? a.keys : nullptr, span_bytes(requests, a.T * a.d, a.ldk, 4)),
        bm = l.arg(a.T > 0 ? a.mask : nullptr, span_bytes(requests, a.T, a.ldm, 4)), br = l.arg(a.req, size_t(a.n) * 4),
        bqp = l.arg(scored ? a.qp : nullptr, span_bytes(a.n, a.h, a.ldqp, 4)),
        bkp = l.arg(scored ? a.kp : nullptr, size_t(requests) * size_t(a.T) * size_t(a.h) * 4),
        bw = l.arg(scored ? a.wqk : nullptr, size_t(a.h) * size_t(a.d) * 4),
        b2 = l.arg(scored ? a.w2 : nullptr, size_t(a.h) * 4), bo = l.arg(a.out, span_bytes(a.n, a.d, a.ldo, 4));
    if (l.bind() != RF_OK) return l.status();
    l.run("target_attention", {a_i64(a.n), a_i64(a.T), a_i64(a.d), a_i64(a.h), a_buf(bq), a_i64(a.ldq), a_buf(bk),
                               a_i64(a.ldk), a_buf(bm), a_i64(a.ldm), a_buf(br), a_buf(bqp), a_i64(a.ldqp), a_buf(bkp),
                               a_buf(bw), a_buf(b2), a_f32(a.b2), a_i32(a.act), a_buf(bo), a_i64(a.ldo)},
          size_t(a.n), 0);
    return l.finish();
}

}  // namespace rf::RF_DISPATCH_NS
