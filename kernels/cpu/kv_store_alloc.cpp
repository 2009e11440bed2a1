// Allocation and sizing of the KV store (kv_store.h): per shard, the hash table,
// the entry slots and both tiers' pages, charged to their budgets as rankfn.h
// states; and the usage summary of rf_kv_store_stats.
#include "kv_store.h"

#include <cstdlib>

namespace rf {
namespace {

void *aligned(size_t bytes) {
    void *p = nullptr;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : nullptr;
}

bool init_tier(KvTier &t, const KvPageFormat &fmt, int64_t pages) {
    t.fmt = fmt;
    t.pages = pages;
    if (pages == 0) return true;
    t.data = static_cast<uint8_t *>(aligned(size_t(pages) * size_t(fmt.bytes)));
    t.next = static_cast<int32_t *>(aligned(size_t(pages) * 4));
    if (!t.data || !t.next) return false;
    t.free_pages.reserve(size_t(pages));
    for (int64_t p = pages - 1; p >= 0; --p) t.free_pages.push_back(int32_t(p)), t.next[p] = -1;
    return true;
}


}  // namespace

rf_kv_store_s *kv_store_new(const rf_kv_store_config_t &cfg) {
    auto *st = new (std::nothrow) rf_kv_store_s();
    if (!st) return nullptr;
    st->cfg = cfg;
    st->width = int64_t(cfg.heads) * cfg.head_dim;
    st->shards = cfg.shards;
    st->has_host = cfg.host_budget_bytes > 0;
    st->shard = new (std::nothrow) KvShard[size_t(cfg.shards)];
    if (!st->shard) {
        delete st;
        return nullptr;
    }
    const KvPageFormat nf = kv_page_format(cfg.dtype, cfg.layers, cfg.page_tokens, st->width);
    const KvPageFormat hf = kv_page_format(cfg.host_dtype, cfg.layers, cfg.page_tokens, st->width);
    const int64_t np = cfg.budget_bytes / (nf.bytes + kKvPageOverhead) / cfg.shards;
    const int64_t hp = st->has_host ? cfg.host_budget_bytes / (hf.bytes + kKvPageOverhead) / cfg.shards : 0;
    for (int32_t i = 0; i < cfg.shards; ++i) {
        KvShard &s = st->shard[i];
        s.slots = int32_t(np + hp);
        uint64_t cap = 2;
        while (cap < 2 * uint64_t(s.slots)) cap <<= 1;
        s.mask = cap - 1;
        s.table = static_cast<int32_t *>(aligned(size_t(cap) * 4));
        s.entries = static_cast<KvEntry *>(aligned(size_t(s.slots) * sizeof(KvEntry)));
        if (!s.table || !s.entries || !init_tier(s.tier[kKvNative], nf, np) || !init_tier(s.tier[kKvHost], hf, hp)) {
            kv_store_delete(st);
            return nullptr;
        }
        for (uint64_t p = 0; p < cap; ++p) s.table[p] = -1;
        std::memset(static_cast<void *>(s.entries), 0, size_t(s.slots) * sizeof(KvEntry));
        s.free_slots.reserve(size_t(s.slots));
        for (int32_t k = s.slots - 1; k >= 0; --k) s.entries[k].tier = kKvFree, s.free_slots.push_back(k);
        // Each tier is charged its pages, their links and free-list entries, their slots and its share of the table.
        const double table_share = double(cap * 4) / double(s.slots);
        st->bytes += int64_t(double(np) * (double(nf.bytes) + 8 + sizeof(KvEntry) + 4 + table_share));
        st->host_bytes += int64_t(double(hp) * (double(hf.bytes) + 8 + sizeof(KvEntry) + 4 + table_share));
    }
    return st;
}

void kv_store_delete(rf_kv_store_s *st) {
    for (int32_t i = 0; i < st->shards; ++i) {
        KvShard &s = st->shard[i];
        std::free(s.table);
        std::free(s.entries);
        for (KvTier &t : s.tier) std::free(t.data), std::free(t.next);
    }
    delete[] st->shard;
    delete st;
}

void kv_store_usage(rf_kv_store_s *st, int64_t entries[2], int64_t pages_used[2], int64_t pages[2]) {
    for (int t = 0; t < 2; ++t) entries[t] = pages_used[t] = pages[t] = 0;
    for (int32_t i = 0; i < st->shards; ++i) {
        KvShard &s = st->shard[i];
        std::lock_guard<std::mutex> guard(s.lock);
        for (int t = 0; t < 2; ++t) {
            entries[t] += s.tier[t].entries;
            pages[t] += s.tier[t].pages;
            pages_used[t] += s.tier[t].pages - int64_t(s.tier[t].free_pages.size());
        }
    }
}


}  // namespace rf
