// Sanitizer cases for rf_binary / rf_activation.
#include "sanitize.h"

using namespace sanitize;

SANITIZE_CASE(elementwise) {
    int failed = 0;
    Rng rng(1);
    const int64_t m = 5, n = 37, ld = 41;
    auto a = rng.floats(m * ld), b = rng.floats(m * ld);
    for (int op = RF_BINARY_ADD; op <= RF_BINARY_MIN; ++op) {
        std::vector<float> want(m * n), got(m * n);
        rf_set_isa(RF_ISA_REF);
        failed += expect_status("binary ref", rf_binary(nullptr, op, m, n, a.data(), ld, b.data(), 0, want.data(), n), RF_OK);
        for (int isa : supported_isas()) {
            rf_set_isa(isa);
            failed += expect_status("binary", rf_binary(nullptr, op, m, n, a.data(), ld, b.data(), 0, got.data(), n), RF_OK);
            failed += expect_close("binary", got.data(), want.data(), got.size(), 1e-6f);
        }
    }
    for (int act = RF_ACT_NONE; act <= RF_ACT_TANH; ++act) {
        std::vector<float> want(m * n), got(m * n);
        rf_set_isa(RF_ISA_REF);
        rf_activation(nullptr, act, m, n, a.data(), ld, want.data(), n);
        for (int isa : supported_isas()) {
            rf_set_isa(isa);
            failed += expect_status("activation", rf_activation(nullptr, act, m, n, a.data(), ld, got.data(), n), RF_OK);
            failed += expect_close("activation", got.data(), want.data(), got.size(), 1e-5f);
        }
    }
    std::vector<float> y(m * n);
    failed += expect_status("binary bad op", rf_binary(nullptr, 99, m, n, a.data(), ld, b.data(), 0, y.data(), n), RF_ERR_INVALID_ARG);
    failed += expect_status("binary bad ld", rf_binary(nullptr, 0, m, n, a.data(), 3, b.data(), 0, y.data(), n), RF_ERR_INVALID_ARG);
    failed += expect_status("activation null", rf_activation(nullptr, 1, m, n, nullptr, ld, y.data(), n), RF_ERR_INVALID_ARG);
    return failed;
}
