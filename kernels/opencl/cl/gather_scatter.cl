// MoE dispatch / combine (indices range-checked on the host before the launch).
//   gather:  dst[i][c] = (w ? w[i] : 1) * src[idx[i]][c]        one work-item per (c, i)
//   scatter: dst[idx[i]][c] += (w ? w[i] : 1) * src[i][c]       one work-item per column c,
//            rows in order, so repeated indices accumulate deterministically.
__kernel void gather_rows(long n, long d, GBUF(const float, src), long lds, GBUF(const int, idx),
                          GBUF(const float, weights), GBUF(float, dst), long ldd) {
    const long c = get_global_id(0), i = get_global_id(1);
    if (c >= d || i >= n) return;
    __global const float *W = OPT(const float, weights);
    const float v = AT(const float, src)[(long)AT(const int, idx)[i] * lds + c];
    AT(float, dst)[i * ldd + c] = W ? W[i] * v : v;
}

__kernel void scatter_add_rows(long n, long d, GBUF(const float, src), long lds, GBUF(const int, idx),
                               GBUF(const float, weights), GBUF(float, dst), long ldd) {
    const long c = get_global_id(0);
    if (c >= d) return;
    __global const float *W = OPT(const float, weights);
    __global const int *I = AT(const int, idx);
    __global const float *S = AT(const float, src);
    __global float *D = AT(float, dst);
    for (long i = 0; i < n; ++i) {
        const float v = S[i * lds + c];
        D[(long)I[i] * ldd + c] += W ? W[i] * v : v;
    }
}
