// Shared by every kernel: pointer parameters as (buffer, byte offset), the
// activations of rf_act (same formulas as the CPU backend's apply_act) and
// table dtype conversions. Compiled first (kernels/build.ts puts it first).
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

// A pointer parameter is a buffer and a byte offset into it (see launch.h).
#define GBUF(T, name) __global T *name##_b, ulong name##_o
#define AT(T, name) ((__global T *)((__global char *)name##_b + name##_o))
// NULL when the caller passed no buffer (an optional argument).
#define OPT(T, name) (name##_b ? AT(T, name) : (__global T *)0)

inline float act_apply(int act, float x) {
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
inline void row_moments(__global const float *x, long n, float eps, float *mu, float *sd) {
    float m = 0.f, v = 0.f;
    for (long j = 0; j < n; ++j) m += x[j];
    m /= (float)n;
    for (long j = 0; j < n; ++j) v += (x[j] - m) * (x[j] - m);
    v /= (float)n;
    *mu = m;
    *sd = sqrt(v + eps);
}

inline float bf16_to_f32(ushort h) { return as_float((uint)h << 16); }

// IEEE half bits to float without the cl_khr_fp16 extension (vload_half is core).
inline float f16_to_f32(__global const ushort *p) { return vload_half(0, (__global const half *)p); }
