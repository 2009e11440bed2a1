// The library's persistent thread pool: workers spin briefly for the next job
// (ranking batches arrive back to back), then sleep on a futex. Besides the
// library's default pool, a stream can own a pool pinned to a core group
// (rf_stream_create_pool); a thread bound to such a pool (bind_pool) runs its
// parallel_for there.
#include "backend.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#define RF_PAUSE() _mm_pause()
#else
#define RF_PAUSE() ((void)0)
#endif

namespace rf {
namespace {

constexpr int kMaxThreads = 256;

// Pin the calling thread to `cpus`; false where the OS refuses (or is not Linux).
bool pin_to(const std::vector<int> &cpus) {
#if defined(__linux__)
    if (cpus.empty()) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) CPU_SET(c, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#else
    (void)cpus;
    return false;
#endif
}
constexpr int kSpinIterations = 20000;  // ~100 us of polling before sleeping

// A job's fields are atomics: a worker that wakes late may read the slot of a
// newer job, but it only ever runs a task after claiming it with a CAS on the
// generation-tagged counter, which fails for any job but the current one.
struct Job {
    std::atomic<void (*)(void *, int64_t, int)> task{nullptr};
    std::atomic<void *> ctx{nullptr};
    std::atomic<int64_t> n{0};
};

thread_local bool t_in_pool_task = false;

}  // namespace

class Pool {
public:
    Pool() {
        unsigned hw = std::thread::hardware_concurrency();
        resize(hw == 0 ? 1 : int(hw));
    }
    // A pool of `n` threads (the caller of run() included) whose workers pin
    // themselves to `cpus` (empty: unpinned).
    Pool(int n, std::vector<int> cpus) : cpus_(std::move(cpus)) { resize(n); }
    ~Pool() { stop_workers(); }

    int size() const { return size_; }
    const std::vector<int> &cpus() const { return cpus_; }
    // Workers that pinned themselves successfully so far.
    int pinned_workers() const { return pinned_.load(std::memory_order_acquire); }

    void resize(int n) {
        std::lock_guard<std::mutex> run(run_mutex_);
        stop_workers();
        size_ = n;
        stopping_.store(false);
        // Workers start from the generation current now: a job published before a
        // new worker first runs must still be seen by it (it is a newer generation).
        const uint64_t start = generation_.load(std::memory_order_acquire);
        for (int t = 1; t < n; ++t) workers_.emplace_back([this, t, start] { worker_loop(t, start); });
    }

    void run(int64_t n, void (*task)(void *, int64_t, int), void *ctx) {
        if (n <= 0) return;
        std::unique_lock<std::mutex> run(run_mutex_, std::try_to_lock);
        if (n == 1 || size_ == 1 || t_in_pool_task || !run.owns_lock()) {
            bool was = t_in_pool_task;
            t_in_pool_task = true;
            for (int64_t i = 0; i < n; ++i) task(ctx, i, 0);
            t_in_pool_task = was;
            return;
        }
        const uint64_t g = generation_.load(std::memory_order_relaxed) + 1;
        Job &job = jobs_[g & 1];
        job.task.store(task, std::memory_order_relaxed);
        job.ctx.store(ctx, std::memory_order_relaxed);
        job.n.store(n, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        claim_.store(tag(g), std::memory_order_release);
        generation_.store(g, std::memory_order_release);
        generation_.notify_all();
        t_in_pool_task = true;
        drain(g, 0);
        t_in_pool_task = false;
        // Wait for the tasks, not for the workers: a worker still asleep when the
        // caller has done everything must not add its wake-up latency to the call.
        while (done_.load(std::memory_order_acquire) != n) RF_PAUSE();
    }

private:
    static uint64_t tag(uint64_t generation) { return (generation & 0xffffffffu) << 32; }

    void drain(uint64_t g, int thread) {
        const Job &job = jobs_[g & 1];
        for (;;) {
            uint64_t c = claim_.load(std::memory_order_acquire);
            if ((c & ~uint64_t(0xffffffffu)) != tag(g)) return;  // a newer job: not ours
            const int64_t i = int64_t(c & 0xffffffffu);
            if (i >= job.n.load(std::memory_order_relaxed)) return;
            if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
            job.task.load(std::memory_order_relaxed)(job.ctx.load(std::memory_order_relaxed), i, thread);
            done_.fetch_add(1, std::memory_order_release);
        }
    }

    void worker_loop(int thread, uint64_t seen) {
        t_in_pool_task = true;
        if (!cpus_.empty() && pin_to(cpus_)) pinned_.fetch_add(1, std::memory_order_acq_rel);
        for (;;) {
            uint64_t g;
            int spins = 0;
            while ((g = generation_.load(std::memory_order_acquire)) == seen) {
                if (++spins < kSpinIterations) {
                    RF_PAUSE();
                } else {
                    generation_.wait(seen, std::memory_order_acquire);
                }
            }
            seen = g;
            if (stopping_.load(std::memory_order_acquire)) return;
            drain(g, thread);
        }
    }

    void stop_workers() {
        if (workers_.empty()) return;
        stopping_.store(true, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto &w : workers_) w.join();
        workers_.clear();
    }

    int size_ = 1;
    std::vector<int> cpus_;
    std::atomic<int> pinned_{0};
    std::mutex run_mutex_;
    std::vector<std::thread> workers_;
    Job jobs_[2];
    std::atomic<uint64_t> generation_{0};
    std::atomic<uint64_t> claim_{0};  // (generation << 32) | index of the next unclaimed task
    std::atomic<int64_t> done_{0};
    std::atomic<bool> stopping_{false};
};

namespace {

Pool &default_pool() {
    static Pool *p = new Pool();  // never destroyed: workers may outlive static teardown order
    return *p;
}

thread_local Pool *t_bound = nullptr;

Pool &pool() { return t_bound ? *t_bound : default_pool(); }

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > kMaxThreads) n = kMaxThreads;
    if (n != default_pool().size()) default_pool().resize(n);
}

void parallel_for_raw(int64_t n, void (*task)(void *, int64_t, int), void *ctx) {
    pool().run(n, task, ctx);
}

Pool *pool_create(int threads, const int *cpus, int num_cpus) {
    if (threads < 1) threads = 1;
    if (threads > kMaxThreads) threads = kMaxThreads;
    return new Pool(threads, std::vector<int>(cpus, cpus + (num_cpus > 0 ? num_cpus : 0)));
}

void pool_destroy(Pool *p) { delete p; }

int pool_size(const Pool *p) { return p->size(); }

int pool_pinned_workers(const Pool *p) { return p->pinned_workers(); }

bool pin_current_thread(const Pool *p) { return pin_to(p->cpus()); }

Pool *bind_pool(Pool *p) {
    Pool *was = t_bound;
    t_bound = p;
    return was;
}

}  // namespace rf

extern "C" {

RF_API rf_status rf_set_num_threads(int32_t n) {
    RF_ENTRY({
        RF_CHECK(n >= 1, "rf_set_num_threads: n must be >= 1, got %d", n);
        rf::set_num_threads(n);
        return RF_OK;
    });
}

RF_API rf_status rf_get_num_threads(int32_t *n) {
    RF_ENTRY({
        RF_CHECK(n != nullptr, "rf_get_num_threads: n is NULL");
        *n = rf::num_threads();
        return RF_OK;
    });
}

}  // extern "C"
