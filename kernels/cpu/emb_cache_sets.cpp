// Set-associative fp32 row store with LRU eviction inside each set (see emb_cache.h).
//
// Concurrency: writers (insert, erase, clear) hold a set's sequence lock (odd
// value). Lookups take no lock: they read the version, find the key, copy the
// row, and retry if the version changed meanwhile (a seqlock), so concurrent
// batches reading hot rows do not bounce a lock's cache line between cores.
// A hit refreshes the row's LRU stamp only when it is not already the set's
// most recent row (hot rows are hit back to back). Metadata words are accessed
// through std::atomic_ref; row bytes are copied under the version check.
// Clock and stamps are 32-bit: recency compares ages (clock - stamp, modulo 2^32).
#include "emb_cache.h"

#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif
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

// One set's metadata block.
struct Set {
    uint32_t *seq, *clock, *stamps;
    int64_t *keys;
    int ways;
    Set(const rf_emb_cache_s *c, int64_t set) : ways(c->ways) {
        uint8_t *b = c->blocks + set * c->block_bytes;
        seq = reinterpret_cast<uint32_t *>(b);
        clock = reinterpret_cast<uint32_t *>(b + 4);
        keys = reinterpret_cast<int64_t *>(b + 8);
        stamps = reinterpret_cast<uint32_t *>(b + 8 + 8 * ways);
    }
    int64_t key(int w) const { return std::atomic_ref<int64_t>(keys[w]).load(std::memory_order_relaxed); }
    void set_key(int w, int64_t v) { std::atomic_ref<int64_t>(keys[w]).store(v, std::memory_order_relaxed); }
    uint32_t stamp(int w) const { return std::atomic_ref<uint32_t>(stamps[w]).load(std::memory_order_relaxed); }
    void set_stamp(int w, uint32_t v) { std::atomic_ref<uint32_t>(stamps[w]).store(v, std::memory_order_relaxed); }
    uint32_t now() const { return std::atomic_ref<uint32_t>(*clock).load(std::memory_order_relaxed); }
    std::atomic_ref<uint32_t> version() const { return std::atomic_ref<uint32_t>(*seq); }
    int find(int64_t id) const {
        for (int w = 0; w < ways; ++w)
            if (key(w) == id) return w;
        return -1;
    }
    // Make way w the most recent (skipped when it already is: no shared write). A
    // plain load + store, not an atomic increment: lookups racing on one set may
    // give their rows the same stamp (approximate LRU then; exact for one thread).
    void touch(int w) {
        const uint32_t t = now();
        if (stamp(w) == t) return;
        std::atomic_ref<uint32_t>(*clock).store(t + 1, std::memory_order_relaxed);
        set_stamp(w, t + 1);
    }
};

// Writer side of a set's sequence lock.
struct WriteLock {
    std::atomic_ref<uint32_t> seq;
    explicit WriteLock(const Set &s) : seq(s.version()) {
        for (;;) {
            uint32_t v = seq.load(std::memory_order_relaxed);
            if ((v & 1) == 0 && seq.compare_exchange_weak(v, v + 1, std::memory_order_acquire)) break;
            RF_SPIN_PAUSE();
        }
        std::atomic_thread_fence(std::memory_order_release);
    }
    ~WriteLock() { seq.fetch_add(1, std::memory_order_release); }
};

void *aligned(size_t bytes) {
    void *p = nullptr;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return nullptr;
    return p;
}

// A large cache's rows and blocks on 2 MiB pages where the kernel allows it (transparent huge
// pages, madvise mode): a lookup's random rows then cost no page walk each (a 4 KiB TLB covers a
// few MiB only; measured on the hit path at a 1% / 5% budget: +30% lookups/s).
void *aligned_large(size_t bytes) {
    constexpr size_t kHuge = size_t(2) << 20;
    if (bytes < 2 * kHuge) return aligned(bytes);
    void *p = nullptr;
    const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    if (posix_memalign(&p, kHuge, rounded) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded, MADV_HUGEPAGE);  // advice only: 4 KiB pages if refused
#endif
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
    c->block_bytes = emb_cache_block_bytes(ways);
    c->bytes = sets * emb_cache_set_bytes(dim, ways);
    c->blocks = static_cast<uint8_t *>(aligned_large(size_t(sets) * size_t(c->block_bytes)));
    c->data = static_cast<float *>(aligned_large(size_t(sets) * size_t(ways) * size_t(dim) * 4));
    if (!c->blocks || !c->data) {
        emb_cache_delete(c);
        return nullptr;
    }
    std::memset(c->blocks, 0, size_t(sets) * size_t(c->block_bytes));
    for (int64_t s = 0; s < sets; ++s) {
        Set set(c, s);
        for (int w = 0; w < ways; ++w) set.keys[w] = -1;
    }
    return c;
}

void emb_cache_delete(rf_emb_cache_s *c) {
    std::free(c->blocks);
    std::free(c->data);
    delete c;
}

int64_t emb_cache_lookup_range(rf_emb_cache_s *c, const void *ids, bool wide, int64_t i0, int64_t i1, float *out,
                               int64_t ldo, int64_t *miss) {
    const size_t row_bytes = size_t(c->dim) * 4;
    const auto id_at = [&](int64_t i) -> int64_t {
        return wide ? static_cast<const int64_t *>(ids)[i] : static_cast<const int32_t *>(ids)[i];
    };
    const auto prefetch_block = [&](int64_t set) {
        const uint8_t *b = c->blocks + set * c->block_bytes;
        for (int64_t off = 0; off < c->block_bytes; off += 64) __builtin_prefetch(b + off);
    };
    // Two-stage prefetch: the set block 16 ids ahead, the row of the id 8 ahead
    // (found without the version check: a wrong guess only costs a useless prefetch).
    constexpr int64_t kBlockAhead = 16, kRowAhead = 8;
    int64_t ring[kBlockAhead];
    for (int64_t i = i0; i < i1 && i < i0 + kBlockAhead; ++i) prefetch_block(ring[i % kBlockAhead] = set_of(c, id_at(i)));
    int64_t misses = 0;
    for (int64_t i = i0; i < i1; ++i) {
        const int64_t id = id_at(i);
        const int64_t set = ring[i % kBlockAhead];
        if (i + kBlockAhead < i1) prefetch_block(ring[i % kBlockAhead] = set_of(c, id_at(i + kBlockAhead)));
        if (i + kRowAhead < i1) {
            const int64_t s = ring[(i + kRowAhead) % kBlockAhead];
            const int w = Set(c, s).find(id_at(i + kRowAhead));
            if (w >= 0) {
                const char *row = reinterpret_cast<const char *>(c->data + (s * c->ways + w) * c->dim);
                for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off);
            }
        }
        Set s(c, set);
        int w;
        for (;;) {
            const uint32_t v = s.version().load(std::memory_order_acquire);
            if (v & 1) {
                RF_SPIN_PAUSE();
                continue;
            }
            w = s.find(id);
            if (w >= 0) std::memcpy(out + i * ldo, c->data + (set * c->ways + w) * c->dim, row_bytes);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s.version().load(std::memory_order_relaxed) == v) break;
        }
        if (w < 0) {
            miss[misses++] = i;
            continue;
        }
        s.touch(w);
    }
    c->hits.fetch_add((i1 - i0) - misses, std::memory_order_relaxed);
    c->misses.fetch_add(misses, std::memory_order_relaxed);
    return misses;
}

void emb_cache_put(rf_emb_cache_s *c, int64_t id, const float *row, bool update_only) {
    const int64_t set = set_of(c, id);
    Set s(c, set);
    WriteLock lock(s);
    int w = s.find(id);
    if (w >= 0) {
        c->updates.fetch_add(1, std::memory_order_relaxed);
    } else {
        if (update_only) return;
        for (int v = 0; v < c->ways && w < 0; ++v)
            if (s.key(v) < 0) w = v;
        if (w < 0) {
            // Every way is taken: the least recently used (the oldest stamp) goes.
            const uint32_t now = s.now();
            w = 0;
            for (int v = 1; v < c->ways; ++v)
                if (uint32_t(now - s.stamp(v)) > uint32_t(now - s.stamp(w))) w = v;
            c->evictions.fetch_add(1, std::memory_order_relaxed);
        } else {
            c->used.fetch_add(1, std::memory_order_relaxed);
        }
        s.set_key(w, id);
        c->insertions.fetch_add(1, std::memory_order_relaxed);
    }
    std::memcpy(c->data + (set * c->ways + w) * c->dim, row, size_t(c->dim) * 4);
    const uint32_t t = s.now() + 1;
    std::atomic_ref<uint32_t>(*s.clock).store(t, std::memory_order_relaxed);
    s.set_stamp(w, t);
}

void emb_cache_erase_one(rf_emb_cache_s *c, int64_t id) {
    Set s(c, set_of(c, id));
    WriteLock lock(s);
    const int w = s.find(id);
    if (w < 0) return;
    s.set_key(w, -1);
    c->used.fetch_sub(1, std::memory_order_relaxed);
    c->erased.fetch_add(1, std::memory_order_relaxed);
}

void emb_cache_clear(rf_emb_cache_s *c) {
    for (int64_t set = 0; set < c->sets; ++set) {
        Set s(c, set);
        WriteLock lock(s);
        for (int w = 0; w < c->ways; ++w) {
            if (s.key(w) < 0) continue;
            s.set_key(w, -1);
            c->used.fetch_sub(1, std::memory_order_relaxed);
            c->erased.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

}  // namespace rf
