// Driver of the sanitizer build: runs every registered case, exits non-zero on any failure.
#include "sanitize.h"

#include <cstring>

namespace sanitize {

struct Case {
    const char *name;
    CaseFn fn;
};

static std::vector<Case> &cases() {
    static std::vector<Case> c;
    return c;
}

int register_case(const char *name, CaseFn fn) {
    cases().push_back({name, fn});
    return 0;
}

std::vector<int> supported_isas() {
    int32_t active = 0, best = 0;
    rf_get_isa(&active, &best);
    std::vector<int> out;
    for (int i = RF_ISA_REF; i <= best; ++i) out.push_back(i);
    return out;
}

int expect_close(const char *what, const float *got, const float *ref, size_t n, float tol) {
    float scale = 1e-6f;
    for (size_t i = 0; i < n; ++i) scale = std::fmax(scale, std::fabs(ref[i]));
    for (size_t i = 0; i < n; ++i) {
        float err = std::fabs(got[i] - ref[i]) / scale;
        if (!(err <= tol)) {
            std::printf("  FAIL %s: [%zu] got %g want %g (normalised error %g > %g)\n", what, i, got[i], ref[i], err, tol);
            return 1;
        }
    }
    return 0;
}

int expect_status(const char *what, rf_status got, rf_status want) {
    if (got == want) return 0;
    std::printf("  FAIL %s: status %d, want %d (%s)\n", what, got, want, rf_last_error());
    return 1;
}

}  // namespace sanitize

int main(int argc, char **argv) {
    int failed = 0, ran = 0;
    for (auto &c : sanitize::cases()) {
        if (argc > 1 && std::strstr(c.name, argv[1]) == nullptr) continue;
        int f = c.fn();
        ++ran;
        std::printf("%s %s\n", f == 0 ? "ok  " : "FAIL", c.name);
        failed += f != 0;
    }
    rf_set_isa(RF_ISA_REF);
    std::printf("%d passed, %d failed\n", ran - failed, failed);
    return failed == 0 ? 0 : 1;
}
