// Set-associative fp32 row store with LRU eviction inside each set (see emb_cache.h).
#include "emb_cache.h"

#include <cstdlib>
#if defined(__x86_64__)
#include <immintrin.h>
#define RF_SPIN_PAUSE() _mm_pause()
#else
#define RF_SPIN_PAUSE() ((void)0)
#endif

namespace rf {
namespace {

// splitmix64 finaliser: consecutive row ids spread over all sets.
inline uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

inline int64_t set_of(const rf_emb_cache_s *c, int64_t id) {
    return int64_t((unsigned __int128)mix(uint64_t(id)) * uint64_t(c->sets) >> 64);
}

struct SetLock {
    std::atomic<uint32_t> &l;
    explicit SetLock(std::atomic<uint32_t> &lock) : l(lock) {
        while (l.exchange(1, std::memory_order_acquire) != 0)
            while (l.load(std::memory_order_relaxed) != 0) RF_SPIN_PAUSE();
    }
    ~SetLock() { l.store(0, std::memory_order_release); }
};

inline int find_way(const rf_emb_cache_s *c, int64_t set, int64_t id) {
    const int64_t *k = c->keys + set * c->ways;
    for (int w = 0; w < c->ways; ++w)
        if (k[w] == id) return w;
    return -1;
}

void *aligned(size_t bytes) {
    void *p = nullptr;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return nullptr;
    return p;
}

}  // namespace

rf_emb_cache_s *emb_cache_new(int64_t rows, int64_t dim, int64_t sets, int32_t ways) {
    auto *c = new (std::nothrow) rf_emb_cache_s();
    if (!c) return nullptr;
    c->rows = rows;
    c->dim = dim;
    c->sets = sets;
    c->ways = ways;
    c->bytes = sets * emb_cache_set_bytes(dim, ways);
    const size_t slots = size_t(sets) * size_t(ways);
    c->keys = static_cast<int64_t *>(aligned(slots * 8));
    c->stamps = static_cast<uint64_t *>(aligned(slots * 8));
    c->data = static_cast<float *>(aligned(slots * size_t(dim) * 4));
    c->heads = static_cast<rf_emb_cache_s::Head *>(aligned(size_t(sets) * sizeof(rf_emb_cache_s::Head)));
    if (!c->keys || !c->stamps || !c->data || !c->heads) {
        emb_cache_delete(c);
        return nullptr;
    }
    for (size_t i = 0; i < slots; ++i) c->keys[i] = -1, c->stamps[i] = 0;
    for (int64_t s = 0; s < sets; ++s) new (&c->heads[s]) rf_emb_cache_s::Head{{0}, 0, 0};
    return c;
}

void emb_cache_delete(rf_emb_cache_s *c) {
    std::free(c->keys);
    std::free(c->stamps);
    std::free(c->data);
    std::free(c->heads);
    delete c;
}

int64_t emb_cache_lookup_range(rf_emb_cache_s *c, const void *ids, bool wide, int64_t i0, int64_t i1, float *out,
                               int64_t ldo, int64_t *miss) {
    const size_t row_bytes = size_t(c->dim) * 4;
    const auto id_at = [&](int64_t i) -> int64_t {
        return wide ? static_cast<const int64_t *>(ids)[i] : static_cast<const int32_t *>(ids)[i];
    };
    int64_t misses = 0;
    constexpr int64_t kAhead = 8;
    for (int64_t i = i0; i < i1; ++i) {
        if (i + kAhead < i1) __builtin_prefetch(c->keys + set_of(c, id_at(i + kAhead)) * c->ways);
        const int64_t id = id_at(i);
        const int64_t set = set_of(c, id);
        rf_emb_cache_s::Head &h = c->heads[set];
        SetLock lock(h.lock);
        const int w = find_way(c, set, id);
        if (w < 0) {
            miss[misses++] = i;
            continue;
        }
        const int64_t slot = set * c->ways + w;
        std::memcpy(out + i * ldo, c->data + slot * c->dim, row_bytes);
        c->stamps[slot] = ++h.clock;
    }
    c->hits.fetch_add((i1 - i0) - misses, std::memory_order_relaxed);
    c->misses.fetch_add(misses, std::memory_order_relaxed);
    return misses;
}

void emb_cache_put(rf_emb_cache_s *c, int64_t id, const float *row, bool update_only) {
    const int64_t set = set_of(c, id);
    rf_emb_cache_s::Head &h = c->heads[set];
    SetLock lock(h.lock);
    int w = find_way(c, set, id);
    if (w >= 0) {
        c->updates.fetch_add(1, std::memory_order_relaxed);
    } else {
        if (update_only) return;
        const int64_t *k = c->keys + set * c->ways;
        const uint64_t *st = c->stamps + set * c->ways;
        for (int v = 0; v < c->ways && w < 0; ++v)
            if (k[v] < 0) w = v;
        if (w < 0) {
            w = 0;  // every way is taken: the least recently used goes
            for (int v = 1; v < c->ways; ++v)
                if (st[v] < st[w]) w = v;
            c->evictions.fetch_add(1, std::memory_order_relaxed);
        } else {
            c->used.fetch_add(1, std::memory_order_relaxed);
        }
        c->keys[set * c->ways + w] = id;
        c->insertions.fetch_add(1, std::memory_order_relaxed);
    }
    const int64_t slot = set * c->ways + w;
    std::memcpy(c->data + slot * c->dim, row, size_t(c->dim) * 4);
    c->stamps[slot] = ++h.clock;
}

void emb_cache_erase_one(rf_emb_cache_s *c, int64_t id) {
    const int64_t set = set_of(c, id);
    SetLock lock(c->heads[set].lock);
    const int w = find_way(c, set, id);
    if (w < 0) return;
    c->keys[set * c->ways + w] = -1;
    c->stamps[set * c->ways + w] = 0;
    c->used.fetch_sub(1, std::memory_order_relaxed);
    c->erased.fetch_add(1, std::memory_order_relaxed);
}

void emb_cache_clear(rf_emb_cache_s *c) {
    for (int64_t set = 0; set < c->sets; ++set) {
        SetLock lock(c->heads[set].lock);
        for (int w = 0; w < c->ways; ++w) {
            int64_t &k = c->keys[set * c->ways + w];
            if (k < 0) continue;
            k = -1;
            c->used.fetch_sub(1, std::memory_order_relaxed);
            c->erased.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

}  // namespace rf
