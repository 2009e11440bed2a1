// Embedding-bag bandwidth benchmark: 26 DLRM-v2-shaped tables (MLPerf bag
// sizes), dim 128, uniform or Zipf ids over tables totalling ~3 GB (cold rows:
// far beyond L3), timed through rf_embedding_bags, against a plain streaming
// read of a 2 GB buffer with the same thread counts. GB/s counts the bytes of
// the table rows touched (num_ids x row bytes) per second.
//
// Build (after `bun kernels/build.ts`), from the repository root:
//   g++ -O2 -std=c++20 -march=native -pthread kernels/tests/embedding_bench.cpp \
//       -Lkernels/build -lrankfn_cpu -Wl,-rpath,$PWD/kernels/build -o kernels/build/embedding_bench
// Run:
//   kernels/build/embedding_bench [table_gb=3] [batch=4096] [dtype f32|f16|bf16|u8q] [uniform|zipf] [iters=10] [huge|small]
// "huge" (default) asks for transparent huge pages on the tables (madvise), "small" keeps 4 KB pages.
#include "../include/rankfn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>
#include <sys/mman.h>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Streaming read of buf with `threads` threads; best of 3, GB/s.
static double stream_read(const std::vector<uint64_t> &buf, int threads) {
    double best = 0;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < 3; ++rep) {
        std::vector<std::thread> ts;
        std::vector<uint64_t> sums(size_t(threads) * 8);
        double t0 = now();
        size_t per = buf.size() / size_t(threads);
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&, t] {
                const uint64_t *p = buf.data() + per * size_t(t);
                uint64_t a[8] = {};
                for (size_t i = 0; i + 8 <= per; i += 8)
                    for (int k = 0; k < 8; ++k) a[k] ^= p[i + k];
                for (int k = 0; k < 8; ++k) sums[size_t(t) * 8] ^= a[k];
            });
        for (auto &t : ts) t.join();
        double dt = now() - t0;
        for (auto s : sums) sink = sink ^ s;
        best = std::max(best, double(per * size_t(threads) * 8) / dt / 1e9);
    }
    return best;
}

// Random-row read with `threads` threads: the same rows (ids) the bags touch, read and
// xor-folded with no pooling, no output and no library: the machine's random-access ceiling.
static double random_rows(const std::vector<const uint8_t *> &rows, int64_t row_bytes, int threads) {
    double best = 0;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < 3; ++rep) {
        std::vector<std::thread> ts;
        std::vector<uint64_t> sums(size_t(threads) * 8);
        double t0 = now();
        size_t per = rows.size() / size_t(threads);
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&, t] {
                uint64_t a[8] = {};
                for (size_t r = per * size_t(t); r < per * size_t(t + 1); ++r) {
                    const uint64_t *p = reinterpret_cast<const uint64_t *>(rows[r]);
                    for (int64_t i = 0; i + 8 <= row_bytes / 8; i += 8)
                        for (int k = 0; k < 8; ++k) a[k] ^= p[i + k];
                }
                for (int k = 0; k < 8; ++k) sums[size_t(t) * 8] ^= a[k];
            });
        for (auto &t : ts) t.join();
        double dt = now() - t0;
        for (auto s : sums) sink = sink ^ s;
        best = std::max(best, double(per * size_t(threads) * size_t(row_bytes)) / dt / 1e9);
    }
    return best;
}

int main(int argc, char **argv) {
    double table_gb = argc > 1 ? std::atof(argv[1]) : 3.0;
    int64_t batch = argc > 2 ? std::atoll(argv[2]) : 4096;
    std::string dt = argc > 3 ? argv[3] : "f32";
    bool zipf = argc > 4 && std::string(argv[4]) == "zipf";
    int iters = argc > 5 ? std::atoi(argv[5]) : 10;
    bool huge = !(argc > 6 && std::string(argv[6]) == "small");
    const int dtype = dt == "f16" ? RF_F16 : dt == "bf16" ? RF_BF16 : dt == "u8q" ? RF_U8Q : RF_F32;
    const int64_t dim = 128;
    const int64_t row_bytes = dtype == RF_F32 ? dim * 4 : dtype == RF_U8Q ? dim + 4 : dim * 2;
    static const int bag[26] = {3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1};
    const int nt = 26;
    const int64_t rows = int64_t(table_gb * 1e9 / nt / double(row_bytes));

    std::printf("tables: %d x %lld rows x dim %lld (%s, %.2f GB total, %s pages), batch %lld, %s ids\n", nt, (long long)rows,
                (long long)dim, dt.c_str(), double(rows * row_bytes * nt) / 1e9, huge ? "huge" : "4 KB", (long long)batch,
                zipf ? "zipf" : "uniform");
    struct Table {
        uint8_t *p = nullptr;
        size_t n = 0;
        uint8_t *data() { return p; }
        size_t size() const { return n; }
        uint8_t &operator[](size_t i) { return p[i]; }
    };
    std::vector<Table> tables(nt);
    for (auto &t : tables) {
        t.n = size_t(rows * row_bytes);
        t.p = static_cast<uint8_t *>(std::aligned_alloc(1 << 21, (t.n + (1 << 21) - 1) & ~size_t((1 << 21) - 1)));
        if (huge) madvise(t.p, t.n, MADV_HUGEPAGE);
        for (size_t i = 0; i < t.size(); i += 4096) t[i] = uint8_t(i);  // touch every page
        if (dtype == RF_U8Q)
            for (int64_t r = 0; r < rows; ++r) {
                uint16_t s = 0x1c00, b = 0;  // scale 2^-8
                std::memcpy(&t[size_t(r * row_bytes + dim)], &s, 2);
                std::memcpy(&t[size_t(r * row_bytes + dim + 2)], &b, 2);
            }
    }
    // Ids: uniform, or Zipf(1.05) over a random permutation of rows (sampled by inverse CDF on a coarse grid).
    std::mt19937_64 rng(1);
    std::vector<std::vector<int64_t>> ids(nt), offsets(nt);
    int64_t total_ids = 0;
    for (int t = 0; t < nt; ++t) {
        offsets[t].push_back(0);
        for (int64_t b = 0; b < batch; ++b) {
            for (int k = 0; k < bag[t]; ++k) {
                int64_t id;
                if (zipf) {
                    double u = std::uniform_real_distribution<double>(0, 1)(rng);
                    // continuous approximation of Zipf(s) rank: r = N^u-ish for s ~ 1
                    id = int64_t(std::pow(double(rows), u)) - 1;
                    id = int64_t((uint64_t(id) * 0x9E3779B97F4A7C15ull) % uint64_t(rows));  // scatter hot ranks
                } else {
                    id = int64_t(rng() % uint64_t(rows));
                }
                ids[t].push_back(id);
            }
            offsets[t].push_back(int64_t(ids[t].size()));
        }
        total_ids += int64_t(ids[t].size());
    }
    std::vector<float> out(size_t(batch * nt * dim));
    std::vector<rf_bag_table_t> desc(nt);
    for (int t = 0; t < nt; ++t)
        desc[t] = rf_bag_table_t{tables[t].data(), ids[t].data(), offsets[t].data(), nullptr, out.data() + t * dim, rows, dim,
                                 int64_t(ids[t].size()), nt * dim, dtype, RF_I64, RF_POOL_SUM, 0};
    const double touched = double(total_ids * row_bytes);

    std::vector<uint64_t> big(size_t(2e9 / 8), 1);
    for (int threads : {1, 2}) {
        rf_set_num_threads(threads);
        if (rf_embedding_bags(nullptr, nt, desc.data(), batch) != RF_OK) {
            std::printf("error: %s\n", rf_last_error());
            return 1;
        }
        std::vector<double> times;
        for (int it = 0; it < iters; ++it) {
            // Re-randomise which rows are touched so each call is (mostly) cold: rotate the ids.
            for (int t = 0; t < nt; ++t)
                for (auto &id : ids[t]) id = (id + rows / 3 + 12345) % rows;
            double t0 = now();
            rf_embedding_bags(nullptr, nt, desc.data(), batch);
            times.push_back(now() - t0);
        }
        std::sort(times.begin(), times.end());
        double med = times[times.size() / 2];
        double sr = stream_read(big, threads);
        std::vector<const uint8_t *> touched_rows;
        for (int t = 0; t < nt; ++t)
            for (auto id : ids[t]) touched_rows.push_back(tables[t].data() + id * row_bytes);
        std::shuffle(touched_rows.begin(), touched_rows.end(), rng);
        double rr = random_rows(touched_rows, row_bytes, threads);
        std::printf("threads %d: embedding_bags %.2f ms median (%lld ids, %.1f MB rows): %.2f GB/s | streaming read %.2f GB/s"
                    " (%.0f%%) | random-row read %.2f GB/s (%.0f%%)\n",
                    threads, med * 1e3, (long long)total_ids, touched / 1e6, touched / med / 1e9, sr,
                    100.0 * touched / med / 1e9 / sr, rr, 100.0 * touched / med / 1e9 / rr);
    }
    return 0;
}
