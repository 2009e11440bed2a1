// The set-associative store behind rf_emb_cache_*: fixed slots of fp32 rows
// plus one metadata block per set — sequence lock, LRU clock, keys and stamps
// side by side (two adjacent cache lines for 8 ways), so a lookup touches the
// block and the row, nothing else. Lookups never write a shared line unless
// they change a row's recency. Callers (emb_cache.cpp) validate every argument
// first; these functions never see an id outside [0, rows).
#pragma once
#include "backend.h"

#include <atomic>

struct rf_emb_cache_s {
    int64_t rows, dim, sets;
    int32_t ways;
    int64_t block_bytes;  // one set's metadata block, a multiple of 64
    int64_t bytes;
    // [sets][block_bytes]: u32 seq (odd while a writer holds the set), u32 clock,
    // i64 keys[ways] (-1 = free), u32 stamps[ways] (the clock at the slot's last use)
    uint8_t *blocks;
    float *data;          // [sets * ways][dim]
    std::atomic<int64_t> hits{0}, misses{0}, insertions{0}, evictions{0}, updates{0}, erased{0}, used{0};
};

namespace rf {

// Bytes of one set's metadata block: seq + clock, keys, stamps, rounded up to a cache line.
static inline int64_t emb_cache_block_bytes(int32_t ways) { return (8 + 12 * int64_t(ways) + 63) / 64 * 64; }

// Bytes one set occupies (its block and its rows), as documented in rankfn.h.
static inline int64_t emb_cache_set_bytes(int64_t dim, int32_t ways) { return emb_cache_block_bytes(ways) + int64_t(ways) * dim * 4; }

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
