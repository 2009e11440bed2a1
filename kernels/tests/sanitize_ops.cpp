// Sanitizer cases for rf_dot_interaction, rf_gru_sequence, rf_layer_norm, rf_rms_norm,
// rf_softmax, rf_topk, rf_gather_rows, rf_scatter_add_rows: odd shapes with
// strided I/O on every ISA against the reference (fp32, 1e-5 normalised;
// topk, gather and unweighted scatter exact), plus bad arguments.
#include "sanitize.h"

#include <cstring>
#include <string>
#include <unistd.h>

using namespace sanitize;

namespace {

const int64_t kWidths[] = {1, 3, 17, 128, 130};

std::string tag(const char *op, int isa, int64_t a, int64_t b) {
    return std::string(op) + " isa " + std::to_string(isa) + " [" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

// Runs fn(y) on the reference then every ISA, comparing y (size n, pre-filled with 7) within tol.
template <class F>
int parity(const std::string &what, size_t n, float tol, F fn) {
    int failed = 0;
    std::vector<float> want(n, 7.f), got;
    rf_set_isa(RF_ISA_REF);
    failed += expect_status((what + " ref").c_str(), fn(want.data()), RF_OK);
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        got.assign(n, 7.f);
        std::string w = what + " isa " + std::to_string(isa);
        failed += expect_status(w.c_str(), fn(got.data()), RF_OK);
        failed += expect_close(w.c_str(), got.data(), want.data(), n, tol);
    }
    return failed;
}

}  // namespace

SANITIZE_CASE(dot_interaction) {
    int failed = 0;
    Rng rng(21);
    for (int64_t m : {int64_t(1), int64_t(5), int64_t(40)})
        for (int64_t f : {int64_t(1), int64_t(2), int64_t(5), int64_t(27)})
            for (int64_t d : kWidths)
                for (int cd = 0; cd < 2; ++cd)
                    for (int si = 0; si < 2; ++si) {
                        const int64_t width = (cd ? d : 0) + (si ? f * (f + 1) / 2 : f * (f - 1) / 2);
                        const int64_t ldx = f * d + 3, ldo = width + 2;
                        auto x = rng.floats(size_t(m * ldx));
                        failed += parity(tag("dot_interaction", cd * 2 + si, f, d), size_t(m * ldo), 1e-5f, [&](float *y) {
                            return rf_dot_interaction(nullptr, m, f, d, x.data(), ldx, cd, si, y, ldo);
                        });
                    }
    std::vector<float> x(100), y(100);
    failed += expect_status("dot f = 0", rf_dot_interaction(nullptr, 1, 0, 4, x.data(), 4, 0, 0, y.data(), 10), RF_ERR_INVALID_ARG);
    failed += expect_status("dot ldx small", rf_dot_interaction(nullptr, 1, 3, 4, x.data(), 11, 0, 0, y.data(), 10), RF_ERR_INVALID_ARG);
    failed += expect_status("dot ldo small", rf_dot_interaction(nullptr, 1, 3, 4, x.data(), 12, 1, 0, y.data(), 6), RF_ERR_INVALID_ARG);
    failed += expect_status("dot bad flag", rf_dot_interaction(nullptr, 1, 3, 4, x.data(), 12, 2, 0, y.data(), 10), RF_ERR_INVALID_ARG);
    failed += expect_status("dot NULL x", rf_dot_interaction(nullptr, 1, 3, 4, nullptr, 12, 0, 0, y.data(), 10), RF_ERR_INVALID_ARG);
    failed += expect_status("dot NULL out", rf_dot_interaction(nullptr, 1, 3, 4, x.data(), 12, 0, 0, nullptr, 10), RF_ERR_INVALID_ARG);
    failed += expect_status("dot m = 0", rf_dot_interaction(nullptr, 0, 3, 4, nullptr, 12, 0, 0, nullptr, 10), RF_OK);
    failed += expect_status("dot m < 0", rf_dot_interaction(nullptr, -1, 3, 4, x.data(), 12, 0, 0, y.data(), 10), RF_ERR_INVALID_ARG);
    return failed;
}

SANITIZE_CASE(gru_sequence) {
    int failed = 0;
    Rng rng(23);
    for (int64_t m : {int64_t(1), int64_t(9)})
        for (int64_t steps : {int64_t(1), int64_t(4)})
            for (int64_t h : {int64_t(1), int64_t(5), int64_t(17)})
                for (int lbr = 0; lbr < 2; ++lbr) {
                    const int64_t ldgx = steps * 3 * h + 2, ldy = steps * h + 1;
                    auto gx = rng.floats(size_t(m * ldgx));
                    auto rt = rng.floats(size_t(h * 3 * h));
                    auto rb = rng.floats(size_t(3 * h));
                    failed += parity(tag("gru_sequence", lbr, steps, h), size_t(m * ldy), 1e-5f, [&](float *y) {
                        return rf_gru_sequence(nullptr, m, steps, h, gx.data(), ldgx, rt.data(), lbr ? rb.data() : nullptr, lbr, y, ldy);
                    });
                }
    std::vector<float> x(100), y(100);
    failed += expect_status("gru h = 0", rf_gru_sequence(nullptr, 1, 2, 0, x.data(), 6, x.data(), nullptr, 0, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("gru ldgx small", rf_gru_sequence(nullptr, 1, 2, 2, x.data(), 11, x.data(), nullptr, 0, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("gru ldy small", rf_gru_sequence(nullptr, 1, 2, 2, x.data(), 12, x.data(), nullptr, 0, y.data(), 3), RF_ERR_INVALID_ARG);
    failed += expect_status("gru bad flag", rf_gru_sequence(nullptr, 1, 2, 2, x.data(), 12, x.data(), nullptr, 2, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("gru NULL rt", rf_gru_sequence(nullptr, 1, 2, 2, x.data(), 12, nullptr, nullptr, 0, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("gru m = 0", rf_gru_sequence(nullptr, 0, 2, 2, nullptr, 12, nullptr, nullptr, 0, nullptr, 4), RF_OK);
    return failed;
}

SANITIZE_CASE(norms_softmax) {
    int failed = 0;
    Rng rng(22);
    for (int64_t m : {int64_t(1), int64_t(7), int64_t(300)})
        for (int64_t n : kWidths) {
            const int64_t ldx = n + 3, ldy = n + 1;
            auto x = rng.floats(size_t(m * ldx));
            for (auto &v : x) v = v * 4.f + 1.f;  // non-zero mean
            auto gamma = rng.floats(size_t(n)), beta = rng.floats(size_t(n));
            for (int g = 0; g < 2; ++g)
                for (int b = 0; b < 2; ++b)
                    failed += parity(tag("layer_norm", g * 2 + b, m, n), size_t(m * ldy), 1e-5f, [&](float *y) {
                        return rf_layer_norm(nullptr, m, n, x.data(), ldx, g ? gamma.data() : nullptr, b ? beta.data() : nullptr,
                                             1e-5f, y, ldy);
                    });
            for (int g = 0; g < 2; ++g)
                failed += parity(tag("rms_norm", g, m, n), size_t(m * ldy), 1e-5f, [&](float *y) {
                    return rf_rms_norm(nullptr, m, n, x.data(), ldx, g ? gamma.data() : nullptr, 1e-6f, y, ldy);
                });
            auto xs = x;
            for (auto &v : xs) v *= 20.f;  // large logits: needs the max subtraction
            failed += parity(tag("softmax", 0, m, n), size_t(m * ldy), 1e-5f,
                             [&](float *y) { return rf_softmax(nullptr, m, n, xs.data(), ldx, y, ldy); });
        }
    std::vector<float> x(64, 1.f), y(64);
    failed += expect_status("layer_norm ldx", rf_layer_norm(nullptr, 2, 8, x.data(), 7, nullptr, nullptr, 1e-5f, y.data(), 8), RF_ERR_INVALID_ARG);
    failed += expect_status("layer_norm eps", rf_layer_norm(nullptr, 2, 8, x.data(), 8, nullptr, nullptr, -1.f, y.data(), 8), RF_ERR_INVALID_ARG);
    failed += expect_status("layer_norm NULL", rf_layer_norm(nullptr, 2, 8, nullptr, 8, nullptr, nullptr, 1e-5f, y.data(), 8), RF_ERR_INVALID_ARG);
    failed += expect_status("rms_norm ldy", rf_rms_norm(nullptr, 2, 8, x.data(), 8, nullptr, 1e-5f, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("rms_norm m < 0", rf_rms_norm(nullptr, -2, 8, x.data(), 8, nullptr, 1e-5f, y.data(), 8), RF_ERR_INVALID_ARG);
    failed += expect_status("softmax NULL y", rf_softmax(nullptr, 2, 8, x.data(), 8, nullptr, 8), RF_ERR_INVALID_ARG);
    failed += expect_status("softmax n < 0", rf_softmax(nullptr, 2, -8, x.data(), 8, y.data(), 8), RF_ERR_INVALID_ARG);
    failed += expect_status("softmax m = 0", rf_softmax(nullptr, 0, 8, nullptr, 8, nullptr, 8), RF_OK);
    return failed;
}

SANITIZE_CASE(topk) {
    int failed = 0;
    Rng rng(23);
    for (int64_t m : {int64_t(1), int64_t(6), int64_t(200)})
        for (int64_t n : {int64_t(1), int64_t(3), int64_t(17), int64_t(130), int64_t(1000)})
            for (int64_t k : {int64_t(1), int64_t(2), int64_t(5), int64_t(64), int64_t(65), n}) {
                if (k > n) continue;
                const int64_t ldx = n + 2, ldk = k + 1;
                auto x = rng.floats(size_t(m * ldx));
                for (size_t i = 0; i < x.size(); ++i) {  // ties, NaNs and infinities
                    uint64_t r = rng.next() % 16;
                    if (r == 0) x[i] = 0.25f;
                    if (r == 1) x[i] = NAN;
                    if (r == 2) x[i] = -INFINITY;
                    if (r == 3) x[i] = -0.f;
                    if (r == 4) x[i] = 0.f;
                }
                std::vector<float> wv(size_t(m * ldk), 9.f), gv;
                std::vector<int32_t> wi(size_t(m * ldk), -9), gi;
                rf_set_isa(RF_ISA_REF);
                failed += expect_status("topk ref", rf_topk(nullptr, m, n, k, x.data(), ldx, wv.data(), wi.data(), ldk), RF_OK);
                for (int isa : supported_isas()) {
                    rf_set_isa(isa);
                    gv.assign(wv.size(), 9.f);
                    gi.assign(wi.size(), -9);
                    std::string w = tag("topk", isa, n, k);
                    failed += expect_status(w.c_str(), rf_topk(nullptr, m, n, k, x.data(), ldx, gv.data(), gi.data(), ldk), RF_OK);
                    if (gi != wi || std::memcmp(gv.data(), wv.data(), gv.size() * 4) != 0) {
                        std::printf("  FAIL %s: values/indices differ from the reference\n", w.c_str());
                        ++failed;
                    }
                }
            }
    // Known answer: descending, ties by lower index, NaN last.
    float x[6] = {1.f, NAN, 3.f, 1.f, -INFINITY, 3.f};
    float v[6];
    int32_t ix[6];
    const int32_t want[6] = {2, 5, 0, 3, 4, 1};
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        failed += expect_status("topk known", rf_topk(nullptr, 1, 6, 6, x, 6, v, ix, 6), RF_OK);
        if (std::memcmp(ix, want, sizeof want) != 0) {
            std::printf("  FAIL topk known answer on isa %d: %d %d %d %d %d %d\n", isa, ix[0], ix[1], ix[2], ix[3], ix[4], ix[5]);
            ++failed;
        }
    }
    failed += expect_status("topk k = 0", rf_topk(nullptr, 1, 6, 0, x, 6, v, ix, 6), RF_ERR_INVALID_ARG);
    failed += expect_status("topk k > n", rf_topk(nullptr, 1, 6, 7, x, 6, v, ix, 7), RF_ERR_INVALID_ARG);
    failed += expect_status("topk ldk", rf_topk(nullptr, 1, 6, 3, x, 6, v, ix, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("topk NULL indices", rf_topk(nullptr, 1, 6, 3, x, 6, v, nullptr, 3), RF_ERR_INVALID_ARG);
    failed += expect_status("topk m = 0", rf_topk(nullptr, 0, 6, 3, nullptr, 6, nullptr, nullptr, 3), RF_OK);
    return failed;
}

SANITIZE_CASE(gather_scatter_rows) {
    int failed = 0;
    Rng rng(24);
    for (int64_t n : {int64_t(1), int64_t(9), int64_t(500)})
        for (int64_t d : kWidths)
            for (int64_t rows : {int64_t(1), int64_t(4), int64_t(37)}) {
                const int64_t lds = d + 1, ldd = d + 2;
                std::vector<int32_t> idx(static_cast<size_t>(n));
                for (auto &i : idx) i = int32_t(rng.next() % uint64_t(rows));  // repeats
                auto w = rng.floats(size_t(n));
                auto table = rng.floats(size_t(rows * lds));
                auto src = rng.floats(size_t(n * lds));
                auto base = rng.floats(size_t(rows * ldd));
                for (int weighted = 0; weighted < 2; ++weighted) {
                    const float *wp = weighted ? w.data() : nullptr;
                    failed += parity(tag("gather_rows", weighted, n, d), size_t(n * ldd), 0.f, [&](float *y) {
                        return rf_gather_rows(nullptr, n, d, table.data(), lds, rows, idx.data(), wp, y, ldd);
                    });
                    // Scatter-add is order-dependent; the fast paths keep the reference's order per element.
                    failed += parity(tag("scatter_add_rows", weighted, n, d), size_t(rows * ldd), weighted ? 1e-6f : 0.f, [&](float *y) {
                        std::memcpy(y, base.data(), base.size() * 4);
                        return rf_scatter_add_rows(nullptr, n, d, src.data(), lds, idx.data(), wp, y, ldd, rows);
                    });
                }
            }
    // Thread-count independence.
    {
        const int64_t n = 4000, d = 64, rows = 10;
        std::vector<int32_t> idx(static_cast<size_t>(n));
        for (auto &i : idx) i = int32_t(rng.next() % uint64_t(rows));
        auto src = rng.floats(size_t(n * d));
        auto w = rng.floats(size_t(n));
        int32_t saved = 1;
        rf_get_num_threads(&saved);
        rf_set_isa(supported_isas().back());
        std::vector<float> a(size_t(rows * d), 0.f), b(size_t(rows * d), 0.f);
        rf_set_num_threads(1);
        failed += expect_status("scatter 1 thread", rf_scatter_add_rows(nullptr, n, d, src.data(), d, idx.data(), w.data(), a.data(), d, rows), RF_OK);
        rf_set_num_threads(3);  // fresh workers must pick up the very next job
        failed += expect_status("scatter 3 threads", rf_scatter_add_rows(nullptr, n, d, src.data(), d, idx.data(), w.data(), b.data(), d, rows), RF_OK);
        rf_set_num_threads(saved);
        failed += expect_close("scatter thread independence", b.data(), a.data(), a.size(), 0.f);
    }
    std::vector<float> t(40), y(40);
    std::vector<int32_t> idx = {0, 3, 1};
    failed += expect_status("gather ok", rf_gather_rows(nullptr, 3, 4, t.data(), 4, 4, idx.data(), nullptr, y.data(), 4), RF_OK);
    idx[1] = 4;
    failed += expect_status("gather idx == rows", rf_gather_rows(nullptr, 3, 4, t.data(), 4, 4, idx.data(), nullptr, y.data(), 4), RF_ERR_OUT_OF_RANGE);
    idx[1] = -1;
    failed += expect_status("gather idx < 0", rf_gather_rows(nullptr, 3, 4, t.data(), 4, 4, idx.data(), nullptr, y.data(), 4), RF_ERR_OUT_OF_RANGE);
    failed += expect_status("scatter idx < 0", rf_scatter_add_rows(nullptr, 3, 4, t.data(), 4, idx.data(), nullptr, y.data(), 4, 4), RF_ERR_OUT_OF_RANGE);
    idx[1] = 2;
    failed += expect_status("gather lds", rf_gather_rows(nullptr, 3, 4, t.data(), 3, 4, idx.data(), nullptr, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("gather NULL idx", rf_gather_rows(nullptr, 3, 4, t.data(), 4, 4, nullptr, nullptr, y.data(), 4), RF_ERR_INVALID_ARG);
    failed += expect_status("scatter ldd", rf_scatter_add_rows(nullptr, 3, 4, t.data(), 4, idx.data(), nullptr, y.data(), 3, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("scatter NULL dst", rf_scatter_add_rows(nullptr, 3, 4, t.data(), 4, idx.data(), nullptr, nullptr, 4, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("scatter n < 0", rf_scatter_add_rows(nullptr, -3, 4, t.data(), 4, idx.data(), nullptr, y.data(), 4, 4), RF_ERR_INVALID_ARG);
    failed += expect_status("scatter n = 0", rf_scatter_add_rows(nullptr, 0, 4, nullptr, 4, nullptr, nullptr, nullptr, 4, 4), RF_OK);
    return failed;
}
