// rf_seq_attention / rf_hstu_attention compiled per ISA, flash-style:
//   tasks = (item, head, block of QB query rows), handed to the pool longest first
//   per task: Qs = scale * Q block; O = 0; m = -inf; l = 0
//     for each kv tile of KT rows that some query of the block sees:
//       pack Kᵀ [d][KT] and V [KT][dvp] of the tile (zero-padded)
//       for each micro-tile of MR query rows that sees the tile:
//         S = Qs · Kᵀ                      (MR × 16 register block, 8-wide FMA)
//         S += rab; S = -inf where masked
//         softmax: m' = max(m, rowmax S); P = exp(S - m'); l = l e^(m-m') + ΣP; O *= e^(m-m')
//         HSTU:    P = SiLU(S) / n (0 where masked)
//         O += P · V                      (MR × 16 register block)
//     out = softmax ? O / l : O
// Scratch per thread is O(QB·(d + dv) + KT·(d + dv)), independent of L.
#include "../sequence_attention.h"
#include "../vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace rf::RF_ISA_NS {
namespace {

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

constexpr int MR = 6;   // query rows of a register block
constexpr int KT = 64;  // kv rows of a tile
constexpr int QB = 96;  // query rows of a task (a multiple of MR): amortises packing each kv tile

inline v8 ld8(const float *p) {
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void st8(float *p, v8 v) { std::memcpy(p, &v, sizeof v); }
inline v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }
inline v8 fma8(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
    return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}
inline v8 vmax8(v8 a, v8 b) { return a > b ? a : b; }

// vexp of vector_math.h, 8 lanes at once.
inline v8 vexp8(v8 x) {
    const v8 lo = splat(-87.33654f), hi = splat(88.72283f);
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    v8 n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
    v8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v8 p = splat(1.9875691500E-4f);
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    const v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
    return p * (v8)e;
}

// S[MR][KT] (columns [0, cols), cols a multiple of 16) = Qs[MR][d] · Kt[d][KT].
inline void qk_block(const float *Qs, int64_t d, const float *Kt, int cols, float *S) {
    for (int j0 = 0; j0 < cols; j0 += 16) {
        v8 acc[MR][2] = {};
        for (int64_t c = 0; c < d; ++c) {
            const v8 k0 = ld8(Kt + c * KT + j0), k1 = ld8(Kt + c * KT + j0 + 8);
            for (int r = 0; r < MR; ++r) {
                const v8 q = splat(Qs[r * d + c]);
                acc[r][0] = fma8(q, k0, acc[r][0]);
                acc[r][1] = fma8(q, k1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            st8(S + r * KT + j0, acc[r][0]);
            st8(S + r * KT + j0 + 8, acc[r][1]);
        }
    }
}

// O[MR][dvp] += P[MR][0..jn) · Vp[jn][dvp] (dvp a multiple of 16).
inline void pv_block(const float *P, const float *Vp, int64_t dvp, int jn, float *O) {
    for (int64_t c0 = 0; c0 < dvp; c0 += 16) {
        v8 acc[MR][2];
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = ld8(O + r * dvp + c0);
            acc[r][1] = ld8(O + r * dvp + c0 + 8);
        }
        for (int j = 0; j < jn; ++j) {
            const v8 v0 = ld8(Vp + j * dvp + c0), v1 = ld8(Vp + j * dvp + c0 + 8);
            for (int r = 0; r < MR; ++r) {
                const v8 p = splat(P[r * KT + j]);
                acc[r][0] = fma8(p, v0, acc[r][0]);
                acc[r][1] = fma8(p, v1, acc[r][1]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            st8(O + r * dvp + c0, acc[r][0]);
            st8(O + r * dvp + c0 + 8, acc[r][1]);
        }
    }
}

struct Task {
    int64_t b, i0, h, cost;
};

struct Scratch {
    std::vector<float> qs, o, kt, vp, s, m, l;
    std::vector<SeqVisible> vis;
};

void run_task(const SeqAttnArgs &a, const Task &t, Scratch &sc) {
    const int64_t d = a.d, dv = a.dv, dvp = (dv + 15) / 16 * 16, h = t.h;
    const int64_t q0 = a.q_offsets[t.b], nq = a.q_offsets[t.b + 1] - q0;
    const int64_t k0 = a.kv_offsets[t.b], nk = a.kv_offsets[t.b + 1] - k0;
    const int64_t nh = seq_history(a, t.b, nk);
    const int64_t rows = std::min<int64_t>(QB, nq - t.i0);
    float *Qs = sc.qs.data(), *O = sc.o.data(), *Kt = sc.kt.data(), *Vp = sc.vp.data(), *S = sc.s.data();
    float *M = sc.m.data(), *L = sc.l.data();
    SeqVisible *vis = sc.vis.data();
    std::fill(Qs, Qs + QB * d, 0.f);
    std::fill(O, O + QB * dvp, 0.f);
    int64_t kv_end = 0;
    for (int64_t r = 0; r < QB; ++r) {
        M[r] = -INFINITY;
        L[r] = 0.f;
        if (r >= rows) {
            vis[r] = {0, 0, -1};
            continue;
        }
        const float *qr = a.q + (q0 + t.i0 + r) * a.ldq + h * d;
        for (int64_t c = 0; c < d; ++c) Qs[r * d + c] = a.scale * qr[c];
        vis[r] = seq_visible(a.mask, t.i0 + r + nk - nq, nk, nh);
        kv_end = std::max(kv_end, std::max(vis[r].hi, vis[r].self + 1));
    }
    const float inv_n = a.pointwise ? 1.f / float(a.norm_len > 0 ? a.norm_len : std::max<int64_t>(nk, 1)) : 0.f;
    const float *rab = a.rab ? a.rab + h * a.num_buckets : nullptr;
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
            }
            qk_block(Qs + mt * d, d, Kt, mcols, S);
            for (int r = 0; r < MR; ++r) {
                float *Sr = S + r * KT;
                if (r >= mr) {
                    std::fill(Sr, Sr + mcols, 0.f);
                    continue;
                }
                const int64_t i = t.i0 + mt + r, p = i + nk - nq;
                if (rab) {
                    const int64_t qp = a.q_pos ? a.q_pos[q0 + i] : p;
                    for (int jj = 0; jj < jl; ++jj) {
                        const int64_t kp = a.kv_pos ? a.kv_pos[k0 + j0 + jj] : j0 + jj;
                        Sr[jj] += rab[seq_bucket(qp, kp, a.num_buckets)];
                    }
                }
                if (!full) {
                    const SeqVisible &v = vis[mt + r];
                    for (int jj = 0; jj < jl; ++jj) {
                        const int64_t j = j0 + jj;
                        if (!((j >= v.lo && j < v.hi) || j == v.self)) Sr[jj] = -INFINITY;
                    }
                }
                for (int jj = jl; jj < mcols; ++jj) Sr[jj] = -INFINITY;
                const v8 ninf = splat(-INFINITY), zero = v8{};
                if (a.pointwise) {
                    const v8 scale = splat(inv_n);
                    for (int jj = 0; jj < mcols; jj += 8) {
                        const v8 x = ld8(Sr + jj);
                        const v8 y = x / (1.f + vexp8(-x)) * scale;
                        st8(Sr + jj, x == ninf ? zero : y);
                    }
                    continue;
                }
                v8 mx = ninf;
                for (int jj = 0; jj < mcols; jj += 8) mx = vmax8(mx, ld8(Sr + jj));
                float tile_max = mx[0];
                for (int e = 1; e < 8; ++e) tile_max = mx[e] > tile_max ? mx[e] : tile_max;
                if (tile_max == -INFINITY) {  // nothing visible in this row of the tile
                    std::fill(Sr, Sr + mcols, 0.f);
                    continue;
                }
                const float mnew = M[mt + r] > tile_max ? M[mt + r] : tile_max;
                const v8 mv = splat(mnew);
                v8 sum = zero;
                for (int jj = 0; jj < mcols; jj += 8) {
                    const v8 x = ld8(Sr + jj);
                    const v8 e = x == ninf ? zero : vexp8(x - mv);
                    st8(Sr + jj, e);
                    sum += e;
                }
                float tile_sum = 0.f;
                for (int e = 0; e < 8; ++e) tile_sum += sum[e];
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
        }
    }
}

}  // namespace

rf_status seq_attention(const SeqAttnArgs &a) {
    std::vector<Task> tasks;
    for (int64_t b = 0; b < a.batch; ++b) {
        const int64_t nq = a.q_offsets[b + 1] - a.q_offsets[b], nk = a.kv_offsets[b + 1] - a.kv_offsets[b];
        for (int64_t i0 = 0; i0 < nq; i0 += QB)
            for (int64_t h = 0; h < a.heads; ++h) tasks.push_back({b, i0, h, std::min<int64_t>(QB, nq - i0) * (nk + 1)});
    }
    // Longest first: the pool hands tasks out in order, so the long sequences of a jagged batch start early.
    std::stable_sort(tasks.begin(), tasks.end(), [](const Task &x, const Task &y) { return x.cost > y.cost; });
    const int64_t dvp = (a.dv + 15) / 16 * 16;
    const size_t threads = size_t(num_threads());
    std::vector<Scratch> scratch(threads);
    parallel_for(int64_t(tasks.size()), [&](int64_t i, int thread) {
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
        }
        run_task(a, tasks[size_t(i)], sc);
    });
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
