// Sanitizer cases for rf_kv_store_*: fill past both tiers' budgets (native ->
// host -> dropped), look up from three threads at once while a fourth appends,
// restarts and erases, every dtype pair, and bad arguments that must come back
// as statuses.
#include "sanitize.h"

#include <algorithm>
#include <thread>

using namespace sanitize;

namespace {

constexpr int32_t kLayers = 2, kHeads = 2, kDim = 5, kWidth = kHeads * kDim, kMaxLen = 40, kUsers = 16;

float value(int64_t u, int64_t p, int64_t l, int kv, int64_t c) { return float((u * 131 + p * 17 + l * 7 + kv * 3 + c) % 1000) / 500.f - 1.f; }

// Full-length deterministic histories of users[0..n): offsets and fingerprints.
void histories(const std::vector<uint64_t> &users, std::vector<int64_t> &off, std::vector<uint64_t> &fp) {
    const size_t n = users.size();
    off.assign(n + 1, 0);
    std::vector<int64_t> ids(n * kMaxLen), ts(n * kMaxLen);
    for (size_t b = 0; b < n; ++b) {
        off[b + 1] = int64_t(b + 1) * kMaxLen;
        for (int64_t i = 0; i < kMaxLen; ++i) ids[b * kMaxLen + i] = int64_t(users[b]) * 1000 + i, ts[b * kMaxLen + i] = i;
    }
    fp.assign(n * kMaxLen, 0);
    rf_kv_store_fingerprint(int64_t(n), off.data(), ids.data(), ts.data(), fp.data());
}

int run_pair(int32_t dtype, int32_t host_dtype) {
    int failed = 0;
    rf_kv_store_config_t cfg{kLayers, kHeads, kDim, 4, dtype, host_dtype, 2, 0, 40000, 60000};
    rf_kv_store st = nullptr;
    failed += expect_status("create", rf_kv_store_create(0, &cfg, &st), RF_OK);
    if (!st) return failed + 1;
    // Lossy tiers: each move between tiers re-encodes (errors add up; the TS tests check the exact bounds).
    const float tol = dtype == RF_F32 && host_dtype == RF_F32 ? 0.f : 0.05f;
    const int64_t stride = 8 * kMaxLen * kWidth;
    std::vector<int> bad(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&, t] {
            std::vector<float> k(size_t(kLayers * stride)), v(k.size());
            std::vector<int64_t> off, len(8);
            std::vector<uint64_t> fp, users(8);
            for (int it = 0; it < 60; ++it) {
                for (int b = 0; b < 8; ++b) users[b] = uint64_t((b * 7 + it * 5 + t * 3) % kUsers);
                histories(users, off, fp);
                if (rf_kv_store_lookup(st, 1, 8, users.data(), off.data(), fp.data(), k.data(), v.data(), kWidth, stride, off.data(), len.data()) != RF_OK) bad[t]++;
                for (int b = 0; b < 8; ++b) {
                    if (len[b] < 0 || len[b] > kMaxLen) { bad[t]++; continue; }
                    for (int64_t p = 0; p < len[b]; ++p)
                        for (int64_t l = 0; l < kLayers; ++l)
                            for (int64_t c = 0; c < kWidth; ++c) {
                                const int64_t at = l * stride + (b * kMaxLen + p) * kWidth + c;
                                bad[t] += !(std::fabs(k[at] - value(users[b], p, l, 0, c)) <= tol) + !(std::fabs(v[at] - value(users[b], p, l, 1, c)) <= tol);
                            }
                }
            }
        });
    threads.emplace_back([&] {
        std::vector<float> k(size_t(kLayers * kMaxLen * kWidth)), v(k.size());
        std::vector<int64_t> off, len(1);
        std::vector<uint64_t> fp, users(1);
        for (int it = 0; it < 400; ++it) {
            users[0] = uint64_t((it * 11) % kUsers);
            histories(users, off, fp);
            if (rf_kv_store_lookup(st, 1, 1, users.data(), off.data(), fp.data(), nullptr, nullptr, kWidth, 0, nullptr, len.data()) != RF_OK) bad[3]++;
            if (it % 17 == 0) { rf_kv_store_erase(st, 1, 1, users.data()); continue; }
            const int64_t start = it % 13 == 0 || len[0] >= kMaxLen ? 0 : len[0];
            const int64_t count = std::min<int64_t>(kMaxLen - start, 1 + it % 9);
            for (int64_t p = start; p < start + count; ++p)
                for (int64_t l = 0; l < kLayers; ++l)
                    for (int64_t c = 0; c < kWidth; ++c)
                        k[(l * kMaxLen + p) * kWidth + c] = value(users[0], p, l, 0, c), v[(l * kMaxLen + p) * kWidth + c] = value(users[0], p, l, 1, c);
            rf_kv_append_t item{users[0], start, count, start, start > 0 ? fp[start - 1] : 0, fp[start + count - 1]};
            int32_t stored = -1;
            if (rf_kv_store_append(st, 1, 1, &item, k.data(), v.data(), kWidth, kMaxLen * kWidth, &stored) != RF_OK || stored < 0) bad[3]++;
        }
    });
    for (auto &t : threads) t.join();
    for (int b : bad) failed += b != 0;
    rf_kv_store_stats_t s{};
    failed += expect_status("stats", rf_kv_store_stats(st, &s, 0), RF_OK);
    if (s.hits + s.misses != 3 * 60 * 8 + 400 || s.mismatches != 0 || s.bytes_used > s.pages * s.page_bytes || s.bytes > cfg.budget_bytes) {
        std::printf("  FAIL stats: hits %lld misses %lld mismatches %lld\n", (long long)s.hits, (long long)s.misses, (long long)s.mismatches);
        ++failed;
    }
    failed += expect_status("erase version", rf_kv_store_erase(st, 1, -1, nullptr), RF_OK);
    failed += expect_status("stats after erase", rf_kv_store_stats(st, &s, 1), RF_OK);
    failed += s.entries != 0 || s.host_entries != 0;
    failed += expect_status("destroy", rf_kv_store_destroy(st), RF_OK);
    return failed;
}

}  // namespace

SANITIZE_CASE(kv_store) {
    int failed = 0;
    const int32_t pairs[][2] = {{RF_F32, RF_F32}, {RF_BF16, RF_I8}, {RF_I8, RF_BF16}};
    for (const auto &p : pairs) failed += run_pair(p[0], p[1]);
    // Bad arguments.
    rf_kv_store_config_t cfg{kLayers, kHeads, kDim, 4, RF_F32, RF_F32, 1, 0, 100, 0};
    rf_kv_store st = nullptr;
    failed += expect_status("budget too small", rf_kv_store_create(0, &cfg, &st), RF_ERR_INVALID_ARG);
    cfg.budget_bytes = 1 << 16;
    cfg.dtype = RF_I32;
    failed += expect_status("bad dtype", rf_kv_store_create(0, &cfg, &st), RF_ERR_INVALID_ARG);
    cfg.dtype = RF_F32;
    failed += expect_status("create", rf_kv_store_create(0, &cfg, &st), RF_OK);
    if (!st) return failed + 1;
    uint64_t user = 1, fp[3] = {1, 2, 3};
    int64_t off[2] = {0, 3}, small[2] = {0, 2}, len = 0;
    float k[3 * kWidth], v[3 * kWidth];
    failed += expect_status("room < history", rf_kv_store_lookup(st, 1, 1, &user, off, fp, k, v, kWidth, 0, small, &len), RF_ERR_INVALID_ARG);
    failed += expect_status("k without v", rf_kv_store_lookup(st, 1, 1, &user, off, fp, k, nullptr, kWidth, 0, off, &len), RF_ERR_INVALID_ARG);
    failed += expect_status("null store", rf_kv_store_lookup(nullptr, 1, 1, &user, off, fp, nullptr, nullptr, kWidth, 0, nullptr, &len), RF_ERR_INVALID_ARG);
    rf_kv_append_t item{1, 0, 0, 0, 0, 3};
    failed += expect_status("zero count", rf_kv_store_append(st, 1, 1, &item, k, v, kWidth, 0, nullptr), RF_ERR_INVALID_ARG);
    item.count = 3;
    failed += expect_status("ld too small", rf_kv_store_append(st, 1, 1, &item, k, v, kWidth - 1, 0, nullptr), RF_ERR_INVALID_ARG);
    failed += expect_status("append", rf_kv_store_append(st, 1, 1, &item, k, v, kWidth, 0, nullptr), RF_OK);
    failed += expect_status("lookup", rf_kv_store_lookup(st, 1, 1, &user, off, fp, k, v, kWidth, 0, off, &len), RF_OK);
    failed += len != 3;
    failed += expect_status("destroy", rf_kv_store_destroy(st), RF_OK);
    return failed;
}
