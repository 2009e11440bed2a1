// Tiny case registry for the ASan+UBSan driver (kernels/tests/sanitize_*.cpp).
// Each case runs small shapes of one op on every ISA the CPU supports, checks
// against the reference path, and feeds it bad arguments that must come back
// as error statuses. Built by `bun kernels/build.ts --sanitize`.
#pragma once
#include "../include/rankfn.h"

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <vector>

namespace sanitize {

using CaseFn = int (*)();  // returns the number of failed checks
int register_case(const char *name, CaseFn fn);

// Deterministic pseudo-random floats in [-1, 1).
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    float uniform() { return float(next() >> 40) / float(1 << 24) * 2.f - 1.f; }
    std::vector<float> floats(size_t n) {
        std::vector<float> v(n);
        for (auto &x : v) x = uniform();
        return v;
    }
};

// Every ISA this CPU supports, reference first.
std::vector<int> supported_isas();

// max |a-b| / (max |ref| + 1e-6) <= tol, printing the first mismatch.
int expect_close(const char *what, const float *got, const float *ref, size_t n, float tol);
int expect_status(const char *what, rf_status got, rf_status want);

}  // namespace sanitize

#define SANITIZE_CASE(name)                                                         \
    static int name();                                                              \
    [[maybe_unused]] static int name##_registered = sanitize::register_case(#name, name); \
    static int name()
