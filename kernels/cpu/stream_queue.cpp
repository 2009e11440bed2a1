// CPU core groups: rf_stream_create_pool makes a stream that owns a pool
// pinned to a set of CPUs and a queue thread; rf_stream_enqueue runs
// commands (existing ops) on it asynchronously, in order; rf_stream_sync waits
// and reports the first failure. Two such streams compute concurrently while
// the caller (one JS thread) only enqueues and waits.
#include "backend.h"
#include "commands.h"
#include "stream.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace rf {

class StreamQueue {
public:
    StreamQueue(int threads, const int32_t *cpus, int num_cpus) {
        pool_ = pool_create(threads, cpus, num_cpus);
        thread_ = std::thread([this] { loop(); });
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return started_; });
    }

    ~StreamQueue() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        thread_.join();
        pool_destroy(pool_);
    }

    void push(const rf_cmd_t *cmds, int32_t n) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_.insert(queue_.end(), cmds, cmds + n);
        }
        cv_.notify_all();
    }

    rf_status sync() {
        std::unique_lock<std::mutex> lock(mutex_);
        idle_cv_.wait(lock, [this] { return queue_.empty() && !running_; });
        rf_status st = status_;
        std::string message = std::move(message_);
        status_ = RF_OK;
        message_.clear();
        index_ = 0;
        lock.unlock();
        return st == RF_OK ? RF_OK : fail(st, "%s", message.c_str());
    }

    void stats(int64_t *busy_ns, int64_t *commands, int32_t *threads, int32_t *pinned) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (busy_ns) *busy_ns = busy_ns_;
        if (commands) *commands = commands_;
        if (threads) *threads = pool_size(pool_);
        if (pinned) *pinned = self_pinned_ && pool_pinned_workers(pool_) == pool_size(pool_) - 1 ? 1 : 0;
    }

private:
    void loop() {
        bool pinned = pin_current_thread(pool_);
        bind_pool(pool_);
        std::unique_lock<std::mutex> lock(mutex_);
        self_pinned_ = pinned;
        started_ = true;
        cv_.notify_all();
        for (;;) {
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued has run
            rf_cmd_t c = queue_.front();
            queue_.pop_front();
            const int64_t index = index_++;
            if (status_ != RF_OK) {  // an earlier command of this batch failed: skip
                if (queue_.empty()) idle_cv_.notify_all();
                continue;
            }
            running_ = true;
            lock.unlock();
            const auto t0 = std::chrono::steady_clock::now();
            std::string message;
            rf_status st = run_reported(nullptr, c, index, &message);
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
            lock.lock();
            running_ = false;
            busy_ns_ += ns;
            ++commands_;
            if (st != RF_OK && status_ == RF_OK) {
                status_ = st;
                message_ = std::move(message);
            }
            if (queue_.empty()) idle_cv_.notify_all();
        }
    }

    Pool *pool_ = nullptr;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_, idle_cv_;
    std::deque<rf_cmd_t> queue_;
    bool started_ = false, stopping_ = false, running_ = false, self_pinned_ = false;
    rf_status status_ = RF_OK;
    std::string message_;
    int64_t index_ = 0, busy_ns_ = 0, commands_ = 0;
};

rf_status stream_queue_sync(StreamQueue *q) { return q->sync(); }

void stream_queue_destroy(StreamQueue *q) { delete q; }

}  // namespace rf

extern "C" {

RF_API rf_status rf_stream_create_pool(int32_t device, int32_t threads, const int32_t *cpus, int32_t num_cpus,
                                       rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create_pool: out is NULL");
        RF_CHECK(device == 0, "rf_stream_create_pool: the cpu backend has device 0 only, got %d", device);
        RF_CHECK(threads >= 1 && threads <= 256, "rf_stream_create_pool: threads = %d must be in 1..256", threads);
        RF_CHECK(num_cpus >= 0 && num_cpus <= 1024, "rf_stream_create_pool: num_cpus = %d must be in 0..1024", num_cpus);
        RF_CHECK(num_cpus == 0 || cpus != nullptr, "rf_stream_create_pool: cpus is NULL with num_cpus = %d", num_cpus);
        for (int32_t i = 0; i < num_cpus; ++i)
            RF_CHECK(cpus[i] >= 0 && cpus[i] < 1024, "rf_stream_create_pool: cpus[%d] = %d must be in 0..1023", i, cpus[i]);
        auto *q = new rf::StreamQueue(threads, cpus, num_cpus);
        *out = new rf_stream_s{device, q};
        return RF_OK;
    });
}

RF_API rf_status rf_stream_enqueue(rf_stream s, const rf_cmd_t *cmds, int32_t n) {
    RF_ENTRY({
        if (rf_status st = rf::check_cmds(cmds, n); st != RF_OK || n == 0) return st;
        if (s != nullptr && s->queue != nullptr) {
            s->queue->push(cmds, n);
            return RF_OK;
        }
        return rf::run_now(nullptr, cmds, n);
    });
}

RF_API rf_status rf_stream_stats(rf_stream s, int64_t *busy_ns, int64_t *commands, int32_t *threads, int32_t *pinned) {
    RF_ENTRY({
        RF_CHECK(s != nullptr, "rf_stream_stats: s is NULL");
        if (s->queue) {
            s->queue->stats(busy_ns, commands, threads, pinned);
            return RF_OK;
        }
        if (busy_ns) *busy_ns = 0;
        if (commands) *commands = 0;
        if (threads) *threads = rf::num_threads();
        if (pinned) *pinned = 0;
        return RF_OK;
    });
}

}  // extern "C"
