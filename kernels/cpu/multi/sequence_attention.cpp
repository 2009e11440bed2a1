// rf_seq_attention / rf_hstu_attention compiled per ISA, flash-style:
//   tasks = (item, head, block of QB query rows), handed to the pool longest first;
//           runs of consecutive small items (kv length <= SMALL_KV) share one task
//           and take the direct path (no packing)
//   per task: Qs = scale * Q block; O = 0; m = -inf; l = 0
//     bias source: none | R[m] = rab(|m - base|) (default positions: a row's bias
//       over a tile is one contiguous slice of R) | Bc[j] per tile (every query of
//       the task at one position, as M-FALCON candidates are) | per element
//     for each kv tile of KT rows that some query of the block sees:
//       pack Kᵀ [d][KT] and V [KT][dvp] of the tile (zero-padded)
//       for each micro-tile of MR query rows that sees the tile:
//         S = Qs · Kᵀ                      (MR × 16 register block, 8-wide FMA)
//         one 8-wide pass per row: S += bias; visible = column compares (only on
//         tiles some row does not see whole: causal diagonal, M-FALCON self)
//         softmax: S = -inf where masked; m' = max(m, rowmax S); P = exp(S - m');
//                  l = l e^(m-m') + ΣP; O *= e^(m-m')
//         HSTU:    P = visible ? SiLU(S) / n : 0
//         O += P · V                      (MR × 16 register block)
//     out = softmax ? O / l : O;  lse = m + log(l) where asked (rf_seq_attention_lse)
// Tiles no query of a micro-tile sees are skipped (causal: the upper triangle).
// Scratch per thread is O(QB·(d + dv) + KT·(d + dv) + L) (the bias row R), never O(L²).
#include "sequence_attention_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace rf::RF_ISA_NS {
namespace {

constexpr int QB = 96;       // query rows of a task (a multiple of MR): amortises packing each kv tile
constexpr int SMALL_KV = 8;  // items with at most this many kv rows take the direct path
constexpr int64_t SMALL_TASK = int64_t(1) << 16;  // work (q·kv·heads·(d+dv)) a task of small items gathers

struct Task {
    int64_t b, b_end, i0, h, cost;  // h < 0: a run of small items [b, b_end), every head
};

struct Scratch {
    std::vector<float> qs, o, kt, vp, s, m, l, bias, bc, bt;
    std::vector<int64_t> kp;
    std::vector<SeqVisible> vis;
};

// How a task adds the relative bias.
enum class Bias { none, diagonal, per_column, per_element };

// rab(h, i, j) of one element, for the paths without a precomputed row.
inline float bias_at(const SeqAttnArgs &a, const float *rab, int64_t qp, int64_t kv_row, int64_t j) {
    return rab[seq_bucket(qp, a.kv_pos ? a.kv_pos[kv_row] : j, a.num_buckets)];
}

// Item b (kv length <= SMALL_KV), every head, without packing: the reference's loop with vector dots.
void run_small(const SeqAttnArgs &a, int64_t b) {
    const int64_t q0 = a.q_offsets[b], nq = a.q_offsets[b + 1] - q0;
    const int64_t k0 = a.kv_offsets[b], nk = a.kv_offsets[b + 1] - k0;
    const int64_t nh = seq_history(a, b, nk);
    const float inv_n = a.pointwise ? 1.f / float(a.norm_len > 0 ? a.norm_len : std::max<int64_t>(nk, 1)) : 0.f;
    float s[SMALL_KV];
    int64_t js[SMALL_KV];
    for (int64_t h = 0; h < a.heads; ++h) {
        const float *rab = a.rab ? a.rab + h * a.num_buckets : nullptr;
        for (int64_t i = 0; i < nq; ++i) {
            const int64_t p = i + nk - nq, qp = a.q_pos ? a.q_pos[q0 + i] : p;
            const SeqVisible vis = seq_visible(a.mask, p, nk, nh);
            const float *qr = a.q + (q0 + i) * a.ldq + h * a.d;
            float *o = a.out + (q0 + i) * a.ldo + h * a.dv;
            std::fill(o, o + a.dv, 0.f);
            int n = 0;
            for (int64_t j = 0; j < nk; ++j) {
                if (!((j >= vis.lo && j < vis.hi) || j == vis.self)) continue;
                float x = a.scale * dot_row(qr, a.k + (k0 + j) * a.ldk + h * a.d, a.d);
                if (rab) x += bias_at(a, rab, qp, k0 + j, j);
                s[n] = x;
                js[n++] = j;
            }
            float *lse = a.lse ? a.lse + (q0 + i) * a.heads + h : nullptr;
            if (lse) *lse = -INFINITY;
            if (n == 0) continue;
            if (a.pointwise) {
                for (int t = 0; t < n; ++t) s[t] = s[t] / (1.f + vexp(-s[t])) * inv_n;
            } else {
                float mx = s[0], sum = 0.f;
                for (int t = 1; t < n; ++t) mx = s[t] > mx ? s[t] : mx;
                for (int t = 0; t < n; ++t) sum += (s[t] = vexp(s[t] - mx));
                for (int t = 0; t < n; ++t) s[t] /= sum;
                if (lse) *lse = mx + std::log(sum);
            }
            for (int t = 0; t < n; ++t) {
                const float *vr = a.v + (k0 + js[t]) * a.ldv + h * a.dv;
                for (int64_t c = 0; c < a.dv; ++c) o[c] += s[t] * vr[c];
            }
        }
    }
}

void run_task(const SeqAttnArgs &a, const Task &t, Scratch &sc) {
    const int64_t d = a.d, dv = a.dv, dvp = (dv + 15) / 16 * 16, h = t.h;
    const int64_t q0 = a.q_offsets[t.b], nq = a.q_offsets[t.b + 1] - q0;
    const int64_t k0 = a.kv_offsets[t.b], nk = a.kv_offsets[t.b + 1] - k0;
    const int64_t nh = seq_history(a, t.b, nk);
    const int64_t rows = std::min<int64_t>(QB, nq - t.i0), rows_pad = (rows + MR - 1) / MR * MR;
    float *Qs = sc.qs.data(), *O = sc.o.data(), *Kt = sc.kt.data(), *Vp = sc.vp.data(), *S = sc.s.data();
    float *M = sc.m.data(), *L = sc.l.data(), *Bc = sc.bc.data(), *Bt = sc.bt.data();
    int64_t *KP = sc.kp.data();
    SeqVisible *vis = sc.vis.data();
    std::fill(Qs + rows * d, Qs + rows_pad * d, 0.f);
    std::fill(O, O + rows_pad * dvp, 0.f);
    int64_t kv_end = 0;
    for (int64_t r = 0; r < rows; ++r) {
        M[r] = -INFINITY;
        L[r] = 0.f;
        const float *qr = a.q + (q0 + t.i0 + r) * a.ldq + h * d;
        for (int64_t c = 0; c < d; ++c) Qs[r * d + c] = a.scale * qr[c];
        vis[r] = seq_visible(a.mask, t.i0 + r + nk - nq, nk, nh);
        kv_end = std::max(kv_end, std::max(vis[r].hi, vis[r].self + 1));
    }
    for (int64_t r = rows; r < rows_pad; ++r) vis[r] = {0, 0, -1};
    const float inv_n = a.pointwise ? 1.f / float(a.norm_len > 0 ? a.norm_len : std::max<int64_t>(nk, 1)) : 0.f;
    const float *rab = a.rab ? a.rab + h * a.num_buckets : nullptr;
    // The bias source: default positions make it a function of j - p, so one row R serves every
    // query (row r's bias at kv j is R[j + rows - 1 - r]); one shared query position makes it a
    // function of j alone (a column vector per tile); anything else is per element.
    const int64_t p_last = t.i0 + rows - 1 + nk - nq;
    Bias bias = Bias::none;
    const float *R = nullptr;
    if (rab && !a.q_pos) {
        bias = Bias::diagonal;
        const int64_t len = (kv_end + 15) / 16 * 16 + rows;
        if (int64_t(sc.bias.size()) < len) sc.bias.resize(size_t(len));
        float *Rw = sc.bias.data();
        for (int64_t m = 0; m < len; ++m) Rw[m] = rab[seq_bucket(p_last, m, a.num_buckets)];
        R = Rw;
    } else if (rab) {
        bias = Bias::per_column;
        for (int64_t r = 1; r < rows; ++r)
            if (a.q_pos[q0 + t.i0 + r] != a.q_pos[q0 + t.i0]) bias = Bias::per_element;
    }
    const v8 vinv_n = splat(inv_n);
    [[maybe_unused]] const v8 ninf = splat(-INFINITY), zero = v8{};  // the 8-lane exp pass (no AVX-512)
    for (int64_t j0 = 0; j0 < kv_end; j0 += KT) {
        const int jn = int(std::min<int64_t>(KT, nk - j0));
        const int cols = (jn + 15) / 16 * 16;
        const int64_t j1 = j0 + jn;
        bool packed = false;
        for (int64_t mt = 0; mt < rows; mt += MR) {
            const int mr = int(std::min<int64_t>(MR, rows - mt));
            // Columns [0, jl) of the tile hold every kv some row of the micro-tile sees
            // (every mask's visible set starts at kv 0): a causal diagonal tile computes only those.
            int64_t jend = j0;
            for (int r = 0; r < mr; ++r) {
                const SeqVisible &v = vis[mt + r];
                jend = std::max(jend, std::min(j1, std::max(v.hi, v.self + 1)));
            }
            const int jl = int(jend - j0);
            if (jl <= 0) continue;
            bool full = true;
            for (int r = 0; r < mr; ++r) full = full && vis[mt + r].lo <= j0 && vis[mt + r].hi >= jend;
            const int mcols = (jl + 15) / 16 * 16;
            if (!packed) {
                packed = true;
                for (int jj = 0; jj < cols; ++jj) {
                    if (jj < jn) {
                        const float *kr = a.k + (k0 + j0 + jj) * a.ldk + h * d;
                        const float *vr = a.v + (k0 + j0 + jj) * a.ldv + h * dv;
                        for (int64_t c = 0; c < d; ++c) Kt[c * KT + jj] = kr[c];
                        std::memcpy(Vp + jj * dvp, vr, size_t(dv) * 4);
                        for (int64_t c = dv; c < dvp; ++c) Vp[jj * dvp + c] = 0.f;
                    } else {
                        for (int64_t c = 0; c < d; ++c) Kt[c * KT + jj] = 0.f;
                    }
                }
                if (bias == Bias::per_column || bias == Bias::per_element) {
                    for (int jj = 0; jj < jn; ++jj) KP[jj] = a.kv_pos[k0 + j0 + jj];
                    for (int jj = jn; jj < cols; ++jj) KP[jj] = KP[jn - 1];
                }
                if (bias == Bias::per_column) {
                    const int64_t qp = a.q_pos[q0 + t.i0];
                    for (int jj = 0; jj < cols; ++jj) Bc[jj] = rab[seq_bucket(qp, KP[jj], a.num_buckets)];
                }
            }
            qk_block(Qs + mt * d, d, Kt, mcols, S);
            for (int r = 0; r < MR; ++r) {
                float *Sr = S + r * KT;
                if (r >= mr) {
                    std::fill(Sr, Sr + mcols, 0.f);
                    continue;
                }
                const int64_t i = t.i0 + mt + r;
                const float *Br = bias == Bias::diagonal ? R + j0 + (rows - 1 - (mt + r)) : bias == Bias::per_column ? Bc : nullptr;
                if (bias == Bias::per_element) {
                    const int64_t qp = a.q_pos[q0 + i];
                    if (a.num_buckets <= 52) {
                        for (int jj = 0; jj < mcols; jj += 8) bias8(rab, qp, KP + jj, a.num_buckets, Bt + jj);
                    } else {
                        for (int jj = 0; jj < mcols; ++jj) Bt[jj] = rab[seq_bucket(qp, KP[jj], a.num_buckets)];
                    }
                    Br = Bt;
                }
                // Visible columns of this row, relative to j0 (clamped into int32): [lo, hi) ∪ {self}, below jl.
                const SeqVisible &v = vis[mt + r];
                const auto rel = [&](int64_t j) { return int32_t(std::clamp<int64_t>(j - j0, -1, KT + 1)); };
                const v8i lo = splati(full ? 0 : rel(v.lo)), hi = splati(full ? jl : std::min<int32_t>(rel(v.hi), jl));
                const v8i self = splati(full || v.self < 0 ? -1 : rel(v.self));
                // Tiles every row sees whole, without a ragged tail, need no column compares.
                const bool masked = !full || jl < mcols;
                if (a.pointwise) {
                    if (masked) pointwise_row<true>(Sr, Br, mcols, lo, hi, self, vinv_n);
                    else pointwise_row<false>(Sr, Br, mcols, lo, hi, self, vinv_n);
                    continue;
                }
                const v8 mx = masked ? logits_row<true>(Sr, Br, mcols, lo, hi, self) : logits_row<false>(Sr, Br, mcols, lo, hi, self);
                float tile_max = mx[0];
                for (int e = 1; e < 8; ++e) tile_max = mx[e] > tile_max ? mx[e] : tile_max;
                if (tile_max == -INFINITY) {  // nothing visible in this row of the tile
                    std::fill(Sr, Sr + mcols, 0.f);
                    continue;
                }
                const float mnew = M[mt + r] > tile_max ? M[mt + r] : tile_max;
                float tile_sum = 0.f;
#if defined(__AVX512F__)
                // 16 lanes (mcols is a multiple of 16): the exp is most of the tile's elementwise work.
                const v16 mv16 = v16{} + mnew, ninf16 = v16{} - INFINITY;
                v16 sum16 = {};
                for (int jj = 0; jj < mcols; jj += 16) {
                    const v16 x = load16(Sr + jj);
                    const v16 e = x == ninf16 ? v16{} : vexpv<v16, v16i>(x - mv16);
                    store16(Sr + jj, e);
                    sum16 += e;
                }
                for (int e = 0; e < 16; ++e) tile_sum += sum16[e];
#else
                const v8 mv = splat(mnew);
                v8 sum = zero;
                for (int jj = 0; jj < mcols; jj += 8) {
                    const v8 x = ld8(Sr + jj);
                    const v8 e = x == ninf ? zero : vexp8(x - mv);
                    st8(Sr + jj, e);
                    sum += e;
                }
                for (int e = 0; e < 8; ++e) tile_sum += sum[e];
#endif
                if (M[mt + r] != mnew) {
                    const float alpha = M[mt + r] == -INFINITY ? 0.f : vexp(M[mt + r] - mnew);
                    const v8 av = splat(alpha);
                    float *Or = O + (mt + r) * dvp;
                    for (int64_t c = 0; c < dvp; c += 8) st8(Or + c, ld8(Or + c) * av);
                    L[mt + r] *= alpha;
                    M[mt + r] = mnew;
                }
                L[mt + r] += tile_sum;
            }
            pv_block(S, Vp, dvp, jl, O + mt * dvp);
        }
    }
    for (int64_t r = 0; r < rows; ++r) {
        float *o = a.out + (q0 + t.i0 + r) * a.ldo + h * dv;
        const float *Or = O + r * dvp;
        if (a.pointwise) {
            std::memcpy(o, Or, size_t(dv) * 4);
        } else {
            const float inv = L[r] > 0.f ? 1.f / L[r] : 0.f;
            for (int64_t c = 0; c < dv; ++c) o[c] = Or[c] * inv;
            if (a.lse) a.lse[(q0 + t.i0 + r) * a.heads + h] = L[r] > 0.f ? M[r] + std::log(L[r]) : -INFINITY;
        }
    }
}

}  // namespace

rf_status seq_attention(const SeqAttnArgs &a) {
    std::vector<Task> tasks;
    const int64_t width = std::max<int64_t>(a.d + a.dv, 1);
    for (int64_t b = 0; b < a.batch;) {
        const int64_t nq = a.q_offsets[b + 1] - a.q_offsets[b], nk = a.kv_offsets[b + 1] - a.kv_offsets[b];
        if (nk <= SMALL_KV) {
            // A run of small items: one task until it holds SMALL_TASK of work.
            int64_t e = b, cost = 0;
            while (e < a.batch && cost < SMALL_TASK) {
                const int64_t q = a.q_offsets[e + 1] - a.q_offsets[e], k = a.kv_offsets[e + 1] - a.kv_offsets[e];
                if (k > SMALL_KV) break;
                cost += q * (k + 1) * a.heads * width;
                ++e;
            }
            tasks.push_back({b, e, 0, -1, cost});
            b = e;
            continue;
        }
        for (int64_t i0 = 0; i0 < nq; i0 += QB)
            for (int64_t h = 0; h < a.heads; ++h)
                tasks.push_back({b, b + 1, i0, h, std::min<int64_t>(QB, nq - i0) * (nk + 1) * width});
        ++b;
    }
    // Longest first: the pool hands tasks out in order, so the long sequences of a jagged batch start early.
    std::stable_sort(tasks.begin(), tasks.end(), [](const Task &x, const Task &y) { return x.cost > y.cost; });
    const int64_t dvp = (a.dv + 15) / 16 * 16;
    const size_t threads = size_t(num_threads());
    std::vector<Scratch> scratch(threads);
    parallel_for(int64_t(tasks.size()), [&](int64_t i, int thread) {
        const Task &t = tasks[size_t(i)];
        if (t.h < 0) {
            for (int64_t b = t.b; b < t.b_end; ++b) run_small(a, b);
            return;
        }
        Scratch &sc = scratch[size_t(thread)];
        if (sc.qs.empty()) {
            sc.qs.resize(size_t(QB * std::max<int64_t>(a.d, 1)));
            sc.o.resize(size_t(QB * dvp));
            sc.kt.resize(size_t(std::max<int64_t>(a.d, 1) * KT));
            sc.vp.resize(size_t(KT * dvp));
            sc.s.resize(size_t(MR * KT));
            sc.m.resize(QB);
            sc.l.resize(QB);
            sc.vis.resize(QB);
            sc.bc.resize(KT);
            sc.bt.resize(KT);
            sc.kp.resize(KT);
        }
        run_task(a, t, sc);
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
