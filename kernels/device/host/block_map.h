// The rf_malloc blocks of a device library, by start address, so an op finds
// the block holding any address it is given (an argument may point inside
// one). Block is the backend's record, with `host` (the start address) and
// `bytes`. Thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>

namespace rf {

template <class Block> class BlockMap {
public:
    void add(const Block &b) {
        std::lock_guard<std::mutex> lock(mutex_);
        blocks_[uintptr_t(b.host)] = b;
    }
    // Remove the block starting exactly at p into *out; false when no block starts there.
    bool remove(const void *p, Block *out) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = blocks_.find(uintptr_t(p));
        if (it == blocks_.end()) return false;
        *out = it->second;
        blocks_.erase(it);
        return true;
    }
    // The block holding address p, if any (true when found).
    bool find(const void *p, Block *out) const {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = blocks_.upper_bound(uintptr_t(p));
        if (it == blocks_.begin()) return false;
        --it;
        const Block &b = it->second;
        if (uintptr_t(p) >= uintptr_t(b.host) + b.bytes) return false;
        *out = b;
        return true;
    }

private:
    mutable std::mutex mutex_;
    std::map<uintptr_t, Block> blocks_;
};

}  // namespace rf
