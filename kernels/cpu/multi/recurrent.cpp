// The GRU recurrence, compiled once per ISA (RF_ISA_NS). Rows are independent:
// blocks of 8 rows are split over the pool, and within a block the rows are the
// lanes of GCC vector types — state and gates stored [unit] of 8 rows, the
// projection h·Rᵀ as broadcast-FMAs of each weight over the block's rows,
// sigmoid/tanh (vector_math.h's exp polynomial) across rows — so nothing needs
// a horizontal sum or a long h.
#include "../recurrent.h"
#include "../row_ops.h"
#include "../vector_math.h"

#include <vector>

namespace rf::RF_ISA_NS {

namespace {

// Rows per block: the rows of a block are the lanes of one 8-float vector (a
// ymm with AVX2, two xmm portable), so state and gates are stored [unit] of vf.
constexpr int RB = 8;
typedef float vf __attribute__((vector_size(RB * 4)));
typedef int32_t vi __attribute__((vector_size(RB * 4)));

inline vf splat(float x) { return vf{} + x; }

// vector_math.h's exp over the lanes.
inline vf vexpv(vf x) {
    vf n;
    vf p = vexp_poly(x, n);
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)e;
}

inline vf sigmoidv(vf x) { return 1.f / (1.f + vexpv(-x)); }

// tanh as 2σ(2x) − 1, x clamped where tanh is ±1 in f32 (absolute error ~1e-7 near 0).
inline vf tanhv(vf x) {
    x = x < -9.f ? splat(-9.f) : x;
    x = x > 9.f ? splat(9.f) : x;
    return 2.f / (1.f + vexpv(-2.f * x)) - 1.f;
}

struct Block {
    int64_t first, rows;  // rows [first, first + rows) of the batch, rows <= RB
};

// One block of rows through every step; scratch: hs, rh [h], gh, g [3h] (vectors of RB rows).
void gru_block(Block blk, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt, const float *rb,
               const float *h0, int64_t ldh0, int32_t lbr, int32_t reverse, float *y, int64_t ldy, vf *hs, vf *rh, vf *gh,
               vf *g) {
    const int64_t g3 = 3 * h;
    for (int64_t k = 0; k < h; ++k)
        for (int r = 0; r < RB; ++r) hs[k][r] = (h0 && r < blk.rows) ? h0[(blk.first + r) * ldh0 + k] : 0.f;
    for (int64_t step = 0; step < steps; ++step) {
        const int64_t t = reverse ? steps - 1 - step : step;
        // This step's input projections, transposed to [3h] of RB rows (rows past the batch repeat row 0's).
        for (int r = 0; r < RB; ++r) {
            const float *src = gx + (blk.first + (r < blk.rows ? r : 0)) * ldgx + t * g3;
            for (int64_t i = 0; i < g3; ++i) g[i][r] = src[i];
        }
        // gh = rb + h·Rᵀ (the n block from r ⊙ h instead when linear_before_reset = 0).
        const int64_t cols = lbr ? g3 : 2 * h;
        for (int64_t i = 0; i < g3; ++i) gh[i] = splat(rb ? rb[i] : 0.f);
        for (int64_t k = 0; k < h; ++k) {
            const float *row = rt + k * g3;
            const vf sk = hs[k];
            for (int64_t i = 0; i < cols; ++i) gh[i] += row[i] * sk;
        }
        for (int64_t i = 0; i < h; ++i) rh[i] = sigmoidv(g[h + i] + gh[h + i]);
        vf *pn = gh + 2 * h;
        if (lbr) {
            for (int64_t i = 0; i < h; ++i) pn[i] = tanhv(g[2 * h + i] + rh[i] * pn[i]);
        } else {
            for (int64_t i = 0; i < h; ++i) rh[i] *= hs[i];
            for (int64_t k = 0; k < h; ++k) {
                const float *row = rt + k * g3 + 2 * h;
                const vf rk = rh[k];
                for (int64_t i = 0; i < h; ++i) pn[i] += row[i] * rk;
            }
            for (int64_t i = 0; i < h; ++i) pn[i] = tanhv(g[2 * h + i] + pn[i]);
        }
        for (int64_t i = 0; i < h; ++i) {
            const vf z = sigmoidv(g[i] + gh[i]);
            hs[i] = (1.f - z) * pn[i] + z * hs[i];
        }
        for (int r = 0; r < blk.rows; ++r) {
            float *dst = y + (blk.first + r) * ldy + t * h;
            for (int64_t i = 0; i < h; ++i) dst[i] = hs[i][r];
        }
    }
}

}  // namespace

rf_status gru_sequence(int64_t m, int64_t steps, int64_t h, const float *gx, int64_t ldgx, const float *rt, const float *rb,
                       const float *h0, int64_t ldh0, int32_t linear_before_reset, int32_t reverse, float *y, int64_t ldy) {
    const int64_t blocks = (m + RB - 1) / RB;
    for_rows(blocks, steps * 3 * h * h * RB, [&](int64_t bi) {
        thread_local std::vector<vf> scratch;
        if (scratch.size() < size_t(8 * h)) scratch.resize(size_t(8 * h));  // hs, rh: h each; gh, g: 3h each
        vf *hs = scratch.data(), *rh = hs + h, *gh = rh + h, *g = gh + 3 * h;
        const Block blk{bi * RB, m - bi * RB < RB ? m - bi * RB : RB};
        gru_block(blk, steps, h, gx, ldgx, rt, rb, h0, ldh0, linear_before_reset, reverse, y, ldy, hs, rh, gh, g);
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
