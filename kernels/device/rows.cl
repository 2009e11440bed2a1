// Row-wise ops, one work-item per row i (rows are short in ranking models:
// feature widths, not sequence lengths): layer norm, RMS norm, softmax, top-k.
// Formulas are rankfn.h's; summation runs in column order like the reference.
RF_KERNEL void layer_norm(long m, long n, GBUF(const float, x), long ldx, GBUF(const float, gamma),
                         GBUF(const float, beta), float eps, GBUF(float, y), long ldy) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    RF_GLOBAL float *Y = AT(float, y) + i * ldy;
    RF_GLOBAL const float *G = OPT(const float, gamma);
    RF_GLOBAL const float *B = OPT(const float, beta);
    float mu, sd;
    row_moments(X, n, eps, &mu, &sd);
    for (long j = 0; j < n; ++j) Y[j] = (X[j] - mu) / sd * (G ? G[j] : 1.f) + (B ? B[j] : 0.f);
}

RF_KERNEL void rms_norm(long m, long n, GBUF(const float, x), long ldx, GBUF(const float, gamma), float eps,
                       GBUF(float, y), long ldy) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    RF_GLOBAL float *Y = AT(float, y) + i * ldy;
    RF_GLOBAL const float *G = OPT(const float, gamma);
    float ss = 0.f;
    for (long j = 0; j < n; ++j) ss += X[j] * X[j];
    const float r = sqrt(ss / (float)n + eps);
    for (long j = 0; j < n; ++j) Y[j] = X[j] / r * (G ? G[j] : 1.f);
}

RF_KERNEL void softmax(long m, long n, GBUF(const float, x), long ldx, GBUF(float, y), long ldy) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    RF_GLOBAL float *Y = AT(float, y) + i * ldy;
    float mx = X[0];
    for (long j = 1; j < n; ++j) mx = fmax(mx, X[j]);
    float s = 0.f;
    for (long j = 0; j < n; ++j) s += exp(X[j] - mx);
    for (long j = 0; j < n; ++j) Y[j] = exp(X[j] - mx) / s;
}

// rf_topk's order: larger first, NaN below every number, ties by lower index.
RF_FN bool topk_before(float va, long ia, float vb, long ib) {
    bool na = isnan(va), nb = isnan(vb);
    if (na || nb) return na == nb ? ia < ib : nb;
    if (va != vb) return va > vb;
    return ia < ib;
}

// Selection in k rounds: round t takes the best element ordered after round t-1's (a strict total order).
RF_KERNEL void topk(long m, long n, long k, GBUF(const float, x), long ldx, GBUF(float, values),
                   GBUF(int, indices), long ldk) {
    const long i = get_global_id(0);
    if (i >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + i * ldx;
    float pv = 0.f;
    long pi = -1;
    for (long t = 0; t < k; ++t) {
        long best = -1;
        for (long j = 0; j < n; ++j) {
            if (pi >= 0 && !topk_before(pv, pi, X[j], j)) continue;
            if (best < 0 || topk_before(X[j], j, X[best], best)) best = j;
        }
        pv = X[best];
        pi = best;
        AT(float, values)[i * ldk + t] = pv;
        AT(int, indices)[i * ldk + t] = (int)best;
    }
}
