// Sanitizer cases for rf_weight_pack / rf_gemm / rf_cross_layer / probes.
//
// Every ISA path is compared with the scalar reference (fp32 X times the
// dequantised weights). Tolerances, as max |got - ref| / max |ref|:
//   fp32 1e-5: same math, different summation order (and bias added last).
//   bf16 1e-2: the AVX-512 path rounds X to bf16 (relative error <= 2^-9 per
//        element); over a k-term dot product the errors are random-signed, so
//        the normalised error is ~2^-9 * sqrt(k) * rms / max ~ 1e-3; 1e-2
//        leaves margin for small outputs after the activations.
//   int8 2e-2: X is quantised per row to 127 levels (error <= amax/254 per
//        element, ~0.4% worst case), same random-walk argument: ~3e-3 typical.
#include "sanitize.h"

#include <cstring>
#include <chrono>
#include <thread>

using namespace sanitize;

namespace {

struct Weight {
    rf_weight h = nullptr;
    ~Weight() { rf_weight_free(h); }
};

// A random weight of the given dtype, packed; returns status.
rf_status make_weight(Rng &rng, int dtype, int64_t n, int64_t k, Weight &out) {
    std::vector<float> f = rng.floats(size_t(n * k));
    if (dtype == RF_F32) return rf_weight_pack(0, RF_F32, n, k, f.data(), nullptr, &out.h);
    if (dtype == RF_BF16) {
        std::vector<uint16_t> b(f.size());
        for (size_t i = 0; i < f.size(); ++i) {
            uint32_t u;
            std::memcpy(&u, &f[i], 4);
            b[i] = uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        }
        return rf_weight_pack(0, RF_BF16, n, k, b.data(), nullptr, &out.h);
    }
    std::vector<int8_t> q(f.size());
    for (size_t i = 0; i < f.size(); ++i) q[i] = int8_t(std::lround(f[i] * 127.f));
    std::vector<float> s(static_cast<size_t>(n));
    for (auto &v : s) v = 0.01f + 0.02f * std::fabs(rng.uniform());
    return rf_weight_pack(0, RF_I8, n, k, q.data(), s.data(), &out.h);
}

// Resize the pool and use it at once: this also exercises freshly started workers.
void settle_pool(int threads) { rf_set_num_threads(threads); }

float tol_for(int dtype) { return dtype == RF_F32 ? 1e-5f : dtype == RF_BF16 ? 1e-2f : 2e-2f; }

const char *dtype_name(int d) { return d == RF_F32 ? "f32" : d == RF_BF16 ? "bf16" : "i8"; }

// Y [m][ldy] after one rf_gemm on the given ISA; res_mode 0 none, 1 separate, 2 aliases y.
std::vector<float> run_gemm(int isa, int64_t m, int64_t n, int64_t k, const std::vector<float> &x, int64_t ldx,
                            rf_weight w, const float *bias, int act, int res_mode, const std::vector<float> &res,
                            int64_t ldy, rf_status &st) {
    rf_set_isa(isa);
    std::vector<float> y(size_t(m * ldy + 1), -7.f);
    const float *r = nullptr;
    if (res_mode == 1) r = res.data();
    if (res_mode == 2) {
        std::memcpy(y.data(), res.data(), size_t(m * ldy) * 4);
        r = y.data();
    }
    st = rf_gemm(nullptr, m, x.data(), ldx, w, bias, act, r, ldy, y.data(), ldy);
    return y;
}

}  // namespace

SANITIZE_CASE(gemm_parity) {
    int failed = 0;
    settle_pool(2);
    Rng rng(7);
    struct Shape { int64_t m, n, k; };
    const Shape shapes[] = {{1, 1, 1}, {0, 5, 3}, {1, 33, 17}, {5, 33, 17}, {13, 65, 40}, {25, 31, 3}, {12, 32, 64},
                            {3, 7, 130}, {2, 40, 1}};
    for (int dtype : {RF_F32, RF_BF16, RF_I8}) {
        for (const Shape &s : shapes) {
            Weight w;
            failed += expect_status("pack", make_weight(rng, dtype, s.n, s.k, w), RF_OK);
            if (!w.h) continue;
            const int64_t ldx = s.k + 3, ldy = s.n + 2;
            auto x = rng.floats(size_t(s.m * ldx + 1));
            auto bias = rng.floats(size_t(s.n));
            auto res = rng.floats(size_t(s.m * ldy + 1));
            for (int act = RF_ACT_NONE; act <= RF_ACT_TANH; ++act)
                for (int use_bias = 0; use_bias < 2; ++use_bias)
                    for (int res_mode = 0; res_mode < 3; ++res_mode) {
                        rf_status st;
                        const float *b = use_bias ? bias.data() : nullptr;
                        auto want = run_gemm(RF_ISA_REF, s.m, s.n, s.k, x, ldx, w.h, b, act, res_mode, res, ldy, st);
                        failed += expect_status("gemm ref", st, RF_OK);
                        for (int isa : supported_isas()) {
                            auto got = run_gemm(isa, s.m, s.n, s.k, x, ldx, w.h, b, act, res_mode, res, ldy, st);
                            char what[160];
                            std::snprintf(what, sizeof what, "gemm %s isa %d m%lld n%lld k%lld act %d bias %d res %d",
                                          dtype_name(dtype), isa, (long long)s.m, (long long)s.n, (long long)s.k, act,
                                          use_bias, res_mode);
                            failed += expect_status(what, st, RF_OK);
                            failed += expect_close(what, got.data(), want.data(), got.size(), tol_for(dtype));
                        }
                    }
        }
    }
    rf_set_isa(RF_ISA_REF);
    return failed;
}

// Larger shapes through the blocked driver (several row blocks and panel blocks), 1 and 2 threads.
SANITIZE_CASE(gemm_blocked) {
    int failed = 0;
    Rng rng(11);
    const int64_t m = 203, n = 291, k = 77;
    for (int dtype : {RF_F32, RF_BF16, RF_I8}) {
        Weight w;
        failed += expect_status("pack", make_weight(rng, dtype, n, k, w), RF_OK);
        auto x = rng.floats(size_t(m * k));
        auto bias = rng.floats(size_t(n));
        std::vector<float> res;
        rf_status st;
        auto want = run_gemm(RF_ISA_REF, m, n, k, x, k, w.h, bias.data(), RF_ACT_GELU, 0, res, n, st);
        for (int threads : {1, 2}) {
            settle_pool(threads);
            for (int isa : supported_isas()) {
                auto got = run_gemm(isa, m, n, k, x, k, w.h, bias.data(), RF_ACT_GELU, 0, res, n, st);
                failed += expect_status("gemm blocked", st, RF_OK);
                failed += expect_close(dtype_name(dtype), got.data(), want.data(), got.size(), tol_for(dtype));
            }
        }
    }
    // int8 with 16-bit activations (rf_weight_set_act_bits), with and without activation groups:
    // the AVX-512 vpdpwssd tile and the AVX2 int16 pack, on whole and partial 6-row tiles.
    for (int grouped = 0; grouped < 2; ++grouped)
        for (int64_t rows : {int64_t(5), m}) {
            Weight w;
            failed += expect_status("pack", make_weight(rng, RF_I8, n, k, w), RF_OK);
            failed += expect_status("act bits", rf_weight_set_act_bits(w.h, 16), RF_OK);
            const int64_t bounds[] = {0, 40, k};
            if (grouped) failed += expect_status("act groups", rf_weight_set_act_groups(w.h, 2, bounds), RF_OK);
            auto x = rng.floats(size_t(rows * k));
            std::vector<float> res;
            rf_status st;
            auto want = run_gemm(RF_ISA_REF, rows, n, k, x, k, w.h, nullptr, RF_ACT_RELU, 0, res, n, st);
            for (int isa : supported_isas()) {
                auto got = run_gemm(isa, rows, n, k, x, k, w.h, nullptr, RF_ACT_RELU, 0, res, n, st);
                failed += expect_status("gemm int8 16-bit activations", st, RF_OK);
                failed += expect_close(grouped ? "i8 a16 grouped" : "i8 a16", got.data(), want.data(), got.size(), 2e-3f);
            }
        }
    settle_pool(2);
    rf_set_isa(RF_ISA_REF);
    return failed;
}

// Two threads calling rf_gemm at once (the pool runs the second caller serially).
SANITIZE_CASE(gemm_concurrent) {
    int failed = 0;
    settle_pool(2);
    Rng rng(3);
    const int64_t m = 37, n = 70, k = 45;
    int32_t best = 0;
    rf_get_isa(nullptr, &best);
    for (int dtype : {RF_F32, RF_BF16, RF_I8}) {
        Weight w;
        failed += expect_status("pack", make_weight(rng, dtype, n, k, w), RF_OK);
        auto x1 = rng.floats(size_t(m * k)), x2 = rng.floats(size_t(m * k));
        std::vector<float> res;
        rf_status st;
        auto want1 = run_gemm(RF_ISA_REF, m, n, k, x1, k, w.h, nullptr, RF_ACT_RELU, 0, res, n, st);
        auto want2 = run_gemm(RF_ISA_REF, m, n, k, x2, k, w.h, nullptr, RF_ACT_RELU, 0, res, n, st);
        rf_set_isa(best);
        std::vector<float> y1(size_t(m * n)), y2(size_t(m * n));
        rf_status s1 = RF_OK, s2 = RF_OK;
        auto work = [&](const std::vector<float> &x, std::vector<float> &y, rf_status &s) {
            for (int it = 0; it < 20 && s == RF_OK; ++it)
                s = rf_gemm(nullptr, m, x.data(), k, w.h, nullptr, RF_ACT_RELU, nullptr, 0, y.data(), n);
        };
        std::thread t1(work, std::cref(x1), std::ref(y1), std::ref(s1));
        std::thread t2(work, std::cref(x2), std::ref(y2), std::ref(s2));
        t1.join();
        t2.join();
        failed += expect_status("concurrent 1", s1, RF_OK) + expect_status("concurrent 2", s2, RF_OK);
        failed += expect_close("concurrent 1", y1.data(), want1.data(), y1.size(), tol_for(dtype));
        failed += expect_close("concurrent 2", y2.data(), want2.data(), y2.size(), tol_for(dtype));
    }
    rf_set_isa(RF_ISA_REF);
    return failed;
}

SANITIZE_CASE(cross_layer) {
    int failed = 0;
    settle_pool(2);
    Rng rng(5);
    const int64_t m = 19, d = 45, r = 13, ld = 50;
    for (int dtype : {RF_F32, RF_BF16, RF_I8}) {
        Weight full, v, u;
        failed += expect_status("pack full", make_weight(rng, dtype, d, d, full), RF_OK);
        failed += expect_status("pack V", make_weight(rng, dtype, r, d, v), RF_OK);
        failed += expect_status("pack U", make_weight(rng, dtype, d, r, u), RF_OK);
        auto x0 = rng.floats(size_t(m * ld)), x = rng.floats(size_t(m * ld)), bias = rng.floats(size_t(d));
        for (int low = 0; low < 2; ++low)
            for (int use_bias = 0; use_bias < 2; ++use_bias)
                for (int inplace = 0; inplace < 2; ++inplace) {
                    rf_weight w = low ? v.h : full.h, uu = low ? u.h : nullptr;
                    const float *b = use_bias ? bias.data() : nullptr;
                    auto run = [&](int isa) {
                        rf_set_isa(isa);
                        std::vector<float> y(size_t(m * ld), 0.f);
                        rf_status st;
                        if (inplace) {
                            y = x;
                            st = rf_cross_layer(nullptr, m, x0.data(), ld, y.data(), ld, w, uu, b, y.data(), ld);
                        } else {
                            st = rf_cross_layer(nullptr, m, x0.data(), ld, x.data(), ld, w, uu, b, y.data(), ld);
                        }
                        failed += expect_status("cross", st, RF_OK);
                        for (int64_t i = 0; i < m; ++i)  // compare the d valid columns only
                            for (int64_t j = d; j < ld; ++j) y[size_t(i * ld + j)] = 0.f;
                        return y;
                    };
                    auto want = run(RF_ISA_REF);
                    for (int isa : supported_isas()) {
                        auto got = run(isa);
                        char what[120];
                        std::snprintf(what, sizeof what, "cross %s isa %d low %d bias %d inplace %d", dtype_name(dtype),
                                      isa, low, use_bias, inplace);
                        failed += expect_close(what, got.data(), want.data(), got.size(), tol_for(dtype));
                    }
                }
    }
    rf_set_isa(RF_ISA_REF);
    return failed;
}

SANITIZE_CASE(gemm_bad_args) {
    int failed = 0;
    const float wf[6] = {1, 2, 3, 4, 5, 6};
    const int8_t wq[6] = {1, 2, 3, 4, 5, 6};
    const float sc[3] = {1, 1, 1};
    const float bad_sc[3] = {1, NAN, 1};
    rf_weight h = nullptr;
    failed += expect_status("pack null out", rf_weight_pack(0, RF_F32, 3, 2, wf, nullptr, nullptr), RF_ERR_INVALID_ARG);
    failed += expect_status("pack bad device", rf_weight_pack(1, RF_F32, 3, 2, wf, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack bad dtype", rf_weight_pack(0, 42, 3, 2, wf, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack f16", rf_weight_pack(0, RF_F16, 3, 2, wf, nullptr, &h), RF_ERR_UNSUPPORTED);
    failed += expect_status("pack negative", rf_weight_pack(0, RF_F32, -3, 2, wf, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack null w", rf_weight_pack(0, RF_F32, 3, 2, nullptr, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack f32 scales", rf_weight_pack(0, RF_F32, 3, 2, wf, sc, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack i8 no scales", rf_weight_pack(0, RF_I8, 3, 2, wq, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack i8 nan scale", rf_weight_pack(0, RF_I8, 3, 2, wq, bad_sc, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("pack huge", rf_weight_pack(0, RF_F32, int64_t(1) << 40, 2, wf, nullptr, &h), RF_ERR_INVALID_ARG);
    failed += expect_status("shape null", rf_weight_shape(nullptr, nullptr, nullptr, nullptr), RF_ERR_INVALID_ARG);
    failed += expect_status("free null", rf_weight_free(nullptr), RF_OK);

    Weight w;
    failed += expect_status("pack ok", rf_weight_pack(0, RF_I8, 3, 2, wq, sc, &w.h), RF_OK);
    int64_t n = 0, k = 0;
    int32_t dt = -1;
    failed += expect_status("shape", rf_weight_shape(w.h, &n, &k, &dt), RF_OK);
    if (n != 3 || k != 2 || dt != RF_I8) {
        std::printf("  FAIL shape: got [%lld][%lld] dtype %d\n", (long long)n, (long long)k, dt);
        ++failed;
    }
    float x[8] = {}, y[8] = {};
    failed += expect_status("gemm null w", rf_gemm(nullptr, 1, x, 2, nullptr, nullptr, 0, nullptr, 0, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm bad act", rf_gemm(nullptr, 1, x, 2, w.h, nullptr, 9, nullptr, 0, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm negative m", rf_gemm(nullptr, -1, x, 2, w.h, nullptr, 0, nullptr, 0, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm null x", rf_gemm(nullptr, 1, nullptr, 2, w.h, nullptr, 0, nullptr, 0, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm null y", rf_gemm(nullptr, 1, x, 2, w.h, nullptr, 0, nullptr, 0, nullptr, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm ldx", rf_gemm(nullptr, 1, x, 1, w.h, nullptr, 0, nullptr, 0, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm ldy", rf_gemm(nullptr, 1, x, 2, w.h, nullptr, 0, nullptr, 0, y, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm ldr", rf_gemm(nullptr, 1, x, 2, w.h, nullptr, 0, x, 1, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm alias ldr", rf_gemm(nullptr, 2, x, 2, w.h, nullptr, 0, y, 4, y, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gemm m=0", rf_gemm(nullptr, 0, nullptr, 0, w.h, nullptr, 0, nullptr, 0, nullptr, 0), RF_OK);

    Weight sq, v, u;
    const float wsq[4] = {1, 0, 0, 1};
    failed += expect_status("pack sq", rf_weight_pack(0, RF_F32, 2, 2, wsq, nullptr, &sq.h), RF_OK);
    failed += expect_status("pack v", rf_weight_pack(0, RF_F32, 1, 2, wf, nullptr, &v.h), RF_OK);   // V [1][2]
    failed += expect_status("pack u", rf_weight_pack(0, RF_F32, 2, 1, wf, nullptr, &u.h), RF_OK);   // U [2][1]
    float x0[4] = {1, 2, 3, 4}, xx[4] = {1, 1, 1, 1}, yy[4];
    failed += expect_status("cross null w", rf_cross_layer(nullptr, 2, x0, 2, xx, 2, nullptr, nullptr, nullptr, yy, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("cross non-square", rf_cross_layer(nullptr, 2, x0, 2, xx, 2, w.h, nullptr, nullptr, yy, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("cross U shape", rf_cross_layer(nullptr, 2, x0, 2, xx, 2, v.h, sq.h, nullptr, yy, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("cross ld", rf_cross_layer(nullptr, 2, x0, 1, xx, 2, sq.h, nullptr, nullptr, yy, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("cross null x0", rf_cross_layer(nullptr, 2, nullptr, 2, xx, 2, sq.h, nullptr, nullptr, yy, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("cross alias ld", rf_cross_layer(nullptr, 1, x0, 2, xx, 2, sq.h, nullptr, nullptr, xx, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("cross low ok", rf_cross_layer(nullptr, 2, x0, 2, xx, 2, v.h, u.h, nullptr, yy, 2), RF_OK);
    failed += expect_status("cross full ok", rf_cross_layer(nullptr, 2, x0, 2, xx, 2, sq.h, nullptr, nullptr, yy, 2), RF_OK);
    // identity W, x = 1: y = x0 * x + x = x0 + 1
    for (int i = 0; i < 4; ++i)
        if (yy[i] != x0[i] + 1.f) {
            std::printf("  FAIL cross identity: y[%d] = %g, want %g\n", i, yy[i], x0[i] + 1.f);
            ++failed;
            break;
        }

    double g = 0;
    failed += expect_status("probe threads", rf_probe_peak_gflops(0, RF_F32, &g), RF_ERR_INVALID_ARG);
    failed += expect_status("probe dtype", rf_probe_peak_gflops(1, RF_F16, &g), RF_ERR_INVALID_ARG);
    failed += expect_status("probe null", rf_probe_peak_gflops(1, RF_F32, nullptr), RF_ERR_INVALID_ARG);
    failed += expect_status("bandwidth threads", rf_probe_mem_bandwidth(-1, &g), RF_ERR_INVALID_ARG);
    failed += expect_status("bandwidth null", rf_probe_mem_bandwidth(1, nullptr), RF_ERR_INVALID_ARG);
    return failed;
}
