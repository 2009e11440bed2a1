// Machine probes on the device: independent fma chains (2 flops each) and a
// streaming read reduced per work-item (the sum is written so it is not elided).
RF_KERNEL void probe_fma(int iters, GBUF(float, out)) {
    const size_t g = get_global_id(0);
    rf_float8 a = rf_splat8(g * 1e-9f), b = a + 1e-9f, c = a + 2e-9f, e = a + 3e-9f;
    const rf_float8 m = rf_splat8(0.9999999f), s = rf_splat8(1e-7f);
    for (int i = 0; i < iters; ++i) {
        a = fma(a, m, s); b = fma(b, m, s); c = fma(c, m, s); e = fma(e, m, s);
    }
    rf_float8 t = a + b + c + e;
    AT(float, out)[g] = rf_hsum8(t);
}

// Each work-item reads its own contiguous chunk (the pattern CPU devices prefetch).
RF_KERNEL void probe_read(GBUF(const rf_float4, src), long n4, GBUF(float, out)) {
    const size_t g = get_global_id(0), items = get_global_size(0);
    const long chunk = (n4 + items - 1) / items, end = min(n4, (long)(g + 1) * chunk);
    rf_float4 acc = rf_splat4(0.f);
    for (long i = g * chunk; i < end; ++i) acc += AT(const rf_float4, src)[i];
    AT(float, out)[g] = rf_hsum4(acc);
}
