// The sequence section of rankfn.h (formulas there).
// Every kernel bound-checks its work-items against its own sizes: a CUDA grid
// rounds the global size up to whole blocks.
// seq_attention: one work-item per (query row t, head h), global (q_rows, heads):
//   b = the item whose q rows hold t (binary search of q_offsets); p = t - q0 + nk - nq
//   m = -inf; l = 0; O = 0
//   for visible j: s = scale * dot(Q[t,h], K[j,h]) + rab
//     softmax (online): m' = max(m, s); O = O e^(m-m') + e^(s-m') V[j]; l = l e^(m-m') + e^(s-m')
//     pointwise (HSTU): O += SiLU(s) / n · V[j]
//   out = softmax ? O / l : O   (O accumulates in the output row itself)
//   lse (optional, softmax): lse[t*heads + h] = l > 0 ? m + log(l) : -inf
RF_FN long seq_bucket(long qp, long kp, long nb) {
    const ulong delta = qp > kp ? (ulong)(qp - kp) : (ulong)(kp - qp);
    const long b = delta == 0 ? 0 : 64 - (long)clz(delta);
    return b < nb - 1 ? b : nb - 1;
}

RF_KERNEL void seq_attention(long batch, long heads, long d, long dv, GBUF(const float, q), long ldq, GBUF(const long, qo),
                            GBUF(const float, k), long ldk, GBUF(const float, v), long ldv, GBUF(const long, kvo),
                            int mask, GBUF(const long, nc), float scale, GBUF(const float, rab), long nb,
                            GBUF(const long, qpos), GBUF(const long, kvpos), int pointwise, long norm_len,
                            GBUF(float, out), long ldo, GBUF(float, lse)) {
    const long t = get_global_id(0), h = get_global_id(1);
    RF_GLOBAL const long *QO = AT(const long, qo);
    RF_GLOBAL const long *KO = AT(const long, kvo);
    if (h >= heads || t < QO[0]) return;
    long lo = 0, hi = batch - 1;  // the last b with QO[b] <= t
    while (lo < hi) {
        const long mid = (lo + hi + 1) / 2;
        if (QO[mid] <= t) lo = mid; else hi = mid - 1;
    }
    const long b = lo, q0 = QO[b], nq = QO[b + 1] - q0, k0 = KO[b], nk = KO[b + 1] - k0;
    if (t >= QO[b + 1]) return;
    const long i = t - q0, p = i + nk - nq;
    const long nh = mask == 2 ? nk - OPT(const long, nc)[b] : nk;
    long vlo = 0, vhi = nk, self = -1;
    if (mask != 0 && p < 0) vhi = 0;
    else if (mask == 1) vhi = p + 1;
    else if (mask == 2) { if (p < nh) vhi = p + 1; else { vhi = nh; self = p; } }
    RF_GLOBAL float *O = AT(float, out) + t * ldo + h * dv;
    for (long c = 0; c < dv; ++c) O[c] = 0.f;
    RF_GLOBAL const float *Q = AT(const float, q) + t * ldq + h * d;
    RF_GLOBAL const float *R = OPT(const float, rab);
    RF_GLOBAL const long *QP = OPT(const long, qpos);
    RF_GLOBAL const long *KP = OPT(const long, kvpos);
    const float n = (float)(norm_len > 0 ? norm_len : nk);
    float m = -INFINITY, l = 0.f;
    for (long j = vlo; j < nk; ++j) {
        if (!(j < vhi || j == self)) continue;
        RF_GLOBAL const float *K = AT(const float, k) + (k0 + j) * ldk + h * d;
        RF_GLOBAL const float *V = AT(const float, v) + (k0 + j) * ldv + h * dv;
        float s = 0.f;
        for (long c = 0; c < d; ++c) s += Q[c] * K[c];
        s *= scale;
        if (R) s += R[h * nb + seq_bucket(QP ? QP[t] : p, KP ? KP[k0 + j] : j, nb)];
        if (pointwise) {
            const float w = s / (1.f + exp(-s)) / n;
            for (long c = 0; c < dv; ++c) O[c] += w * V[c];
        } else {
            const float mn = fmax(m, s);
            const float alpha = m == -INFINITY ? 0.f : exp(m - mn), e = exp(s - mn);
            for (long c = 0; c < dv; ++c) O[c] = O[c] * alpha + e * V[c];
            l = l * alpha + e;
            m = mn;
        }
    }
    if (!pointwise && l > 0.f) {
        const float inv = 1.f / l;
        for (long c = 0; c < dv; ++c) O[c] *= inv;
    }
    RF_GLOBAL float *LSE = OPT(float, lse);
    if (LSE) LSE[t * heads + h] = l > 0.f ? m + log(l) : -INFINITY;
}

// attention_merge: one work-item per (row t, head h), global (rows, heads). Parts p < parts:
//   x_p = x + p*part_stride + t*ldx + h*dv; lse_p = lse[p*lse_stride + t*heads + h]
//   no lse: out = Σ_p x_p; else M = max_p lse_p, w_p = exp(lse_p - M) (M = -inf: out = 0),
//   out = Σ_p w_p x_p / Σ_p w_p. Column c reads every part before writing (out may be part 0).
RF_KERNEL void attention_merge(long rows, long heads, long parts, long dv, GBUF(const float, x), long ldx, long part_stride, GBUF(const float, lse),
                              long lse_stride, GBUF(float, out), long ldo) {
    const long t = get_global_id(0), h = get_global_id(1);
    if (t >= rows || h >= heads) return;
    RF_GLOBAL const float *X = AT(const float, x) + t * ldx + h * dv;
    RF_GLOBAL const float *L = OPT(const float, lse);
    RF_GLOBAL float *O = AT(float, out) + t * ldo + h * dv;
    float M = -INFINITY, sum = 0.f;
    if (L) {
        for (long p = 0; p < parts; ++p) M = fmax(M, L[p * lse_stride + t * heads + h]);
        if (M == -INFINITY) {
            for (long c = 0; c < dv; ++c) O[c] = 0.f;
            return;
        }
        for (long p = 0; p < parts; ++p) sum += exp(L[p * lse_stride + t * heads + h] - M);
    }
    for (long c = 0; c < dv; ++c) {
        float acc = 0.f;
        for (long p = 0; p < parts; ++p) acc += (L ? exp(L[p * lse_stride + t * heads + h] - M) : 1.f) * X[p * part_stride + c];
        O[c] = L ? acc / sum : acc;
    }
}

// LayerNorm(x_i) ⊙ u_i, one work-item per row (same formula as layer_norm).
RF_KERNEL void norm_gate(long m, long n, GBUF(const float, x), long ldx, GBUF(const float, u), long ldu,
                        GBUF(const float, gamma), GBUF(const float, beta), float eps, GBUF(float, y), long ldy) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    RF_GLOBAL const float *U = AT(const float, u) + i * ldu;
    RF_GLOBAL float *Y = AT(float, y) + i * ldy;
    RF_GLOBAL const float *G = OPT(const float, gamma);
    RF_GLOBAL const float *B = OPT(const float, beta);
    float mu, sd;
    row_moments(X, n, eps, &mu, &sd);
    for (long j = 0; j < n; ++j) Y[j] = ((X[j] - mu) / sd * (G ? G[j] : 1.f) + (B ? B[j] : 0.f)) * U[j];
}

// RankMixer token mixing, one work-item per output element o of row i:
//   o = h*T*dh + t*dh + c  <-  x[i*ldx + t*D + h*dh + c]
RF_KERNEL void token_mix(long m, long T, long D, long H, GBUF(const float, x), long ldx, GBUF(float, y), long ldy) {
    const long o = get_global_id(0), i = get_global_id(1);
    if (o >= T * D || i >= m) return;
    const long dh = D / H, h = o / (T * dh), rem = o % (T * dh), t = rem / dh, c = rem % dh;
    AT(float, y)[i * ldy + o] = AT(const float, x)[i * ldx + t * D + h * dh + c];
}
