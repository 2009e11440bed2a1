// DLRM dot interaction, one work-item per (output column o, row b): column o is
// either a copy of the dense vector v_0 (o < d with concat_dense) or the dot
// product of one pair (i, j) of the lower triangle, in rankfn.h's order.
RF_KERNEL void dot_interaction(long m, long f, long d, GBUF(const float, x), long ldx, int concat_dense,
                              int self_interaction, GBUF(float, out), long ldo, long width) {
    const long o = get_global_id(0), b = get_global_id(1);
    if (o >= width || b >= m) return;
    RF_GLOBAL const float *X = AT(const float, x) + b * ldx;
    RF_GLOBAL float *Y = AT(float, out) + b * ldo;
    long p = o;
    if (concat_dense) {
        if (p < d) {
            Y[o] = X[p];
            return;
        }
        p -= d;
    }
    // Pair p of row i starts at i(i-1)/2 (self: i(i+1)/2); solve for i, then fix rounding.
    const long s = self_interaction ? 1 : 0;
    long i = (long)((sqrt(8.0 * (double)p + 1.0) + 1.0) / 2.0) - s;
    if (i < 0) i = 0;
    while (i > 0 && (i * (i - 1 + 2 * s)) / 2 > p) --i;
    while (((i + 1) * (i + 2 * s)) / 2 <= p) ++i;
    const long j = p - (i * (i - 1 + 2 * s)) / 2;
    RF_GLOBAL const float *vi = X + i * d;
    RF_GLOBAL const float *vj = X + j * d;
    float acc = 0.f;
    for (long c = 0; c < d; ++c) acc = fma(vi[c], vj[c], acc);
    Y[o] = acc;
}
