// The device kernels of CUDA's cuBLASLt bf16 and int8 GEMMs
// (kernels/device/gemm_split.cl) compiled as host C++ and run over their
// whole ranges, with plain loops standing in for the two cuBLASLt products
// (bf16 digits · bf16 W accumulated in fp32 into one output; int8 digits ·
// int8 W in int32). Checks what no GPU is needed for: the digits, the
// recombination and the epilogue against a double-precision X·Wᵀ, within
// bounds derived from the digits' resolution (bf16: 2^-16 |x|; int8: half
// an int16 level of the row). Prints "<n> passed, <f> failed".
// Build: g++ -std=c++17 -O1 kernels/tests/gemm_split_host.cpp (tests/kernels/gemm-split.test.ts).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef signed char rf_i8;
#define RF_KERNEL static
#define RF_FN static inline
#define RF_GLOBAL
using std::erf;
using std::exp;
using std::fabs;
using std::fmax;
using std::rint;
using std::sqrt;
using std::tanh;

static size_t g_id[2];
static size_t get_global_id(int d) { return g_id[d]; }
static float as_float(uint u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static uint as_uint(float f) {
    uint u;
    std::memcpy(&u, &f, 4);
    return u;
}
static float rf_half(const ushort *) { return 0.f; }  // common.cl's f16_to_f32 (unused here)

#include "../device/common.cl"
#include "../device/gemm_split.cl"

namespace {

// Run `f` at every work-item of a g0 × g1 range, as a launch would.
template <class F> void launch(size_t g0, size_t g1, F f) {
    for (size_t i = 0; i < g1; ++i)
        for (size_t j = 0; j < g0; ++j) {
            g_id[0] = j;
            g_id[1] = i;
            f();
        }
}

double act_ref(int act, double x) {
    switch (act) {
    case 1: return x > 0 ? x : 0;
    case 4: return 1 / (1 + std::exp(-x));
    default: return x;
    }
}

int passed = 0, failed = 0;

void check(const char *what, bool ok) {
    if (ok) ++passed;
    else {
        ++failed;
        std::printf("FAIL %s\n", what);
    }
}

// X [m][k] with a zero row, an outlier and values spanning magnitudes.
std::vector<float> make_x(int64_t m, int64_t k, std::mt19937 &rng) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t l = 0; l < k; ++l) x[size_t(i * k + l)] = i == 1 ? 0.f : u(rng) * std::pow(10.f, float(i % 3) - 1.f);
    if (m > 2) x[size_t(2 * k + 3)] = 250.f;
    return x;
}

void case_i8(int64_t m, int64_t n, int64_t k, int act, std::mt19937 &rng) {
    std::vector<float> x = make_x(m, k, rng), bias(static_cast<size_t>(n)), wscale(static_cast<size_t>(n)), res(static_cast<size_t>(m * n)), y(static_cast<size_t>(m * n));
    std::vector<rf_i8> w(static_cast<size_t>(n * k)), hi(static_cast<size_t>(m * k)), lo(static_cast<size_t>(m * k));
    std::vector<float> scale(static_cast<size_t>(m));
    std::vector<int> colsum(size_t(n), 0), d(static_cast<size_t>(2 * m * n));
    std::uniform_int_distribution<int> wi(-127, 127);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto &v : w) v = rf_i8(wi(rng));
    for (int64_t j = 0; j < n; ++j) {
        bias[size_t(j)] = u(rng);
        wscale[size_t(j)] = 0.01f * (1.f + u(rng) * 0.5f);
        for (int64_t l = 0; l < k; ++l) colsum[size_t(j)] += w[size_t(j * k + l)];
    }
    for (auto &v : res) v = u(rng);
    launch(size_t(m), 1, [&] { row_scale_i16(m, k, x.data(), 0, k, scale.data(), 0); });
    launch(size_t(k), size_t(m), [&] { split_i8(m, k, x.data(), 0, k, scale.data(), 0, hi.data(), 0, lo.data(), 0); });
    // The two cuBLASLt products: D_hi, then D_lo, [m][n] int32 each.
    for (int half = 0; half < 2; ++half)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                int32_t acc = 0;
                for (int64_t l = 0; l < k; ++l) acc += int32_t((half ? lo : hi)[size_t(i * k + l)]) * w[size_t(j * k + l)];
                d[size_t(half * m * n + i * n + j)] = acc;
            }
    launch(size_t(n), size_t(m), [&] {
        gemm_i8_split_epilogue(m, n, d.data(), 0, scale.data(), 0, wscale.data(), 0, colsum.data(), 0, bias.data(), 0, act, nullptr, 0, 0,
                               res.data(), 0, n, y.data(), 0, n);
    });
    bool ok = true, exact = true;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            // Against the int16 levels themselves (q recomputed here): only the fp32 rescale's rounding differs.
            const float s = scale[size_t(i)];
            int64_t qdot = 0, qmag = 0;
            for (int64_t l = 0; l < k; ++l) {
                const int64_t q = s > 0 ? std::lrint(x[size_t(i * k + l)] / s) : 0;
                qdot += q * w[size_t(j * k + l)];
                qmag += std::abs(q * w[size_t(j * k + l)]);
            }
            const double qpre = double(s) * wscale[size_t(j)] * double(qdot) + bias[size_t(j)];
            const double qbound = 1e-6 * (double(s) * wscale[size_t(j)] * double(qmag) + std::fabs(bias[size_t(j)]) + std::fabs(res[size_t(i * n + j)]));
            if (!(std::fabs(y[size_t(i * n + j)] - (act_ref(act, qpre) + res[size_t(i * n + j)])) <= qbound)) exact = false;
            double dot = 0, absw = 0;
            for (int64_t l = 0; l < k; ++l) {
                dot += double(x[size_t(i * k + l)]) * wscale[size_t(j)] * w[size_t(j * k + l)];
                absw += std::fabs(double(wscale[size_t(j)]) * w[size_t(j * k + l)]);
            }
            // Half a level per element (and fp32 rounding of the rescale, within the 4%); the activations are 1-Lipschitz or flatter.
            const double pre = dot + bias[size_t(j)];
            const double bound = 0.52 * scale[size_t(i)] * absw + 1e-5 * (1 + std::fabs(pre));
            const double want = act_ref(act, pre) + res[size_t(i * n + j)];
            if (!(std::fabs(y[size_t(i * n + j)] - want) <= bound)) ok = false;
        }
    char what[96];
    std::snprintf(what, sizeof what, "int8 split m=%lld n=%lld k=%lld act=%d", (long long)m, (long long)n, (long long)k, act);
    check(what, ok);
    std::snprintf(what, sizeof what, "int8 split m=%lld n=%lld k=%lld act=%d (exact levels)", (long long)m, (long long)n, (long long)k, act);
    check(what, exact);
    // The digits reassemble the int16 level: q = 256 hi + lo + 128, |q| <= 32767.
    bool digits = true;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t l = 0; l < k; ++l) {
            const int q = 256 * hi[size_t(i * k + l)] + lo[size_t(i * k + l)] + 128;
            const float s = scale[size_t(i)];
            const int want = s > 0 ? int(std::lrint(x[size_t(i * k + l)] / s)) : 0;
            if (q != want || q < -32767 || q > 32767) digits = false;
        }
    std::snprintf(what, sizeof what, "int8 digits m=%lld k=%lld", (long long)m, (long long)k);
    check(what, digits);
}

void case_bf16(int64_t m, int64_t n, int64_t k, std::mt19937 &rng) {
    std::vector<float> x = make_x(m, k, rng);
    std::vector<ushort> w(static_cast<size_t>(n * k)), hi(static_cast<size_t>(m * k)), lo(static_cast<size_t>(m * k));
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto &v : w) v = f32_to_bf16_bits(u(rng));
    const int64_t ldx = k + 3;  // a strided X
    std::vector<float> xs(size_t(m * ldx), -9.f);
    for (int64_t i = 0; i < m; ++i) std::memcpy(&xs[size_t(i * ldx)], &x[size_t(i * k)], size_t(k) * 4);
    launch(size_t(k), size_t(m), [&] { split_bf16(m, k, xs.data(), 0, ldx, hi.data(), 0, lo.data(), 0); });
    bool ok = true;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.f;  // D = lo·Wᵀ, then D += hi·Wᵀ (fp32 accumulation, as cuBLASLt's)
            for (int64_t l = 0; l < k; ++l) acc += bf16_to_f32(lo[size_t(i * k + l)]) * bf16_to_f32(w[size_t(j * k + l)]);
            float acc2 = acc;
            for (int64_t l = 0; l < k; ++l) acc2 += bf16_to_f32(hi[size_t(i * k + l)]) * bf16_to_f32(w[size_t(j * k + l)]);
            double dot = 0, mag = 0;
            for (int64_t l = 0; l < k; ++l) {
                const double p = double(x[size_t(i * k + l)]) * bf16_to_f32(w[size_t(j * k + l)]);
                dot += p;
                mag += std::fabs(p);
            }
            // The split keeps x within 2^-16 (relative); fp32 accumulation adds k · 2^-24 of the magnitude.
            if (!(std::fabs(acc2 - dot) <= mag * (std::ldexp(1.0, -16) + double(k) * std::ldexp(1.0, -23)) + 1e-30)) ok = false;
        }
    char what[96];
    std::snprintf(what, sizeof what, "bf16 split m=%lld n=%lld k=%lld", (long long)m, (long long)n, (long long)k);
    check(what, ok);
    bool digits = true;  // hi is x rounded to bf16 (nearest even), lo the rest rounded
    for (int64_t i = 0; i < m; ++i)
        for (int64_t l = 0; l < k; ++l) {
            const float v = x[size_t(i * k + l)], h = bf16_to_f32(hi[size_t(i * k + l)]);
            if (std::fabs(v - h) > std::ldexp(std::fabs(v), -8) || std::fabs(v - h - bf16_to_f32(lo[size_t(i * k + l)])) > std::ldexp(std::fabs(v), -16))
                digits = false;
        }
    std::snprintf(what, sizeof what, "bf16 digits m=%lld k=%lld", (long long)m, (long long)k);
    check(what, digits);
}

}  // namespace

int main() {
    std::mt19937 rng(7);
    for (int act : {0, 1, 4}) case_i8(5, 37, 1100, act, rng);
    case_i8(1, 1, 4, 1, rng);
    case_i8(3, 64, 256, 0, rng);
    case_bf16(5, 37, 1100, rng);
    case_bf16(1, 3, 1, rng);
    case_bf16(4, 16, 33, rng);
    // Rounding: halfway cases go to even, NaN stays NaN, infinities stay.
    check("bf16 rne halfway", f32_to_bf16_bits(as_float(0x3f808000u)) == 0x3f80 && f32_to_bf16_bits(as_float(0x3f818000u)) == 0x3f82);
    check("bf16 nan", (f32_to_bf16_bits(as_float(0x7fc00001u)) & 0x7fc0) == 0x7fc0 && (f32_to_bf16_bits(as_float(0x7f800001u)) & 0x7f80) == 0x7f80 &&
                          (f32_to_bf16_bits(as_float(0x7f800001u)) & 0x7f) != 0);
    check("bf16 inf", f32_to_bf16_bits(INFINITY) == 0x7f80);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
