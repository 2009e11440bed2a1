// Shared by every kernel: pointer parameters as (buffer, byte offset), the
// activations of rf_act (same formulas as the CPU backend's apply_act) and
// table dtype conversions. Compiled first, right after dialect.h.

// A pointer parameter is a buffer and a byte offset into it (see launch.h).
#define GBUF(T, name) RF_GLOBAL T *name##_b, ulong name##_o
#define AT(T, name) ((RF_GLOBAL T *)((RF_GLOBAL char *)name##_b + name##_o))
// NULL when the caller passed no buffer (an optional argument).
#define OPT(T, name) (name##_b ? AT(T, name) : (RF_GLOBAL T *)0)

RF_FN float act_apply(int act, float x) {
    switch (act) {
    case 1: return x > 0.f ? x : 0.f;
    case 2: return 0.5f * x * (1.f + erf(x * 0.70710678118654752f));
    case 3: return x / (1.f + exp(-x));
    case 4: return 1.f / (1.f + exp(-x));
    case 5: return tanh(x);
    default: return x;
    }
}

// Mean and standard deviation sqrt(var + eps) of one row of n values (layer_norm, norm_gate).
RF_FN void row_moments(RF_GLOBAL const float *x, long n, float eps, float *mu, float *sd) {
    float m = 0.f, v = 0.f;
    for (long j = 0; j < n; ++j) m += x[j];
    m /= (float)n;
    for (long j = 0; j < n; ++j) v += (x[j] - m) * (x[j] - m);
    v /= (float)n;
    *mu = m;
    *sd = sqrt(v + eps);
}

RF_FN float bf16_to_f32(ushort h) { return as_float((uint)h << 16); }

// IEEE half bits to float (OpenCL: vload_half, core, no cl_khr_fp16 needed).
RF_FN float f16_to_f32(RF_GLOBAL const ushort *p) { return rf_half(p); }
