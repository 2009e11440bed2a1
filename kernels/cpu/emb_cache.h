// The set-associative store behind rf_emb_cache_*: fixed slots of fp32 rows,
// a sequence lock and an LRU clock per set (lookups never write a shared line
// unless they change a row's recency). Callers (emb_cache.cpp) validate every
// argument first; these methods never see an id outside [0, rows).
#pragma once
#include "backend.h"

#include <atomic>

struct rf_emb_cache_s {
    int64_t rows, dim, sets;
    int32_t ways;
    int64_t bytes;
    int64_t *keys;      // [sets * ways], -1 = free
    uint64_t *stamps;   // [sets * ways], the set's clock at last use
    float *data;        // [sets * ways][dim]
    // Per set: a sequence lock (odd while a writer changes the set; readers copy
    // optimistically and retry if it moved) and the set's LRU clock.
    struct alignas(16) Head {
        std::atomic<uint32_t> seq;
        uint32_t pad;
        std::atomic<uint64_t> clock;
    } *heads;           // [sets]
    std::atomic<int64_t> hits{0}, misses{0}, insertions{0}, evictions{0}, updates{0}, erased{0}, used{0};
};

namespace rf {

// Bytes one set occupies (rows, keys, stamps, head), as documented in rankfn.h.
static inline int64_t emb_cache_set_bytes(int64_t dim, int32_t ways) { return int64_t(ways) * (dim * 4 + 16) + 16; }

// Allocate a cache of `sets` sets; nullptr when out of memory.
rf_emb_cache_s *emb_cache_new(int64_t rows, int64_t dim, int64_t sets, int32_t ways);
void emb_cache_delete(rf_emb_cache_s *c);

// Look up ids[i0..i1) (int32 or int64); misses are appended (ascending) to `miss`, returns their count.
int64_t emb_cache_lookup_range(rf_emb_cache_s *c, const void *ids, bool wide, int64_t i0, int64_t i1, float *out,
                               int64_t ldo, int64_t *miss);
// Store one fp32 row under `id`; update_only skips ids that are not cached.
void emb_cache_put(rf_emb_cache_s *c, int64_t id, const float *row, bool update_only);
void emb_cache_erase_one(rf_emb_cache_s *c, int64_t id);
void emb_cache_clear(rf_emb_cache_s *c);

}  // namespace rf
