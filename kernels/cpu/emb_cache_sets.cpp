// Set-associative fp32 row store with LRU eviction inside each set (see emb_cache.h).
//
// Concurrency: writers (insert, erase, clear) hold a set's sequence lock (odd
// value). Lookups take no lock: they read the version, find the key, copy the
// row, and retry if the version changed meanwhile (a seqlock), so concurrent
// batches reading hot rows do not bounce a lock's cache line between cores.
// A hit refreshes the row's LRU stamp only when it is not already the set's
// most recent row (hot rows are hit back to back). Keys, stamps and clocks are
// accessed atomically; row bytes are copied under the version check.
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

inline int64_t load_key(const int64_t &k) { return std::atomic_ref<const int64_t>(k).load(std::memory_order_relaxed); }
inline void store_key(int64_t &k, int64_t v) { std::atomic_ref<int64_t>(k).store(v, std::memory_order_relaxed); }
inline uint64_t load_stamp(const uint64_t &s) { return std::atomic_ref<const uint64_t>(s).load(std::memory_order_relaxed); }
inline void store_stamp(uint64_t &s, uint64_t v) { std::atomic_ref<uint64_t>(s).store(v, std::memory_order_relaxed); }

// Writer side of a set's sequence lock.
struct WriteLock {
    std::atomic<uint32_t> &seq;
    explicit WriteLock(std::atomic<uint32_t> &s) : seq(s) {
        for (;;) {
            uint32_t v = seq.load(std::memory_order_relaxed);
            if ((v & 1) == 0 && seq.compare_exchange_weak(v, v + 1, std::memory_order_acquire)) break;
            RF_SPIN_PAUSE();
        }
        std::atomic_thread_fence(std::memory_order_release);
    }
    ~WriteLock() { seq.fetch_add(1, std::memory_order_release); }
};

inline int find_way(const rf_emb_cache_s *c, int64_t set, int64_t id) {
    const int64_t *k = c->keys + set * c->ways;
    for (int w = 0; w < c->ways; ++w)
        if (load_key(k[w]) == id) return w;
    return -1;
}

// Make `slot` its set's most recent row (skipped when it already is: no shared write).
// A plain load + store, not an atomic increment: two lookups racing on one set
// may give their rows the same stamp, which only blurs the order between those
// two (the LRU is approximate under concurrency; exact for one thread).
inline void touch(rf_emb_cache_s::Head &h, uint64_t &stamp) {
    const uint64_t now = h.clock.load(std::memory_order_relaxed);
    if (load_stamp(stamp) == now) return;
    h.clock.store(now + 1, std::memory_order_relaxed);
    store_stamp(stamp, now + 1);
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
    for (int64_t s = 0; s < sets; ++s) new (&c->heads[s]) rf_emb_cache_s::Head{{0}, 0, {0}};
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
    // Two-stage prefetch: the keys of the set 16 ids ahead, the row of the id 8 ahead
    // (found without the version check: a wrong guess only costs a useless prefetch).
    constexpr int64_t kKeysAhead = 16, kRowAhead = 8;
    int64_t ring[kKeysAhead];
    for (int64_t i = i0; i < i1 && i < i0 + kKeysAhead; ++i) {
        ring[i % kKeysAhead] = set_of(c, id_at(i));
        __builtin_prefetch(c->keys + ring[i % kKeysAhead] * c->ways);
    }
    int64_t misses = 0;
    for (int64_t i = i0; i < i1; ++i) {
        const int64_t id = id_at(i);
        const int64_t set = ring[i % kKeysAhead];
        if (i + kKeysAhead < i1) {
            const int64_t s = set_of(c, id_at(i + kKeysAhead));
            ring[i % kKeysAhead] = s;
            __builtin_prefetch(c->keys + s * c->ways);
            __builtin_prefetch(&c->heads[s]);
        }
        if (i + kRowAhead < i1) {
            const int64_t s = ring[(i + kRowAhead) % kKeysAhead];
            const int w = find_way(c, s, id_at(i + kRowAhead));
            if (w >= 0) {
                const char *row = reinterpret_cast<const char *>(c->data + (s * c->ways + w) * c->dim);
                for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off);
            }
        }
        rf_emb_cache_s::Head &h = c->heads[set];
        int w;
        for (;;) {
            const uint32_t v = h.seq.load(std::memory_order_acquire);
            if (v & 1) {
                RF_SPIN_PAUSE();
                continue;
            }
            w = find_way(c, set, id);
            if (w >= 0) std::memcpy(out + i * ldo, c->data + (set * c->ways + w) * c->dim, row_bytes);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (h.seq.load(std::memory_order_relaxed) == v) break;
        }
        if (w < 0) {
            miss[misses++] = i;
            continue;
        }
        touch(h, c->stamps[set * c->ways + w]);
    }
    c->hits.fetch_add((i1 - i0) - misses, std::memory_order_relaxed);
    c->misses.fetch_add(misses, std::memory_order_relaxed);
    return misses;
}

void emb_cache_put(rf_emb_cache_s *c, int64_t id, const float *row, bool update_only) {
    const int64_t set = set_of(c, id);
    rf_emb_cache_s::Head &h = c->heads[set];
    WriteLock lock(h.seq);
    int w = find_way(c, set, id);
    if (w >= 0) {
        c->updates.fetch_add(1, std::memory_order_relaxed);
    } else {
        if (update_only) return;
        const int64_t *k = c->keys + set * c->ways;
        const uint64_t *st = c->stamps + set * c->ways;
        for (int v = 0; v < c->ways && w < 0; ++v)
            if (load_key(k[v]) < 0) w = v;
        if (w < 0) {
            w = 0;  // every way is taken: the least recently used goes
            for (int v = 1; v < c->ways; ++v)
                if (load_stamp(st[v]) < load_stamp(st[w])) w = v;
            c->evictions.fetch_add(1, std::memory_order_relaxed);
        } else {
            c->used.fetch_add(1, std::memory_order_relaxed);
        }
        store_key(c->keys[set * c->ways + w], id);
        c->insertions.fetch_add(1, std::memory_order_relaxed);
    }
    const int64_t slot = set * c->ways + w;
    std::memcpy(c->data + slot * c->dim, row, size_t(c->dim) * 4);
    store_stamp(c->stamps[slot], h.clock.fetch_add(1, std::memory_order_relaxed) + 1);
}

void emb_cache_erase_one(rf_emb_cache_s *c, int64_t id) {
    const int64_t set = set_of(c, id);
    WriteLock lock(c->heads[set].seq);
    const int w = find_way(c, set, id);
    if (w < 0) return;
    store_key(c->keys[set * c->ways + w], -1);
    store_stamp(c->stamps[set * c->ways + w], 0);
    c->used.fetch_sub(1, std::memory_order_relaxed);
    c->erased.fetch_add(1, std::memory_order_relaxed);
}

void emb_cache_clear(rf_emb_cache_s *c) {
    for (int64_t set = 0; set < c->sets; ++set) {
        WriteLock lock(c->heads[set].seq);
        for (int w = 0; w < c->ways; ++w) {
            int64_t &k = c->keys[set * c->ways + w];
            if (load_key(k) < 0) continue;
            store_key(k, -1);
            store_stamp(c->stamps[set * c->ways + w], 0);
            c->used.fetch_sub(1, std::memory_order_relaxed);
            c->erased.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

}  // namespace rf
