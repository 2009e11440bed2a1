// DIN target attention (rankfn.h), one work-item per candidate i:
//   for unmasked steps t of request r = req[i]:
//     a_t = mask · (b2 + Σ_j w2[j] · act(qp[i][j] + kp[r*T + t][j] + Σ_c wqk[j][c] · q[i][c] · k_t[c]))
//   out[i] = Σ_t a_t · k_t
RF_KERNEL void target_attention(long n, long T, long d, long h, GBUF(const float, q), long ldq, GBUF(const float, keys),
                               long ldk, GBUF(const float, mask), long ldm, GBUF(const int, req),
                               GBUF(const float, qp), long ldqp, GBUF(const float, kp), GBUF(const float, wqk),
                               GBUF(const float, w2), float b2, int act, GBUF(float, out), long ldo) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const long r = AT(const int, req)[i];
    RF_GLOBAL float *O = AT(float, out) + i * ldo;
    for (long c = 0; c < d; ++c) O[c] = 0.f;
    if (T == 0) return;
    RF_GLOBAL const float *Q = AT(const float, q) + i * ldq;
    RF_GLOBAL const float *Wqk = OPT(const float, wqk);
    RF_GLOBAL const float *W2 = OPT(const float, w2);
    RF_GLOBAL const float *QP = OPT(const float, qp);
    RF_GLOBAL const float *KP = OPT(const float, kp);
    for (long t = 0; t < T; ++t) {
        const float mk = AT(const float, mask)[r * ldm + t];
        if (mk == 0.f) continue;
        RF_GLOBAL const float *K = AT(const float, keys) + r * ldk + t * d;
        float score = b2;
        for (long j = 0; j < h; ++j) {
            float acc = QP[i * ldqp + j] + KP[(r * T + t) * h + j];
            for (long c = 0; c < d; ++c) acc += Wqk[j * d + c] * (Q[c] * K[c]);
            score += W2[j] * act_apply(act, acc);
        }
        const float at = mk * score;
        for (long c = 0; c < d; ++c) O[c] += at * K[c];
    }
}
