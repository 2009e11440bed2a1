// One queued command (rf_cmd_t, rankfn.h) run through the library's own entry
// points on stream s: shared by the CPU core-group queue (stream_queue.cpp,
// s = NULL on its queue thread) and the OpenCL backend (its in-order queue).
#pragma once

#include <cstdio>
#include <string>

#include "backend.h"

static_assert(sizeof(rf_cmd_t) == 96, "rf_cmd_t is 96 bytes (runtime/ffi/commands.ts)");
static_assert(sizeof(rf_attention_args_t) == 176, "rf_attention_args_t is 176 bytes (runtime/ffi/attention-args.ts)");

namespace rf {

inline const char *cmd_name(int32_t op) {
    static const char *names[] = {"gemm", "gather_rows", "scatter_add_rows", "memcpy", "fail", "seq_attention", "hstu_attention", "embedding_bags"};
    return op >= RF_CMD_GEMM && op <= RF_CMD_EMBEDDING_BAGS ? names[op] : "unknown";
}

inline rf_status run_cmd(rf_stream s, const rf_cmd_t &c) {
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
    case RF_CMD_FAIL:
        return fail(c.arg >= RF_ERR_INVALID_ARG && c.arg <= RF_ERR_INTERNAL ? c.arg : RF_ERR_DEVICE, "injected fault");
    case RF_CMD_SEQ_ATTENTION: {
        const rf_attention_args_t &a = *static_cast<const rf_attention_args_t *>(c.a);
        return rf_seq_attention_lse(s, a.batch, a.heads, a.d, a.dv, a.q, a.ldq, a.q_offsets, a.k, a.ldk, a.v, a.ldv,
                                    a.kv_offsets, a.mask, a.num_candidates, a.scale, a.rab_table, a.num_buckets, a.q_pos,
                                    a.kv_pos, a.out, a.ldo, a.lse);
    }
    case RF_CMD_HSTU_ATTENTION: {
        const rf_attention_args_t &a = *static_cast<const rf_attention_args_t *>(c.a);
        return rf_hstu_attention(s, a.batch, a.heads, a.d, a.dv, a.q, a.ldq, a.q_offsets, a.k, a.ldk, a.v, a.ldv,
                                 a.kv_offsets, a.mask, a.num_candidates, a.scale, a.rab_table, a.num_buckets, a.q_pos,
                                 a.kv_pos, a.norm_len, a.out, a.ldo);
    }
    case RF_CMD_EMBEDDING_BAGS:
        return rf_embedding_bags(s, int32_t(c.m), static_cast<const rf_bag_table_t *>(c.a), c.n);
    default:
        return fail(RF_ERR_INVALID_ARG, "unknown command %d", c.op);
    }
}

// Run `c` (command `index` since the last sync); on failure, `message` is "command i (op): <error>".
inline rf_status run_reported(rf_stream s, const rf_cmd_t &c, int64_t index, std::string *message) {
    rf_status st = run_cmd(s, c);
    if (st != RF_OK) {
        char buf[1200];
        std::snprintf(buf, sizeof buf, "command %lld (%s): %s", (long long)index, cmd_name(c.op), rf_last_error());
        *message = buf;
    }
    return st;
}

// rf_stream_enqueue's argument checks (n >= 0, cmds given when n > 0, every op known, attention args and bag tables given), before anything runs.
inline rf_status check_cmds(const rf_cmd_t *cmds, int32_t n) {
    RF_CHECK(n >= 0, "rf_stream_enqueue: n = %d is negative", n);
    if (n == 0) return RF_OK;
    RF_CHECK(cmds != nullptr, "rf_stream_enqueue: cmds is NULL");
    for (int32_t i = 0; i < n; ++i) {
        RF_CHECK(cmds[i].op >= RF_CMD_GEMM && cmds[i].op <= RF_CMD_EMBEDDING_BAGS, "rf_stream_enqueue: cmds[%d].op = %d is unknown", i,
                 cmds[i].op);
        RF_CHECK(cmds[i].op != RF_CMD_EMBEDDING_BAGS || (cmds[i].m >= 0 && cmds[i].m <= INT32_MAX && (cmds[i].m == 0 || cmds[i].a != nullptr)),
                 "rf_stream_enqueue: cmds[%d] (embedding_bags) needs 0 <= m <= INT32_MAX tables and a (its rf_bag_table_t [m])", i);
        RF_CHECK((cmds[i].op != RF_CMD_SEQ_ATTENTION && cmds[i].op != RF_CMD_HSTU_ATTENTION) || cmds[i].a != nullptr,
                 "rf_stream_enqueue: cmds[%d] (%s) needs a (its rf_attention_args_t)", i, cmd_name(cmds[i].op));
    }
    return RF_OK;
}

// Run n commands now, in order, on stream s; the first failure stops them and is reported as "command i (op): ...".
inline rf_status run_now(rf_stream s, const rf_cmd_t *cmds, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        std::string message;
        rf_status st = run_reported(s, cmds[i], i, &message);
        if (st != RF_OK) return fail(st, "%s", message.c_str());
    }
    return RF_OK;
}

}  // namespace rf
