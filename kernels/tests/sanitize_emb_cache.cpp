// Sanitizer cases for rf_emb_cache_*: fill, evict, look up from four threads at
// once while a fifth inserts, and bad arguments that must come back as statuses.
#include "sanitize.h"

#include <thread>

using namespace sanitize;

SANITIZE_CASE(emb_cache) {
    int failed = 0;
    const int64_t rows = 5000, dim = 19;
    rf_emb_cache c = nullptr;
    failed += expect_status("create", rf_emb_cache_create(0, rows, dim, 64 * 1024, 4, &c), RF_OK);
    if (!c) return failed + 1;
    // Row r holds r + c / 100: a torn or misplaced row is visible.
    auto row_of = [&](int64_t r, float *out) { for (int64_t k = 0; k < dim; ++k) out[k] = float(r) + float(k) / 100.f; };
    std::vector<int64_t> ids(rows);
    std::vector<float> data(rows * dim);
    for (int64_t r = 0; r < rows; ++r) ids[r] = r, row_of(r, data.data() + r * dim);
    failed += expect_status("insert", rf_emb_cache_insert(c, rows, ids.data(), RF_I64, data.data(), RF_F32, 0), RF_OK);
    std::vector<int> bad(5, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::vector<int64_t> q(3000), miss(3000);
            std::vector<float> out(3000 * dim, -1.f), want(dim);
            for (int it = 0; it < 20; ++it) {
                for (size_t i = 0; i < q.size(); ++i) q[i] = int64_t((i * 7919 + it * 31 + t) % rows);
                int64_t nm = 0;
                if (rf_emb_cache_lookup(c, int64_t(q.size()), q.data(), RF_I64, out.data(), dim, miss.data(), &nm) != RF_OK) bad[t]++;
                size_t m = 0;
                for (size_t i = 0; i < q.size(); ++i) {
                    if (m < size_t(nm) && miss[m] == int64_t(i)) { ++m; continue; }
                    row_of(q[i], want.data());
                    for (int64_t k = 0; k < dim; ++k) bad[t] += out[i * dim + k] != want[k];
                }
            }
        });
    threads.emplace_back([&] {
        for (int it = 0; it < 5; ++it)
            if (rf_emb_cache_insert(c, rows, ids.data(), RF_I64, data.data(), RF_F32, it & 1) != RF_OK) bad[4]++;
    });
    for (auto &t : threads) t.join();
    for (int b : bad) failed += b != 0;
    rf_emb_cache_stats_t st{};
    failed += expect_status("stats", rf_emb_cache_stats(c, &st, 0), RF_OK);
    if (st.used_rows > st.capacity_rows || st.hits + st.misses != 4 * 20 * 3000) ++failed;
    // Bad arguments.
    int64_t bad_id = rows, nm = 0;
    float out[dim];
    failed += expect_status("lookup id past table", rf_emb_cache_lookup(c, 1, &bad_id, RF_I64, out, dim, &nm, &nm), RF_ERR_OUT_OF_RANGE);
    int32_t neg = -1;
    failed += expect_status("insert negative id", rf_emb_cache_insert(c, 1, &neg, RF_I32, out, RF_F32, 0), RF_ERR_OUT_OF_RANGE);
    failed += expect_status("lookup null out", rf_emb_cache_lookup(c, 1, ids.data(), RF_I64, nullptr, dim, &nm, &nm), RF_ERR_INVALID_ARG);
    failed += expect_status("lookup null cache", rf_emb_cache_lookup(nullptr, 1, ids.data(), RF_I64, out, dim, &nm, &nm), RF_ERR_INVALID_ARG);
    failed += expect_status("insert bad dtype", rf_emb_cache_insert(c, 1, ids.data(), RF_I64, out, RF_I32, 0), RF_ERR_INVALID_ARG);
    rf_emb_cache tiny = nullptr;
    failed += expect_status("budget too small", rf_emb_cache_create(0, rows, dim, 10, 4, &tiny), RF_ERR_INVALID_ARG);
    failed += expect_status("clear", rf_emb_cache_erase(c, -1, nullptr, 0), RF_OK);
    failed += expect_status("destroy", rf_emb_cache_destroy(c), RF_OK);
    return failed;
}
