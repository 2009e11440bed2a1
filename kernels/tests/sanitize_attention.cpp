// Sanitizer cases for rf_target_attention: every ISA against the reference on
// small odd shapes (masked steps, several requests), and bad arguments.
#include "sanitize.h"

using namespace sanitize;

SANITIZE_CASE(target_attention) {
    int failed = 0;
    struct Shape { int64_t n, T, d, h, requests; };
    for (Shape s : {Shape{1, 1, 1, 1, 1}, Shape{5, 3, 7, 17, 2}, Shape{9, 13, 16, 33, 3}, Shape{2, 4, 5, 0, 1}}) {
        Rng rng(uint64_t(s.n * 100 + s.T * 10 + s.d));
        auto q = rng.floats(size_t(s.n * s.d)), keys = rng.floats(size_t(s.requests * s.T * s.d));
        auto qp = rng.floats(size_t(s.n * s.h)), kp = rng.floats(size_t(s.requests * s.T * s.h));
        auto wqk = rng.floats(size_t(s.h * s.d)), w2 = rng.floats(size_t(s.h));
        std::vector<float> mask(size_t(s.requests * s.T));
        for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 3 == 1 ? 0.f : 1.f;
        std::vector<int32_t> req(size_t(s.n));
        for (int64_t i = 0; i < s.n; ++i) req[size_t(i)] = int32_t(i % s.requests);
        auto run = [&](std::vector<float> &out) {
            return rf_target_attention(nullptr, s.n, s.T, s.d, s.h, q.data(), s.d, keys.data(), s.T * s.d, mask.data(), s.T,
                                       req.data(), s.requests, qp.data(), s.h, kp.data(), wqk.data(), w2.data(), 0.3f,
                                       RF_ACT_SIGMOID, out.data(), s.d);
        };
        std::vector<float> want(size_t(s.n * s.d)), got(want.size());
        rf_set_isa(RF_ISA_REF);
        failed += expect_status("attention ref", run(want), RF_OK);
        for (int isa : supported_isas()) {
            rf_set_isa(isa);
            failed += expect_status("attention", run(got), RF_OK);
            failed += expect_close("attention", got.data(), want.data(), got.size(), 1e-5f);
        }
    }
    float x[16] = {}, y[16];
    int32_t bad_req[2] = {0, 5};
    failed += expect_status("attention bad request", rf_target_attention(nullptr, 2, 2, 2, 2, x, 2, x, 4, x, 2, bad_req, 1, x, 2, x, x, x, 0.f, 0, y, 2), RF_ERR_OUT_OF_RANGE);
    failed += expect_status("attention bad ld", rf_target_attention(nullptr, 2, 2, 2, 2, x, 2, x, 3, x, 2, bad_req, 6, x, 2, x, x, x, 0.f, 0, y, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("attention bad act", rf_target_attention(nullptr, 2, 2, 2, 2, x, 2, x, 4, x, 2, bad_req, 6, x, 2, x, x, x, 0.f, 42, y, 2), RF_ERR_INVALID_ARG);
    failed += expect_status("attention null", rf_target_attention(nullptr, 2, 2, 2, 2, nullptr, 2, x, 4, x, 2, bad_req, 6, x, 2, x, x, x, 0.f, 0, y, 2), RF_ERR_INVALID_ARG);
    return failed;
}
