// rf_embedding_bag / rf_embedding_bags: argument checks (every id is checked
// against its table before any row is read), task planning and ISA dispatch.
#include "embedding_bag.h"

#include <cstdio>

namespace rf {

std::vector<BagTask> plan_bag_tasks(const BagJob *jobs, int num_jobs, int64_t num_bags, int64_t ids_per_task) {
    std::vector<BagTask> tasks;
    for (int j = 0; j < num_jobs; ++j) {
        int64_t work = jobs[j].num_ids > num_bags ? jobs[j].num_ids : num_bags;
        int64_t blocks = (work + ids_per_task - 1) / ids_per_task;
        if (blocks < 1) blocks = 1;
        if (blocks > num_bags) blocks = num_bags;
        int64_t per = (num_bags + blocks - 1) / blocks;
        for (int64_t b = 0; b < num_bags; b += per) tasks.push_back({j, b, b + per < num_bags ? b + per : num_bags});
    }
    return tasks;
}

namespace {

// Validates one table. `who` is "rf_embedding_bag" or "rf_embedding_bags: table 3".
rf_status check_job(const char *who, const BagJob &j, int64_t num_bags) {
    RF_CHECK(j.table_dtype == RF_F32 || j.table_dtype == RF_F16 || j.table_dtype == RF_BF16 || j.table_dtype == RF_U8Q ||
                 j.table_dtype == RF_U4Q,
             "%s: unsupported table_dtype %d (want RF_F32, RF_F16, RF_BF16, RF_U8Q or RF_U4Q)", who, j.table_dtype);
    RF_CHECK(j.id_dtype == RF_I32 || j.id_dtype == RF_I64, "%s: id_dtype %d must be RF_I32 or RF_I64", who, j.id_dtype);
    RF_CHECK(j.mode >= RF_POOL_SUM && j.mode <= RF_POOL_GATHER, "%s: unknown mode %d", who, j.mode);
    RF_CHECK(j.rows >= 0, "%s: rows = %lld is negative", who, (long long)j.rows);
    RF_CHECK(j.dim >= 0, "%s: dim = %lld is negative", who, (long long)j.dim);
    RF_CHECK(j.num_ids >= 0, "%s: num_ids = %lld is negative", who, (long long)j.num_ids);
    RF_CHECK(j.ldo >= j.dim, "%s: ldo = %lld must be >= dim = %lld", who, (long long)j.ldo, (long long)j.dim);
    RF_CHECK(j.dim <= (int64_t(1) << 40) && (j.rows == 0 || bag_row_bytes(j.table_dtype, j.dim) <= INT64_MAX / j.rows),
             "%s: table of %lld rows x %lld is too large", who, (long long)j.rows, (long long)j.dim);
    if (num_bags == 0) return RF_OK;
    RF_CHECK(j.offsets != nullptr, "%s: offsets is NULL", who);
    RF_CHECK(j.out != nullptr, "%s: out is NULL", who);
    RF_CHECK(j.num_ids == 0 || j.ids != nullptr, "%s: ids is NULL (num_ids = %lld)", who, (long long)j.num_ids);
    RF_CHECK(j.num_ids == 0 || j.table != nullptr, "%s: table is NULL", who);
    RF_CHECK(j.offsets[0] == 0, "%s: offsets[0] = %lld, must be 0", who, (long long)j.offsets[0]);
    for (int64_t b = 0; b < num_bags; ++b) {
        int64_t cnt = j.offsets[b + 1] - j.offsets[b];
        if (j.offsets[b + 1] < j.offsets[b] || j.offsets[b + 1] > j.num_ids)
            return fail(RF_ERR_INVALID_ARG, "%s: offsets[%lld] = %lld after offsets[%lld] = %lld (must be non-decreasing, <= num_ids = %lld)",
                        who, (long long)(b + 1), (long long)j.offsets[b + 1], (long long)b, (long long)j.offsets[b],
                        (long long)j.num_ids);
        if (j.mode == RF_POOL_GATHER && cnt != 1)
            return fail(RF_ERR_INVALID_ARG, "%s: mode RF_POOL_GATHER needs one id per bag, bag %lld holds %lld", who,
                        (long long)b, (long long)cnt);
    }
    RF_CHECK(j.offsets[num_bags] == j.num_ids, "%s: offsets[num_bags = %lld] = %lld, must equal num_ids = %lld", who,
             (long long)num_bags, (long long)j.offsets[num_bags], (long long)j.num_ids);
    // Every id, before any row is read.
    const uint64_t rows = uint64_t(j.rows);
    int64_t bad = -1;
    if (j.id_dtype == RF_I32) {
        const int32_t *ids = static_cast<const int32_t *>(j.ids);
        uint32_t any = 0;  // fast scan: (uint64)id >= rows catches negative ids too
        for (int64_t i = 0; i < j.num_ids; ++i) any |= uint64_t(int64_t(ids[i])) >= rows;
        if (any)
            for (int64_t i = 0; i < j.num_ids && bad < 0; ++i)
                if (uint64_t(int64_t(ids[i])) >= rows) bad = i;
        if (bad >= 0)
            return fail(RF_ERR_OUT_OF_RANGE, "%s: id %lld at position %lld is outside the table's %lld rows", who,
                        (long long)ids[bad], (long long)bad, (long long)j.rows);
    } else {
        const int64_t *ids = static_cast<const int64_t *>(j.ids);
        uint32_t any = 0;
        for (int64_t i = 0; i < j.num_ids; ++i) any |= uint64_t(ids[i]) >= rows;
        if (any)
            for (int64_t i = 0; i < j.num_ids && bad < 0; ++i)
                if (uint64_t(ids[i]) >= rows) bad = i;
        if (bad >= 0)
            return fail(RF_ERR_OUT_OF_RANGE, "%s: id %lld at position %lld is outside the table's %lld rows", who,
                        (long long)ids[bad], (long long)bad, (long long)j.rows);
    }
    return RF_OK;
}

rf_status run_jobs(rf_stream s, const BagJob *jobs, int num_jobs, int64_t num_bags) {
    RF_DISPATCH(embedding_bags, jobs, num_jobs, num_bags);
}

}  // namespace
}  // namespace rf

extern "C" {

RF_API rf_status rf_embedding_bag(rf_stream s, const void *table, int32_t table_dtype, int64_t rows, int64_t dim,
                                  const void *ids, int32_t id_dtype, int64_t num_ids, const int64_t *offsets,
                                  int64_t num_bags, const float *weights, int32_t mode, float *out, int64_t ldo) {
    RF_ENTRY({
        RF_CHECK(num_bags >= 0, "rf_embedding_bag: num_bags = %lld is negative", (long long)num_bags);
        rf::BagJob job{table, ids, offsets, weights, out, rows, dim, num_ids, ldo, table_dtype, id_dtype, mode};
        rf_status st = rf::check_job("rf_embedding_bag", job, num_bags);
        if (st != RF_OK || num_bags == 0) return st;
        return rf::run_jobs(s, &job, 1, num_bags);
    });
}

RF_API rf_status rf_embedding_bags(rf_stream s, int32_t num_tables, const rf_bag_table_t *tables, int64_t num_bags) {
    RF_ENTRY({
        RF_CHECK(num_tables >= 0, "rf_embedding_bags: num_tables = %d is negative", num_tables);
        RF_CHECK(num_bags >= 0, "rf_embedding_bags: num_bags = %lld is negative", (long long)num_bags);
        if (num_tables == 0 || num_bags == 0) return RF_OK;
        RF_CHECK(tables != nullptr, "rf_embedding_bags: tables is NULL");
        std::vector<rf::BagJob> jobs(static_cast<size_t>(num_tables));
        for (int32_t t = 0; t < num_tables; ++t) {
            const rf_bag_table_t &s = tables[t];
            jobs[t] = rf::BagJob{s.table, s.ids, s.offsets, s.weights, s.out, s.rows, s.dim, s.num_ids, s.ldo,
                                 s.table_dtype, s.id_dtype, s.mode};
            char who[64];
            std::snprintf(who, sizeof who, "rf_embedding_bags: table %d", t);
            rf_status st = rf::check_job(who, jobs[t], num_bags);
            if (st != RF_OK) return st;
        }
        return rf::run_jobs(s, jobs.data(), num_tables, num_bags);
    });
}

}  // extern "C"
