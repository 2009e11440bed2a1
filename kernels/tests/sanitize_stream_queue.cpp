// Sanitizer case for CPU core groups: two pool streams run queued GEMMs and
// gathers concurrently (equal to direct calls), a failing command is reported
// at sync and skips the rest of its batch, and streams are destroyed with work
// still queued.
#include "sanitize.h"

#include <cstring>

using namespace sanitize;

SANITIZE_CASE(stream_queue) {
    int failed = 0;
    Rng rng(7);
    const int64_t m = 19, k = 33, n = 21;
    auto x = rng.floats(m * k), w = rng.floats(n * k), bias = rng.floats(n);
    rf_weight pw = nullptr;
    failed += expect_status("pack", rf_weight_pack(0, RF_F32, n, k, w.data(), nullptr, &pw), RF_OK);
    std::vector<float> want(m * n);
    failed += expect_status("direct gemm", rf_gemm(nullptr, m, x.data(), k, pw, bias.data(), RF_ACT_GELU, nullptr, 0, want.data(), n), RF_OK);

    rf_stream s[2] = {nullptr, nullptr};
    const int32_t cpu0 = 0;
    failed += expect_status("create 1", rf_stream_create_pool(0, 1, &cpu0, 1, &s[0]), RF_OK);
    failed += expect_status("create 2", rf_stream_create_pool(0, 2, nullptr, 0, &s[1]), RF_OK);
    std::vector<float> y[2] = {std::vector<float>(m * n), std::vector<float>(m * n)};
    for (int rep = 0; rep < 4; ++rep) {
        for (int i = 0; i < 2; ++i) {
            rf_cmd_t c;
            std::memset(&c, 0, sizeof c);
            c.op = RF_CMD_GEMM;
            c.arg = RF_ACT_GELU;
            c.m = m;
            c.a = x.data();
            c.lda = k;
            c.w = pw;
            c.b = bias.data();
            c.d = y[i].data();
            c.ldd = n;
            failed += expect_status("enqueue", rf_stream_enqueue(s[i], &c, 1), RF_OK);
        }
        for (int i = 0; i < 2; ++i) failed += expect_status("sync", rf_stream_sync(s[i]), RF_OK);
    }
    for (int i = 0; i < 2; ++i) failed += expect_close("queued gemm", y[i].data(), want.data(), want.size(), 1e-6f);

    // A gather with a bad index fails its batch; the memcpy after it is skipped.
    const int32_t idx[2] = {0, 1000};
    std::vector<float> dst(2 * k, 0.f), marker(2 * k, 5.f);
    rf_cmd_t cmds[2];
    std::memset(cmds, 0, sizeof cmds);
    cmds[0].op = RF_CMD_GATHER_ROWS;
    cmds[0].m = 2;
    cmds[0].n = k;
    cmds[0].a = x.data();
    cmds[0].lda = k;
    cmds[0].k = m;
    cmds[0].b = idx;
    cmds[0].d = dst.data();
    cmds[0].ldd = k;
    cmds[1].op = RF_CMD_MEMCPY;
    cmds[1].arg = RF_COPY_DEVICE_TO_DEVICE;
    cmds[1].m = int64_t(dst.size() * sizeof(float));
    cmds[1].a = marker.data();
    cmds[1].d = dst.data();
    failed += expect_status("enqueue bad", rf_stream_enqueue(s[0], cmds, 2), RF_OK);
    failed += expect_status("sync bad", rf_stream_sync(s[0]), RF_ERR_OUT_OF_RANGE);
    if (dst[0] == 5.f) {
        std::printf("  FAIL stream_queue: a command after the failure ran\n");
        ++failed;
    }
    failed += expect_status("sync after", rf_stream_sync(s[0]), RF_OK);

    // Bad arguments.
    rf_stream bad = nullptr;
    failed += expect_status("threads 0", rf_stream_create_pool(0, 0, nullptr, 0, &bad), RF_ERR_INVALID_ARG);
    failed += expect_status("cpus null", rf_stream_create_pool(0, 1, nullptr, 3, &bad), RF_ERR_INVALID_ARG);
    cmds[0].op = 77;
    failed += expect_status("bad op", rf_stream_enqueue(s[1], cmds, 1), RF_ERR_INVALID_ARG);
    failed += expect_status("stats null", rf_stream_stats(nullptr, nullptr, nullptr, nullptr, nullptr), RF_ERR_INVALID_ARG);

    // Destroy with work queued: it runs first, then the threads stop.
    cmds[1].a = x.data();
    cmds[1].m = int64_t(2 * k * sizeof(float));
    for (int i = 0; i < 8; ++i) rf_stream_enqueue(s[1], &cmds[1], 1);
    rf_stream_destroy(s[0]);
    rf_stream_destroy(s[1]);
    rf_weight_free(pw);
    return failed;
}
