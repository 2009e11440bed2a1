// Queued commands on a device backend (rf_stream_enqueue): an OpenCL or CUDA
// stream is already an in-order device queue, so each command is issued on it through
// the backend's own entry points (kernels/cpu/commands.h), in order, from the
// calling thread. Core-group streams (rf_stream_create_pool) are a CPU backend
// feature: unsupported here.
#include "backend.h"
#include "../../cpu/commands.h"

extern "C" {

RF_API rf_status rf_stream_create_pool(int32_t device, int32_t threads, const int32_t *cpus, int32_t num_cpus, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create_pool: out is NULL");
        *out = nullptr;
        return rf::fail(RF_ERR_UNSUPPORTED, "rf_stream_create_pool: core-group streams are a CPU backend feature (" RF_BACKEND_NAME " devices queue their own work" RF_PARTITION_HINT ")");
    });
}

RF_API rf_status rf_stream_enqueue(rf_stream s, const rf_cmd_t *cmds, int32_t n) {
    RF_ENTRY({
        if (rf_status st = rf::check_cmds(cmds, n); st != RF_OK || n == 0) return st;
        return rf::run_now(s, cmds, n);
    });
}

RF_API rf_status rf_stream_stats(rf_stream s, int64_t *busy_ns, int64_t *commands, int32_t *threads, int32_t *pinned) {
    RF_ENTRY({
        RF_CHECK(s != nullptr, "rf_stream_stats: s is NULL");
        if (busy_ns) *busy_ns = 0;
        if (commands) *commands = 0;
        if (threads) *threads = 1;
        if (pinned) *pinned = 0;
        return RF_OK;
    });
}

}  // extern "C"
