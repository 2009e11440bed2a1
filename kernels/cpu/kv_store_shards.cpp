// The KV store's shards (see kv_store.h and rankfn.h): hash table, entry slots,
// page lists of both tiers, eviction native -> host -> dropped, promotion.
// Allocation is kv_store_alloc.cpp.
//
// Concurrency: writers hold the shard mutex. The table is edited with the
// shard's table_seq odd, an entry's fields and pages with the entry's seq odd;
// lookups on the native tier read both without the lock and retry when a
// sequence number moved (a seqlock, as the embedding hot-row cache's sets).
// Slots and pages are never freed while the store lives, so a stale index read
// by a racing lookup points at valid memory; its sequence check discards what
// it read. Key fields change only inside a table edit, so a lookup that found
// a slot in a validated table and then sees that slot's key under an even seq
// has the right entry. Recency stamps are written without the lock (a racing
// stamp may land on a reused slot: recency is approximate under races).
#include "kv_store.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define RF_KV_PAUSE() _mm_pause()
#else
#define RF_KV_PAUSE() ((void)0)
#endif

namespace rf {
namespace {

template <class T> inline T ld(const T &x) { return std::atomic_ref<T>(const_cast<T &>(x)).load(std::memory_order_relaxed); }
template <class T> inline void put(T &x, T v) { std::atomic_ref<T>(x).store(v, std::memory_order_relaxed); }

// Writer side of a sequence number (the shard lock is held, so writers never race each other).
struct SeqWrite {
    uint32_t &seq;
    explicit SeqWrite(uint32_t &s) : seq(s) {
        std::atomic_ref<uint32_t>(seq).store(seq + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
    }
    ~SeqWrite() { std::atomic_ref<uint32_t>(seq).store(seq + 1, std::memory_order_release); }
};

inline uint32_t seq_begin(const uint32_t &s) { return std::atomic_ref<uint32_t>(const_cast<uint32_t &>(s)).load(std::memory_order_acquire); }
inline bool seq_valid(const uint32_t &s, uint32_t v) {
    std::atomic_thread_fence(std::memory_order_acquire);
    return ld(s) == v;
}

inline uint64_t key_hash(uint64_t version, uint64_t user) { return kv_mix(kv_mix(version ^ 0x632be59bd9b4e019ull) ^ user); }
inline uint64_t bucket_of(const KvShard &s, uint64_t h) { return kv_mix(h + 0x9e3779b97f4a7c15ull) & s.mask; }
inline KvShard &shard_of(rf_kv_store_s *st, uint64_t h) { return st->shard[(unsigned __int128)h * uint64_t(st->shards) >> 64]; }

// Slot of the key in the table, or -1. Without the lock the answer is only
// trusted once table_seq is validated; probes are bounded so a torn table cannot loop.
int32_t table_find(const KvShard &s, uint64_t version, uint64_t user, uint64_t h) {
    uint64_t p = bucket_of(s, h);
    for (uint64_t i = 0; i <= s.mask; ++i, p = (p + 1) & s.mask) {
        const int32_t slot = ld(s.table[p]);
        if (slot < 0 || slot >= s.slots) return -1;
        const KvEntry &e = s.entries[slot];
        if (ld(e.user) == user && ld(e.version) == version && ld(e.tier) != kKvFree) return slot;
    }
    return -1;
}

void table_insert(KvShard &s, int32_t slot, uint64_t h) {
    uint64_t p = bucket_of(s, h);
    while (s.table[p] >= 0) p = (p + 1) & s.mask;
    put(s.table[p], slot);
}

// Backward-shift deletion (linear probing keeps no tombstones).
void table_remove(KvShard &s, int32_t slot) {
    const KvEntry &e = s.entries[slot];
    uint64_t i = bucket_of(s, key_hash(e.version, e.user));
    while (s.table[i] != slot) i = (i + 1) & s.mask;
    for (uint64_t j = i;;) {
        j = (j + 1) & s.mask;
        const int32_t o = s.table[j];
        if (o < 0) break;
        const uint64_t home = bucket_of(s, key_hash(s.entries[o].version, s.entries[o].user));
        // o may move back to i unless its home lies cyclically in (i, j].
        const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            put(s.table[i], o);
            i = j;
        }
    }
    put(s.table[i], int32_t(-1));
}

// A lookup hit or an append: the entry becomes the most recent and gains a use. Plain
// load + store from lock-free readers: racing uses of one entry may count once.
inline void use(KvShard &s, KvEntry &e) {
    put(e.stamp, s.clock.fetch_add(1, std::memory_order_relaxed));
    put(e.priority, ld(e.priority) + 1);
}

int64_t pages_for(const rf_kv_store_s *st, int64_t tokens) { return (tokens + st->cfg.page_tokens - 1) / st->cfg.page_tokens; }

// Decode an entry's pages (tier t, first page `first`) for `len` tokens; false if the chain is torn.
bool read_pages(const KvTier &t, int32_t first, int64_t len, int64_t page_tokens, const KvOutRows &dst, int64_t row0) {
    int32_t p = first;
    for (int64_t done = 0; done < len;) {
        if (p < 0 || p >= t.pages) return false;
        const int64_t n = len - done < page_tokens ? len - done : page_tokens;
        kv_page_decode(t.fmt, t.data + p * t.fmt.bytes, n, dst, row0 + done);
        done += n;
        p = ld(t.next[p]);
    }
    return true;
}

void free_chain(KvTier &t, int32_t first) {
    for (int32_t p = first; p >= 0;) {
        const int32_t nx = t.next[p];
        t.free_pages.push_back(p);
        p = nx;
    }
}

void drop(rf_kv_store_s *, KvShard &s, int32_t slot) {
    KvEntry &e = s.entries[slot];
    SeqWrite table(s.table_seq);
    SeqWrite entry(e.seq);
    table_remove(s, slot);
    KvTier &t = s.tier[e.tier];
    free_chain(t, e.first);
    t.entries--;
    put(e.tier, int32_t(kKvFree));
    s.free_slots.push_back(slot);
}

// Move an entry's pages into tier `to` (pages already free there), converting through fp32.
void convert_pages(rf_kv_store_s *st, KvShard &s, int32_t slot, int to) {
    KvEntry &e = s.entries[slot];
    KvTier &src = s.tier[e.tier], &dst = s.tier[to];
    const int64_t P = st->cfg.page_tokens, w = st->width, L = st->cfg.layers;
    std::vector<float> scratch(size_t(2 * L * P * w));
    const KvOutRows out{scratch.data(), scratch.data() + L * P * w, w, P * w};
    const KvRows in{out.k, out.v, w, P * w};
    SeqWrite entry(e.seq);
    int32_t first = -1, prev = -1;
    int64_t done = 0;
    for (int32_t p = e.first; p >= 0; p = src.next[p]) {
        const int64_t n = e.len - done < P ? e.len - done : P;
        kv_page_decode(src.fmt, src.data + p * src.fmt.bytes, n, out, 0);
        const int32_t q = dst.free_pages.back();
        dst.free_pages.pop_back();
        kv_page_encode(dst.fmt, dst.data + q * dst.fmt.bytes, 0, n, in, 0);
        put(dst.next[q], int32_t(-1));
        if (prev >= 0) put(dst.next[prev], q);
        else first = q;
        prev = q;
        done += n;
    }
    free_chain(src, e.first);
    src.entries--;
    dst.entries++;
    put(e.first, first);
    put(e.last, prev);
    put(e.tier, int32_t(to));
}

bool make_room(rf_kv_store_s *st, KvShard &s, int t, int64_t n, int32_t exclude);

// The native tier's LRU entry leaves: to the host tier when it fits there, else dropped.
void evict(rf_kv_store_s *st, KvShard &s, int32_t slot, int32_t exclude) {
    KvEntry &e = s.entries[slot];
    if (e.tier == kKvHost) {
        st->host_evictions.fetch_add(1, std::memory_order_relaxed);
        drop(st, s, slot);
        return;
    }
    st->evictions.fetch_add(1, std::memory_order_relaxed);
    if (st->has_host && e.pages <= s.tier[kKvHost].pages && make_room(st, s, kKvHost, e.pages, exclude)) convert_pages(st, s, slot, kKvHost);
    else drop(st, s, slot);
}

// Free at least n pages of tier t by evicting its least recently used entries (never `exclude`).
bool make_room(rf_kv_store_s *st, KvShard &s, int t, int64_t n, int32_t exclude) {
    KvTier &tier = s.tier[t];
    while (int64_t(tier.free_pages.size()) < n) {
        const bool lfu = st->cfg.eviction == RF_KV_EVICT_LFU_DA;
        int32_t victim = -1;
        uint64_t best = UINT64_MAX;
        for (int32_t i = 0; i < s.slots; ++i) {
            const KvEntry &e = s.entries[i];
            if (e.tier != t || i == exclude) continue;
            // LRU: the oldest stamp. LFU-DA: the lowest priority, then the oldest stamp's low 32 bits
            // (they wrap after 2^32 uses of a shard: only the order of ties can suffer).
            const uint64_t stamp = ld(e.stamp), key = lfu ? (uint64_t(ld(e.priority)) << 32) | (stamp & 0xffffffffu) : stamp;
            if (key < best) best = key, victim = i;
        }
        if (victim < 0) return false;
        if (lfu && t == kKvNative && ld(s.entries[victim].priority) > s.age) s.age = ld(s.entries[victim].priority);
        evict(st, s, victim, exclude);
    }
    return true;
}

// Host -> native for an entry that was hit or is being extended; false when it cannot fit.
bool promote(rf_kv_store_s *st, KvShard &s, int32_t slot) {
    KvEntry &e = s.entries[slot];
    if (e.pages > s.tier[kKvNative].pages || !make_room(st, s, kKvNative, e.pages, slot)) return false;
    convert_pages(st, s, slot, kKvNative);
    return true;
}

// Write tokens [start, start + count) of an entry whose pages for them are free in the native tier.
void write_tokens(rf_kv_store_s *st, KvShard &s, KvEntry &e, int64_t start, int64_t count, const KvRows &src, int64_t row0) {
    KvTier &t = s.tier[kKvNative];
    const int64_t P = st->cfg.page_tokens;
    int64_t done = 0;
    if (start % P != 0) {  // the tail of the last page first
        const int64_t t0 = start % P, n = count < P - t0 ? count : P - t0;
        kv_page_encode(t.fmt, t.data + e.last * t.fmt.bytes, t0, n, src, row0);
        done = n;
    }
    while (done < count) {
        const int64_t n = count - done < P ? count - done : P;
        const int32_t q = t.free_pages.back();
        t.free_pages.pop_back();
        kv_page_encode(t.fmt, t.data + q * t.fmt.bytes, 0, n, src, row0 + done);
        put(t.next[q], int32_t(-1));
        if (e.last >= 0) put(t.next[e.last], q);
        else put(e.first, q);
        put(e.last, q);
        put(e.pages, e.pages + 1);
        done += n;
    }
    put(e.len, start + count);
}

}  // namespace

int64_t kv_store_lookup_one(rf_kv_store_s *st, uint64_t version, uint64_t user, int64_t n_hist, const uint64_t *hist_fp,
                            const KvOutRows *dst, int64_t row0) {
    const uint64_t h = key_hash(version, user);
    KvShard &s = shard_of(st, h);
    const auto fits = [&](int64_t len, uint64_t fp) { return len <= n_hist && hist_fp[len - 1] == fp; };
    const auto hit = [&](int64_t len, bool host) {
        st->hits.fetch_add(1, std::memory_order_relaxed);
        st->tokens_reused.fetch_add(len, std::memory_order_relaxed);
        if (host) st->host_hits.fetch_add(1, std::memory_order_relaxed);
        return len;
    };
    // Lock-free path: a native-tier entry whose fingerprint matches.
    for (;;) {
        const uint32_t tv = seq_begin(s.table_seq);
        if (tv & 1) {
            RF_KV_PAUSE();
            continue;
        }
        const int32_t slot = table_find(s, version, user, h);
        if (!seq_valid(s.table_seq, tv)) continue;
        if (slot < 0) {
            st->misses.fetch_add(1, std::memory_order_relaxed);
            return 0;
        }
        KvEntry &e = s.entries[slot];
        const uint32_t ev = seq_begin(e.seq);
        if (ev & 1) {
            RF_KV_PAUSE();
            continue;
        }
        const bool same = ld(e.user) == user && ld(e.version) == version;
        const int32_t tier = ld(e.tier), first = ld(e.first);
        const int64_t len = ld(e.len);
        const uint64_t fp = ld(e.fp);
        if (!same || tier == kKvFree) continue;  // the slot changed hands after the table read
        if (tier != kKvNative || len < 1 || !fits(len, fp)) {
            if (!seq_valid(e.seq, ev)) continue;
            break;  // a host-tier entry or a mismatch: the locked path
        }
        if (dst && !read_pages(s.tier[kKvNative], first, len, st->cfg.page_tokens, *dst, row0)) continue;
        if (!seq_valid(e.seq, ev)) continue;
        use(s, e);
        return hit(len, false);
    }
    std::lock_guard<std::mutex> guard(s.lock);
    const int32_t slot = table_find(s, version, user, h);
    if (slot < 0) {
        st->misses.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    KvEntry &e = s.entries[slot];
    if (!fits(e.len, e.fp)) {
        st->mismatches.fetch_add(1, std::memory_order_relaxed);
        st->misses.fetch_add(1, std::memory_order_relaxed);
        drop(st, s, slot);
        return 0;
    }
    const bool host = e.tier == kKvHost;
    if (dst) read_pages(s.tier[e.tier], e.first, e.len, st->cfg.page_tokens, *dst, row0);
    if (host) promote(st, s, slot);
    use(s, e);
    return hit(e.len, host);
}

bool kv_store_append_one(rf_kv_store_s *st, uint64_t version, const rf_kv_append_t &item, const KvRows &src) {
    st->tokens_computed.fetch_add(item.count, std::memory_order_relaxed);
    const uint64_t h = key_hash(version, item.user);
    KvShard &s = shard_of(st, h);
    std::lock_guard<std::mutex> guard(s.lock);
    const auto skip = [&] {
        st->appends_skipped.fetch_add(1, std::memory_order_relaxed);
        return false;
    };
    int32_t slot = table_find(s, version, item.user, h);
    const int64_t total = pages_for(st, item.start + item.count);
    if (item.start == 0) {
        if (slot >= 0) drop(st, s, slot);
        if (total > s.tier[kKvNative].pages || !make_room(st, s, kKvNative, total, -1)) return skip();
        slot = s.free_slots.back();
        s.free_slots.pop_back();
        KvEntry &e = s.entries[slot];
        {
            SeqWrite table(s.table_seq);
            SeqWrite entry(e.seq);
            put(e.version, version);
            put(e.user, item.user);
            put(e.first, int32_t(-1));
            put(e.last, int32_t(-1));
            put(e.pages, int32_t(0));
            put(e.len, int64_t(0));
            write_tokens(st, s, e, 0, item.count, src, item.src_row);
            put(e.fp, item.fp);
            put(e.tier, int32_t(kKvNative));
            table_insert(s, slot, h);
        }
        s.tier[kKvNative].entries++;
        put(e.priority, s.age);
        use(s, e);
        return true;
    }
    if (slot < 0) return skip();
    KvEntry &e = s.entries[slot];
    if (e.len != item.start || e.fp != item.prefix_fp || total > s.tier[kKvNative].pages) return skip();
    if (e.tier == kKvHost && !promote(st, s, slot)) return skip();
    if (!make_room(st, s, kKvNative, total - e.pages, slot)) return skip();
    {
        SeqWrite entry(e.seq);
        write_tokens(st, s, e, item.start, item.count, src, item.src_row);
        put(e.fp, item.fp);
    }
    use(s, e);
    return true;
}

void kv_store_erase_one(rf_kv_store_s *st, uint64_t version, uint64_t user) {
    const uint64_t h = key_hash(version, user);
    KvShard &s = shard_of(st, h);
    std::lock_guard<std::mutex> guard(s.lock);
    const int32_t slot = table_find(s, version, user, h);
    if (slot >= 0) drop(st, s, slot);
}

void kv_store_erase_version(rf_kv_store_s *st, uint64_t version) {
    for (int32_t i = 0; i < st->shards; ++i) {
        KvShard &s = st->shard[i];
        std::lock_guard<std::mutex> guard(s.lock);
        for (int32_t k = 0; k < s.slots; ++k)
            if (s.entries[k].tier != kKvFree && s.entries[k].version == version) drop(st, s, k);
    }
}

}  // namespace rf
