// rf_emb_cache_*: argument checks (every id against the table before anything
// is read or written), batch splitting over the thread pool, dequantization of
// inserted rows. The store itself is emb_cache_sets.cpp.
#include "emb_cache.h"

#include <vector>

namespace rf {
namespace {

constexpr int64_t kLookupChunk = 1024;  // ids per pool task
// Below this many ids a lookup runs on the calling thread: waking the pool costs more than the
// copies (measured: 5,600 ids 0.32 ms on one thread, 0.55 ms split over two, on a busy 2-core Zen 1).
constexpr int64_t kParallelIds = 16384;

rf_status check_ids(const char *who, const rf_emb_cache_s *c, int64_t n, const void *ids, int32_t id_dtype) {
    RF_CHECK(c != nullptr, "%s: cache is NULL", who);
    RF_CHECK(n >= 0, "%s: n = %lld is negative", who, (long long)n);
    RF_CHECK(id_dtype == RF_I32 || id_dtype == RF_I64, "%s: id_dtype %d must be RF_I32 or RF_I64", who, id_dtype);
    RF_CHECK(n == 0 || ids != nullptr, "%s: ids is NULL (n = %lld)", who, (long long)n);
    const uint64_t rows = uint64_t(c->rows);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t id = id_dtype == RF_I64 ? static_cast<const int64_t *>(ids)[i] : static_cast<const int32_t *>(ids)[i];
        if (uint64_t(id) >= rows)
            return fail(RF_ERR_OUT_OF_RANGE, "%s: id %lld at position %lld is outside the table's %lld rows", who,
                        (long long)id, (long long)i, (long long)c->rows);
    }
    return RF_OK;
}

int64_t packed_row_bytes(int32_t dtype, int64_t dim) {
    switch (dtype) {
    case RF_F32: return dim * 4;
    case RF_U8Q: return dim + 4;
    case RF_U4Q: return (dim + 1) / 2 + 4;
    default: return dim * 2;
    }
}

// Row `src` of `dtype` as fp32 (RF_U8Q / RF_U4Q: scale * q + bias, as rf_embedding_bag's reference —
// a product then a sum, never fused, so a cached row equals the one the bag kernels compute with).
void dequantize(const uint8_t *src, int32_t dtype, int64_t dim, float *dst) {
    uint16_t h;
    switch (dtype) {
    case RF_F32: std::memcpy(dst, src, size_t(dim) * 4); return;
    case RF_F16:
        for (int64_t c = 0; c < dim; ++c) std::memcpy(&h, src + 2 * c, 2), dst[c] = f16_to_f32(h);
        return;
    case RF_BF16:
        for (int64_t c = 0; c < dim; ++c) std::memcpy(&h, src + 2 * c, 2), dst[c] = bf16_to_f32(h);
        return;
    case RF_U4Q: {
        const int64_t qb = (dim + 1) / 2;
        uint16_t s, b;
        std::memcpy(&s, src + qb, 2);
        std::memcpy(&b, src + qb + 2, 2);
        const float scale = f16_to_f32(s), bias = f16_to_f32(b);
        for (int64_t c = 0; c < dim; ++c) dst[c] = scale * float((src[c / 2] >> (4 * (c % 2))) & 15) + bias;
        return;
    }
    default: {
        uint16_t s, b;
        std::memcpy(&s, src + dim, 2);
        std::memcpy(&b, src + dim + 2, 2);
        const float scale = f16_to_f32(s), bias = f16_to_f32(b);
        for (int64_t c = 0; c < dim; ++c) dst[c] = scale * float(src[c]) + bias;
    }
    }
}

}  // namespace
}  // namespace rf

extern "C" {

RF_API rf_status rf_emb_cache_create(int32_t device, int64_t rows, int64_t dim, int64_t budget_bytes, int32_t ways,
                                     rf_emb_cache *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_emb_cache_create: out is NULL");
        *out = nullptr;
        RF_CHECK(device == 0, "rf_emb_cache_create: device %d does not exist (the CPU backend has device 0)", device);
        RF_CHECK(rows >= 0, "rf_emb_cache_create: rows = %lld is negative", (long long)rows);
        RF_CHECK(dim >= 1 && dim <= (int64_t(1) << 20), "rf_emb_cache_create: dim = %lld must be in [1, 2^20]", (long long)dim);
        RF_CHECK(ways >= 1 && ways <= 64, "rf_emb_cache_create: ways = %d must be in [1, 64]", ways);
        RF_CHECK(budget_bytes >= 0, "rf_emb_cache_create: budget_bytes = %lld is negative", (long long)budget_bytes);
        const int64_t set_bytes = rf::emb_cache_set_bytes(dim, ways);
        const int64_t sets = budget_bytes / set_bytes;
        RF_CHECK(sets >= 1, "rf_emb_cache_create: budget of %lld bytes holds no set of %d rows of dim %lld (needs %lld bytes)",
                 (long long)budget_bytes, ways, (long long)dim, (long long)set_bytes);
        rf_emb_cache_s *c = rf::emb_cache_new(rows, dim, sets, ways);
        if (!c)
            return rf::fail(RF_ERR_OUT_OF_MEMORY, "rf_emb_cache_create: cannot allocate %lld bytes", (long long)(sets * set_bytes));
        *out = c;
        return RF_OK;
    });
}

RF_API rf_status rf_emb_cache_destroy(rf_emb_cache c) {
    RF_ENTRY({
        if (c) rf::emb_cache_delete(c);
        return RF_OK;
    });
}

RF_API rf_status rf_emb_cache_lookup(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype, float *out, int64_t ldo,
                                     int64_t *miss_pos, int64_t *num_misses) {
    RF_ENTRY({
        const char *who = "rf_emb_cache_lookup";
        RF_CHECK(num_misses != nullptr, "%s: num_misses is NULL", who);
        *num_misses = 0;
        rf_status st = rf::check_ids(who, c, n, ids, id_dtype);
        if (st != RF_OK) return st;
        RF_CHECK(ldo >= c->dim, "%s: ldo = %lld must be >= dim = %lld", who, (long long)ldo, (long long)c->dim);
        RF_CHECK(n == 0 || out != nullptr, "%s: out is NULL", who);
        RF_CHECK(n == 0 || miss_pos != nullptr, "%s: miss_pos is NULL", who);
        const bool wide = id_dtype == RF_I64;
        if (n <= rf::kParallelIds) {
            *num_misses = rf::emb_cache_lookup_range(c, ids, wide, 0, n, out, ldo, miss_pos);
            return RF_OK;
        }
        // Each chunk writes its misses into its own stretch of miss_pos; then they are packed in order.
        const int64_t chunks = (n + rf::kLookupChunk - 1) / rf::kLookupChunk;
        std::vector<int64_t> counts(size_t(chunks), 0);
        rf::parallel_for(chunks, [&](int64_t k, int) {
            const int64_t i0 = k * rf::kLookupChunk, i1 = i0 + rf::kLookupChunk < n ? i0 + rf::kLookupChunk : n;
            counts[size_t(k)] = rf::emb_cache_lookup_range(c, ids, wide, i0, i1, out, ldo, miss_pos + i0);
        });
        int64_t total = 0;
        for (int64_t k = 0; k < chunks; ++k) {
            const int64_t i0 = k * rf::kLookupChunk;
            if (total != i0) std::memmove(miss_pos + total, miss_pos + i0, size_t(counts[size_t(k)]) * 8);
            total += counts[size_t(k)];
        }
        *num_misses = total;
        return RF_OK;
    });
}

RF_API rf_status rf_emb_cache_insert(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype, const void *rows_data,
                                     int32_t row_dtype, int32_t flags) {
    RF_ENTRY({
        const char *who = "rf_emb_cache_insert";
        rf_status st = rf::check_ids(who, c, n, ids, id_dtype);
        if (st != RF_OK) return st;
        RF_CHECK(row_dtype == RF_F32 || row_dtype == RF_F16 || row_dtype == RF_BF16 || row_dtype == RF_U8Q || row_dtype == RF_U4Q,
                 "%s: row_dtype %d must be RF_F32, RF_F16, RF_BF16, RF_U8Q or RF_U4Q", who, row_dtype);
        RF_CHECK((flags & ~RF_EMB_CACHE_UPDATE_ONLY) == 0, "%s: unknown flags 0x%x", who, flags);
        RF_CHECK(n == 0 || rows_data != nullptr, "%s: rows_data is NULL", who);
        const int64_t row_bytes = rf::packed_row_bytes(row_dtype, c->dim);
        const bool wide = id_dtype == RF_I64;
        std::vector<float> row(size_t(c->dim));
        // Serial, in order, so a later duplicate id wins (inserts are the miss path).
        for (int64_t i = 0; i < n; ++i) {
            const int64_t id = wide ? static_cast<const int64_t *>(ids)[i] : static_cast<const int32_t *>(ids)[i];
            const uint8_t *src = static_cast<const uint8_t *>(rows_data) + i * row_bytes;
            const float *v = reinterpret_cast<const float *>(src);
            if (row_dtype != RF_F32 || (reinterpret_cast<uintptr_t>(src) & 3) != 0) {
                rf::dequantize(src, row_dtype, c->dim, row.data());
                v = row.data();
            }
            rf::emb_cache_put(c, id, v, (flags & RF_EMB_CACHE_UPDATE_ONLY) != 0);
        }
        return RF_OK;
    });
}

RF_API rf_status rf_emb_cache_erase(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype) {
    RF_ENTRY({
        const char *who = "rf_emb_cache_erase";
        RF_CHECK(c != nullptr, "%s: cache is NULL", who);
        if (n == -1 && ids == nullptr) {
            rf::emb_cache_clear(c);
            return RF_OK;
        }
        rf_status st = rf::check_ids(who, c, n, ids, id_dtype);
        if (st != RF_OK) return st;
        const bool wide = id_dtype == RF_I64;
        for (int64_t i = 0; i < n; ++i)
            rf::emb_cache_erase_one(c, wide ? static_cast<const int64_t *>(ids)[i] : static_cast<const int32_t *>(ids)[i]);
        return RF_OK;
    });
}

RF_API rf_status rf_emb_cache_stats(rf_emb_cache c, rf_emb_cache_stats_t *out, int32_t reset) {
    RF_ENTRY({
        RF_CHECK(c != nullptr, "rf_emb_cache_stats: cache is NULL");
        RF_CHECK(out != nullptr, "rf_emb_cache_stats: out is NULL");
        const auto take = [&](std::atomic<int64_t> &v) { return reset ? v.exchange(0, std::memory_order_relaxed) : v.load(std::memory_order_relaxed); };
        *out = rf_emb_cache_stats_t{};
        out->hits = take(c->hits);
        out->misses = take(c->misses);
        out->insertions = take(c->insertions);
        out->evictions = take(c->evictions);
        out->updates = take(c->updates);
        out->erased = take(c->erased);
        out->used_rows = c->used.load(std::memory_order_relaxed);
        out->capacity_rows = c->sets * c->ways;
        out->bytes = c->bytes;
        out->sets = c->sets;
        out->ways = c->ways;
        out->dim = c->dim;
        return RF_OK;
    });
}

}  // extern "C"
