// Queued commands on the OpenCL backend (rf_stream_enqueue): an OpenCL stream
// is already an in-order device queue, so each command is issued on it through
// the backend's own entry points, in order, from the calling thread. Core-group
// streams (rf_stream_create_pool) are a CPU backend feature: unsupported here.
#include "backend.h"

#include <string>

namespace {

const char *cmd_name(int32_t op) {
    static const char *names[] = {"gemm", "gather_rows", "scatter_add_rows", "memcpy", "fail"};
    return op >= RF_CMD_GEMM && op <= RF_CMD_FAIL ? names[op] : "unknown";
}

rf_status run_cmd(rf_stream s, const rf_cmd_t &c) {
    switch (c.op) {
    case RF_CMD_GEMM:
        return rf_gemm(s, c.m, static_cast<const float *>(c.a), c.lda, c.w, static_cast<const float *>(c.b), c.arg,
                       static_cast<const float *>(c.c), c.ldc, static_cast<float *>(c.d), c.ldd);
    case RF_CMD_GATHER_ROWS:
        return rf_gather_rows(s, c.m, c.n, static_cast<const float *>(c.a), c.lda, c.k, static_cast<const int32_t *>(c.b),
                              static_cast<const float *>(c.c), static_cast<float *>(c.d), c.ldd);
    case RF_CMD_SCATTER_ADD_ROWS:
        return rf_scatter_add_rows(s, c.m, c.n, static_cast<const float *>(c.a), c.lda, static_cast<const int32_t *>(c.b),
                                   static_cast<const float *>(c.c), static_cast<float *>(c.d), c.ldd, c.k);
    case RF_CMD_MEMCPY:
        return rf_memcpy(c.d, c.a, c.m, c.arg, s);
    default:
        return rf::fail(c.arg >= RF_ERR_INVALID_ARG && c.arg <= RF_ERR_INTERNAL ? c.arg : RF_ERR_DEVICE, "injected fault");
    }
}

}  // namespace

extern "C" {

RF_API rf_status rf_stream_create_pool(int32_t device, int32_t threads, const int32_t *cpus, int32_t num_cpus, rf_stream *out) {
    RF_ENTRY({
        RF_CHECK(out != nullptr, "rf_stream_create_pool: out is NULL");
        *out = nullptr;
        return rf::fail(RF_ERR_UNSUPPORTED, "rf_stream_create_pool: core-group streams are a CPU backend feature (OpenCL devices queue their own work; split a device with rf_set_device_partitions)");
    });
}

RF_API rf_status rf_stream_enqueue(rf_stream s, const rf_cmd_t *cmds, int32_t n) {
    RF_ENTRY({
        RF_CHECK(n >= 0, "rf_stream_enqueue: n = %d is negative", n);
        if (n == 0) return RF_OK;
        RF_CHECK(cmds != nullptr, "rf_stream_enqueue: cmds is NULL");
        for (int32_t i = 0; i < n; ++i)
            RF_CHECK(cmds[i].op >= RF_CMD_GEMM && cmds[i].op <= RF_CMD_FAIL, "rf_stream_enqueue: cmds[%d].op = %d is unknown", i, cmds[i].op);
        for (int32_t i = 0; i < n; ++i) {
            rf_status st = run_cmd(s, cmds[i]);
            if (st != RF_OK) {
                std::string message = rf_last_error();
                return rf::fail(st, "command %d (%s): %s", i, cmd_name(cmds[i].op), message.c_str());
            }
        }
        return RF_OK;
    });
}

RF_API rf_status rf_stream_stats(rf_stream s, int64_t *busy_ns, int64_t *commands, int32_t *threads, int32_t *pinned) {
    RF_ENTRY({
        if (busy_ns) *busy_ns = 0;
        if (commands) *commands = 0;
        if (threads) *threads = 1;
        if (pinned) *pinned = 0;
        return RF_OK;
    });
}

}  // extern "C"
