// MoE dispatch / combine (indices range-checked on the host before the launch).
//   gather:  dst[i][c] = (w ? w[i] : 1) * src[idx[i]][c]        one work-item per (c, i)
//   scatter: dst[idx[i]][c] += (w ? w[i] : 1) * src[i][c]       one work-item per column c,
//            rows in order, so repeated indices accumulate deterministically.
RF_KERNEL void gather_rows(long n, long d, GBUF(const float, src), long lds, GBUF(const int, idx),
                          GBUF(const float, weights), GBUF(float, dst), long ldd) {
    const long c = get_global_id(0), i = get_global_id(1);
    if (c >= d || i >= n) return;
    RF_GLOBAL const float *W = OPT(const float, weights);
    const float v = AT(const float, src)[(long)AT(const int, idx)[i] * lds + c];
    AT(float, dst)[i * ldd + c] = W ? W[i] * v : v;
}

RF_KERNEL void scatter_add_rows(long n, long d, GBUF(const float, src), long lds, GBUF(const int, idx),
                               GBUF(const float, weights), GBUF(float, dst), long ldd) {
    const long c = get_global_id(0);
    if (c >= d) return;
    RF_GLOBAL const float *W = OPT(const float, weights);
    RF_GLOBAL const int *I = AT(const int, idx);
    RF_GLOBAL const float *S = AT(const float, src);
    RF_GLOBAL float *D = AT(float, dst);
    for (long i = 0; i < n; ++i) {
        const float v = S[i * lds + c];
        D[(long)I[i] * ldd + c] += W ? W[i] * v : v;
    }
}
