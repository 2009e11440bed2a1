// The GRU recurrence (rankfn.h rf_gru_sequence), one work-item per row: the
// state and r (or r ⊙ h) live in private arrays of GRU_MAX_H floats (the host
// refuses larger h), every projection is a dot over the transposed weights.
#define GRU_MAX_H 256

RF_KERNEL void gru_sequence(long m, long steps, long h, GBUF(const float, gx), long ldgx, GBUF(const float, rt),
                           GBUF(const float, rb), GBUF(const float, h0), long ldh0, int lbr, int reverse, GBUF(float, y),
                           long ldy) {
    const long b = get_global_id(0);
    if (b >= m) return;
    RF_GLOBAL const float *RT = AT(const float, rt);
    RF_GLOBAL const float *RB = OPT(const float, rb);
    RF_GLOBAL const float *H0 = OPT(const float, h0);
    RF_GLOBAL float *Y = AT(float, y) + b * ldy;
    float hs[GRU_MAX_H], rh[GRU_MAX_H];
    const long g3 = 3 * h;
    for (long i = 0; i < h; ++i) hs[i] = H0 ? H0[b * ldh0 + i] : 0.f;
    for (long step = 0; step < steps; ++step) {
        const long t = reverse ? steps - 1 - step : step;
        RF_GLOBAL const float *g = AT(const float, gx) + b * ldgx + t * g3;
        for (long k = 0; k < h; ++k) {
            float acc = RB ? RB[h + k] : 0.f;
            for (long j = 0; j < h; ++j) acc = fma(hs[j], RT[j * g3 + h + k], acc);
            const float r = 1.f / (1.f + exp(-(g[h + k] + acc)));
            rh[k] = lbr ? r : r * hs[k];
        }
        RF_GLOBAL float *yt = Y + t * h;
        for (long i = 0; i < h; ++i) {
            float gz = RB ? RB[i] : 0.f, pn = RB ? RB[2 * h + i] : 0.f;
            for (long j = 0; j < h; ++j) {
                gz = fma(hs[j], RT[j * g3 + i], gz);
                pn = fma(lbr ? hs[j] : rh[j], RT[j * g3 + 2 * h + i], pn);
            }
            const float z = 1.f / (1.f + exp(-(g[i] + gz)));
            const float n = tanh(g[2 * h + i] + (lbr ? rh[i] * pn : pn));
            yt[i] = (1.f - z) * n + z * hs[i];
        }
        for (long i = 0; i < h; ++i) hs[i] = yt[i];
    }
}
