// rf_kv_store_*: argument checks (every offset, length and buffer extent before
// anything is read, written or dropped), the prefix fingerprint, and the split
// of a lookup batch over the thread pool. The store itself is kv_store_shards.cpp.
#include "kv_store.h"

namespace rf {
namespace {

bool page_dtype(int32_t d) { return d == RF_F32 || d == RF_BF16 || d == RF_I8; }

rf_status check_offsets(const char *who, const char *name, int64_t batch, const int64_t *off) {
    RF_CHECK(off != nullptr, "%s: %s is NULL", who, name);
    RF_CHECK(off[0] >= 0, "%s: %s[0] = %lld is negative", who, name, (long long)off[0]);
    for (int64_t b = 0; b < batch; ++b)
        RF_CHECK(off[b + 1] >= off[b], "%s: %s[%lld] = %lld < %s[%lld] = %lld (offsets must not decrease)", who, name,
                 (long long)(b + 1), (long long)off[b + 1], name, (long long)b, (long long)off[b]);
    return RF_OK;
}

rf_status check_layout(const char *who, const rf_kv_store_s *st, int64_t ld, int64_t layer_stride) {
    RF_CHECK(ld >= st->width, "%s: ld = %lld must be >= heads*head_dim = %lld", who, (long long)ld, (long long)st->width);
    RF_CHECK(layer_stride >= 0, "%s: layer_stride = %lld is negative", who, (long long)layer_stride);
    return RF_OK;
}

constexpr int64_t kParallelTokens = 256;  // a lookup copying fewer tokens in all stays on the caller's thread

}  // namespace
}  // namespace rf

extern "C" {

RF_API rf_status rf_kv_store_create(int32_t device, const rf_kv_store_config_t *config, rf_kv_store *out) {
    RF_ENTRY({
        const char *who = "rf_kv_store_create";
        RF_CHECK(out != nullptr, "%s: out is NULL", who);
        *out = nullptr;
        RF_CHECK(device == 0, "%s: device %d does not exist (the store lives in host memory: device 0)", who, device);
        RF_CHECK(config != nullptr, "%s: config is NULL", who);
        const rf_kv_store_config_t c = *config;
        RF_CHECK(c.layers >= 1 && c.layers <= 1024, "%s: layers = %d must be in [1, 1024]", who, c.layers);
        RF_CHECK(c.heads >= 1 && c.heads <= 1024, "%s: heads = %d must be in [1, 1024]", who, c.heads);
        RF_CHECK(c.head_dim >= 1 && c.head_dim <= 4096, "%s: head_dim = %d must be in [1, 4096]", who, c.head_dim);
        RF_CHECK(int64_t(c.heads) * c.head_dim <= 65536, "%s: heads*head_dim = %lld must be <= 65536", who, (long long)(int64_t(c.heads) * c.head_dim));
        RF_CHECK(c.page_tokens >= 1 && c.page_tokens <= 65536, "%s: page_tokens = %d must be in [1, 65536]", who, c.page_tokens);
        RF_CHECK(rf::page_dtype(c.dtype), "%s: dtype %d must be RF_F32, RF_BF16 or RF_I8", who, c.dtype);
        RF_CHECK(c.host_budget_bytes == 0 || rf::page_dtype(c.host_dtype), "%s: host_dtype %d must be RF_F32, RF_BF16 or RF_I8", who, c.host_dtype);
        RF_CHECK(c.shards >= 1 && c.shards <= 256, "%s: shards = %d must be in [1, 256]", who, c.shards);
        RF_CHECK(c.eviction == RF_KV_EVICT_LRU || c.eviction == RF_KV_EVICT_LFU_DA,
                 "%s: eviction = %d must be RF_KV_EVICT_LRU (0) or RF_KV_EVICT_LFU_DA (1)", who, c.eviction);
        RF_CHECK(c.budget_bytes >= 0, "%s: budget_bytes = %lld is negative", who, (long long)c.budget_bytes);
        RF_CHECK(c.host_budget_bytes >= 0, "%s: host_budget_bytes = %lld is negative", who, (long long)c.host_budget_bytes);
        const int64_t width = int64_t(c.heads) * c.head_dim;
        const rf::KvPageFormat nf = rf::kv_page_format(c.dtype, c.layers, c.page_tokens, width);
        const int64_t unit = nf.bytes + rf::kKvPageOverhead;
        RF_CHECK(c.budget_bytes / unit / c.shards >= 1,
                 "%s: budget of %lld bytes holds no page per shard (%d shards, %lld bytes a page with its metadata)", who,
                 (long long)c.budget_bytes, c.shards, (long long)unit);
        RF_CHECK(c.budget_bytes / unit / c.shards <= (int64_t(1) << 29), "%s: more than 2^29 pages per shard", who);
        if (c.host_budget_bytes > 0) {
            const rf::KvPageFormat hf = rf::kv_page_format(c.host_dtype, c.layers, c.page_tokens, width);
            RF_CHECK(c.host_budget_bytes / (hf.bytes + rf::kKvPageOverhead) / c.shards <= (int64_t(1) << 29), "%s: more than 2^29 host pages per shard", who);
        }
        rf_kv_store_s *st = rf::kv_store_new(c);
        if (!st) return rf::fail(RF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld + %lld bytes", who, (long long)c.budget_bytes, (long long)c.host_budget_bytes);
        *out = st;
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_destroy(rf_kv_store st) {
    RF_ENTRY({
        if (st) rf::kv_store_delete(st);
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_fingerprint(int64_t batch, const int64_t *offsets, const int64_t *ids, const int64_t *timestamps,
                                         uint64_t *fp) {
    RF_ENTRY({
        const char *who = "rf_kv_store_fingerprint";
        RF_CHECK(batch >= 0, "%s: batch = %lld is negative", who, (long long)batch);
        rf_status s = rf::check_offsets(who, "offsets", batch, offsets);
        if (s != RF_OK) return s;
        RF_CHECK(offsets[0] == 0, "%s: offsets[0] = %lld must be 0", who, (long long)offsets[0]);
        const int64_t n = offsets[batch];
        RF_CHECK(n == 0 || (ids && timestamps && fp), "%s: ids, timestamps and fp must not be NULL (%lld events)", who, (long long)n);
        for (int64_t b = 0; b < batch; ++b) {
            uint64_t h = 0x9e3779b97f4a7c15ull;
            for (int64_t i = offsets[b]; i < offsets[b + 1]; ++i) fp[i] = h = rf::kv_mix(rf::kv_mix(h ^ uint64_t(ids[i])) ^ uint64_t(timestamps[i]));
        }
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_lookup(rf_kv_store st, uint64_t version, int64_t batch, const uint64_t *users,
                                    const int64_t *hist_offsets, const uint64_t *hist_fp, float *k, float *v, int64_t ld,
                                    int64_t layer_stride, const int64_t *kv_offsets, int64_t *cached_len) {
    RF_ENTRY({
        const char *who = "rf_kv_store_lookup";
        RF_CHECK(st != nullptr, "%s: store is NULL", who);
        RF_CHECK(batch >= 0, "%s: batch = %lld is negative", who, (long long)batch);
        if (batch == 0) return RF_OK;
        RF_CHECK(users != nullptr, "%s: users is NULL", who);
        RF_CHECK(cached_len != nullptr, "%s: cached_len is NULL", who);
        rf_status s = rf::check_offsets(who, "hist_offsets", batch, hist_offsets);
        if (s != RF_OK) return s;
        RF_CHECK(hist_offsets[batch] == hist_offsets[0] || hist_fp != nullptr, "%s: hist_fp is NULL", who);
        RF_CHECK((k == nullptr) == (v == nullptr), "%s: k and v must both be given or both be NULL", who);
        const bool copy = k != nullptr;
        if (copy) {
            if ((s = rf::check_layout(who, st, ld, layer_stride)) != RF_OK) return s;
            if ((s = rf::check_offsets(who, "kv_offsets", batch, kv_offsets)) != RF_OK) return s;
            for (int64_t b = 0; b < batch; ++b) {
                const int64_t n = hist_offsets[b + 1] - hist_offsets[b], room = kv_offsets[b + 1] - kv_offsets[b];
                RF_CHECK(room >= n, "%s: users[%lld] has %lld kv rows (kv_offsets) for a history of %lld events", who,
                         (long long)b, (long long)room, (long long)n);
            }
        }
        const rf::KvOutRows dst{k, v, ld, layer_stride};
        const auto one = [&](int64_t b) {
            const int64_t h0 = hist_offsets[b];
            cached_len[b] = rf::kv_store_lookup_one(st, version, users[b], hist_offsets[b + 1] - h0, hist_fp + h0,
                                                    copy ? &dst : nullptr, copy ? kv_offsets[b] : 0);
        };
#ifndef RF_DISPATCH_NS
        if (copy && batch > 1 && hist_offsets[batch] - hist_offsets[0] >= rf::kParallelTokens) {
            rf::parallel_for(batch, [&](int64_t b, int) { one(b); });
            return RF_OK;
        }
#endif
        // (A library reusing these entry points, e.g. OpenCL's, has no CPU pool: serial there.)
        for (int64_t b = 0; b < batch; ++b) one(b);
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_append(rf_kv_store st, uint64_t version, int64_t n, const rf_kv_append_t *items, const float *k,
                                    const float *v, int64_t ld, int64_t layer_stride, int32_t *stored) {
    RF_ENTRY({
        const char *who = "rf_kv_store_append";
        RF_CHECK(st != nullptr, "%s: store is NULL", who);
        RF_CHECK(n >= 0, "%s: n = %lld is negative", who, (long long)n);
        if (n == 0) return RF_OK;
        RF_CHECK(items != nullptr, "%s: items is NULL", who);
        RF_CHECK(k != nullptr && v != nullptr, "%s: k and v must not be NULL", who);
        rf_status s = rf::check_layout(who, st, ld, layer_stride);
        if (s != RF_OK) return s;
        for (int64_t i = 0; i < n; ++i) {
            const rf_kv_append_t &it = items[i];
            RF_CHECK(it.start >= 0, "%s: items[%lld].start = %lld is negative", who, (long long)i, (long long)it.start);
            RF_CHECK(it.count >= 1, "%s: items[%lld].count = %lld must be >= 1", who, (long long)i, (long long)it.count);
            RF_CHECK(it.src_row >= 0, "%s: items[%lld].src_row = %lld is negative", who, (long long)i, (long long)it.src_row);
            RF_CHECK(it.start <= (int64_t(1) << 40) && it.count <= (int64_t(1) << 40), "%s: items[%lld]: start + count is too large", who, (long long)i);
        }
        const rf::KvRows src{k, v, ld, layer_stride};
        for (int64_t i = 0; i < n; ++i) {
            const bool ok = rf::kv_store_append_one(st, version, items[i], src);
            if (stored) stored[i] = ok ? 1 : 0;
        }
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_erase(rf_kv_store st, uint64_t version, int64_t n, const uint64_t *users) {
    RF_ENTRY({
        const char *who = "rf_kv_store_erase";
        RF_CHECK(st != nullptr, "%s: store is NULL", who);
        if (n == -1 && users == nullptr) {
            rf::kv_store_erase_version(st, version);
            return RF_OK;
        }
        RF_CHECK(n >= 0, "%s: n = %lld is negative (n == -1 needs users == NULL)", who, (long long)n);
        RF_CHECK(n == 0 || users != nullptr, "%s: users is NULL", who);
        for (int64_t i = 0; i < n; ++i) rf::kv_store_erase_one(st, version, users[i]);
        return RF_OK;
    });
}

RF_API rf_status rf_kv_store_stats(rf_kv_store st, rf_kv_store_stats_t *out, int32_t reset) {
    RF_ENTRY({
        RF_CHECK(st != nullptr, "rf_kv_store_stats: store is NULL");
        RF_CHECK(out != nullptr, "rf_kv_store_stats: out is NULL");
        const auto take = [&](std::atomic<int64_t> &x) { return reset ? x.exchange(0, std::memory_order_relaxed) : x.load(std::memory_order_relaxed); };
        *out = rf_kv_store_stats_t{};
        out->hits = take(st->hits);
        out->misses = take(st->misses);
        out->host_hits = take(st->host_hits);
        out->tokens_reused = take(st->tokens_reused);
        out->tokens_computed = take(st->tokens_computed);
        out->mismatches = take(st->mismatches);
        out->evictions = take(st->evictions);
        out->host_evictions = take(st->host_evictions);
        out->appends_skipped = take(st->appends_skipped);
        int64_t entries[2], used[2], pages[2];
        rf::kv_store_usage(st, entries, used, pages);
        const int64_t pb = st->shard[0].tier[rf::kKvNative].fmt.bytes, hb = st->shard[0].tier[rf::kKvHost].fmt.bytes;
        out->entries = entries[0];
        out->host_entries = entries[1];
        out->bytes_used = used[0] * pb;
        out->host_bytes_used = used[1] * hb;
        out->bytes = st->bytes;
        out->host_bytes = st->host_bytes;
        out->pages = pages[0];
        out->host_pages = pages[1];
        out->page_bytes = pb;
        out->host_page_bytes = st->has_host ? hb : 0;
        return RF_OK;
    });
}

}  // extern "C"
