// Elementwise ops over [m][n] blocks, one work-item per element (j, i).
// ldb == 0 broadcasts b's single row. y may alias a or x (same element, same work-item).
RF_FN float binary_apply(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return fmax(a, b);
    default: return fmin(a, b);
    }
}

RF_KERNEL void binary(int op, long m, long n, GBUF(const float, a), long lda, GBUF(const float, b), long ldb,
                     GBUF(float, y), long ldy) {
    const long j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    AT(float, y)[i * ldy + j] = binary_apply(op, AT(const float, a)[i * lda + j], AT(const float, b)[i * ldb + j]);
}

RF_KERNEL void activation(int act, long m, long n, GBUF(const float, x), long ldx, GBUF(float, y), long ldy) {
    const long j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    AT(float, y)[i * ldy + j] = act_apply(act, AT(const float, x)[i * ldx + j]);
}

// The DCN cross epilogue when y aliases x: y = x0 ⊙ t + x, t computed first into scratch.
RF_KERNEL void cross_combine(long m, long d, GBUF(const float, x0), long ldx0, GBUF(const float, t), long ldt,
                            GBUF(const float, x), long ldx, GBUF(float, y), long ldy) {
    const long j = get_global_id(0), i = get_global_id(1);
    if (j >= d || i >= m) return;
    AT(float, y)[i * ldy + j] = AT(const float, x0)[i * ldx0 + j] * AT(const float, t)[i * ldt + j] + AT(const float, x)[i * ldx + j];
}
