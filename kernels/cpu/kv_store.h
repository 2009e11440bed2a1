// The paged user-history KV store behind rf_kv_store_* (see rankfn.h): shards,
// each with its own writer lock, hash table (under a sequence number), entry
// slots (each under its own sequence number) and the pages of both tiers.
// kv_store.cpp checks arguments; kv_store_shards.cpp is the store and
// kv_store_alloc.cpp allocates it; kv_store_pages.cpp encodes and decodes pages.
#pragma once
#include "backend.h"

#include <atomic>
#include <mutex>
#include <vector>

namespace rf {

enum { kKvNative = 0, kKvHost = 1, kKvFree = -1 };
constexpr int64_t kKvPageOverhead = 96;  // a page's share of slots, table and lists (rankfn.h)

// Shape of the pages of one tier.
struct KvPageFormat {
    int32_t dtype;
    int64_t layers, tokens, width;  // width = heads * head_dim
    int64_t scale_bytes;            // RF_I8: 8 * layers (a float per layer and K|V), else 0
    int64_t bytes;                  // one page
    int64_t elem() const { return dtype == RF_F32 ? 4 : dtype == RF_BF16 ? 2 : 1; }
};

KvPageFormat kv_page_format(int32_t dtype, int64_t layers, int64_t page_tokens, int64_t width);

// Where a block of tokens comes from or goes to: K and V of layer l, token row r
// at k + l*layer_stride + r*ld (V likewise).
struct KvRows {
    const float *k, *v;
    int64_t ld, layer_stride;
};
struct KvOutRows {
    float *k, *v;
    int64_t ld, layer_stride;
};

// Write tokens [t0, t0 + n) of a page from rows [row0, row0 + n) of src (int8:
// grows the block scales, requantizing tokens [0, t0) when a scale grows).
void kv_page_encode(const KvPageFormat &f, uint8_t *page, int64_t t0, int64_t n, const KvRows &src, int64_t row0);
// Read tokens [0, n) of a page into rows [row0, row0 + n) of dst.
void kv_page_decode(const KvPageFormat &f, const uint8_t *page, int64_t n, const KvOutRows &dst, int64_t row0);

// One entry slot (64 bytes). Fields are read by lookups without the lock
// (std::atomic_ref, validated by seq) and written under the shard lock with
// seq odd.
struct KvEntry {
    uint32_t seq;
    int32_t tier;  // kKvNative, kKvHost or kKvFree
    uint64_t version, user;
    int64_t len;
    uint64_t fp;
    int32_t first, last, pages;
    uint32_t priority;  // RF_KV_EVICT_LFU_DA: shard age at insertion + uses
    uint64_t stamp;  // shard clock at the last use (LRU)
};
static_assert(sizeof(KvEntry) == 64, "KvEntry is one cache line");

struct KvTier {
    KvPageFormat fmt{};
    int64_t pages = 0;
    uint8_t *data = nullptr;       // [pages][fmt.bytes]
    int32_t *next = nullptr;       // [pages]: the entry's next page, -1 at its last
    std::vector<int32_t> free_pages;
    int64_t entries = 0;
};

struct alignas(64) KvShard {
    std::mutex lock;               // writers
    uint32_t table_seq = 0;        // odd while a writer edits the table
    std::atomic<uint64_t> clock{1};
    uint32_t age = 0;              // RF_KV_EVICT_LFU_DA: the last victim's priority
    int32_t *table = nullptr;      // [mask + 1] slot index or -1 (linear probing)
    uint64_t mask = 0;
    KvEntry *entries = nullptr;    // [slots]
    int32_t slots = 0;
    std::vector<int32_t> free_slots;
    KvTier tier[2];
};

}  // namespace rf

struct rf_kv_store_s {
    rf_kv_store_config_t cfg;
    int64_t width;
    int32_t shards;
    bool has_host;
    rf::KvShard *shard;  // [shards]
    int64_t bytes, host_bytes;
    std::atomic<int64_t> hits{0}, misses{0}, host_hits{0}, tokens_reused{0}, tokens_computed{0}, mismatches{0},
        evictions{0}, host_evictions{0}, appends_skipped{0};
};

namespace rf {

// nullptr when out of memory; cfg was validated (every shard gets >= 1 native page).
rf_kv_store_s *kv_store_new(const rf_kv_store_config_t &cfg);
void kv_store_delete(rf_kv_store_s *st);

// One user of a lookup: returns the cached length (0: miss), copying K/V when dst.k.
int64_t kv_store_lookup_one(rf_kv_store_s *st, uint64_t version, uint64_t user, int64_t n_hist, const uint64_t *hist_fp,
                            const KvOutRows *dst, int64_t row0);
// One append item; true when stored.
bool kv_store_append_one(rf_kv_store_s *st, uint64_t version, const rf_kv_append_t &item, const KvRows &src);
void kv_store_erase_one(rf_kv_store_s *st, uint64_t version, uint64_t user);
void kv_store_erase_version(rf_kv_store_s *st, uint64_t version);
// Entries and pages in use per tier, summed over shards (under each shard's lock).
void kv_store_usage(rf_kv_store_s *st, int64_t entries[2], int64_t pages_used[2], int64_t pages[2]);

// splitmix64's finaliser (rankfn.h: mix), shared by the fingerprint and the key hash.
static inline uint64_t kv_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace rf
