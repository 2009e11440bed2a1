// General tensor kernels, elementwise part: rf_unary_nd, rf_binary_nd,
// rf_where_nd, rf_cast_nd. One work-item per element: its flat row-major index
// is decomposed over the shape into each operand's element offset (strides may
// be 0 or negative; the host passes each pointer at element (0, …, 0)).
// Integer math wraps through unsigned types, like the CPU backend.

// Shape and up to 4 operands' strides (host: NdArgs in ops_tensor.cpp).
typedef struct {
    long shape[8];
    long st[4][8];
    int rank;
    int pad;
} NdArgs;

RF_FN void nd_offsets(const NdArgs *l, long flat, long *off) {
    off[0] = off[1] = off[2] = off[3] = 0;
    for (int d = l->rank - 1; d >= 0; --d) {
        const long i = flat % l->shape[d];
        flat /= l->shape[d];
        for (int k = 0; k < 4; ++k) off[k] += i * l->st[k][d];
    }
}


RF_FN float unary_f32_apply(int op, float x, float alpha, float beta) {
    switch (op) {
    case 0: return -x;
    case 1: return fabs(x);
    case 2: return sqrt(x);
    case 3: return exp(x);
    case 4: return log(x);
    case 5: return erf(x);
    case 6: return x < 0.f ? 0.f : x;
    case 7: return 1.f / (1.f + exp(-x));
    case 8: return tanh(x);
    case 10: return 1.f / x;
    case 11: return floor(x);
    case 12: return ceil(x);
    case 13: return x > 0.f ? 1.f : x < 0.f ? -1.f : x;
    case 14: { float v = x < alpha ? alpha : x; return v > beta ? beta : v; }
    case 15: return x < 0.f ? alpha * x : x;
    case 16: return sin(x);
    case 17: return cos(x);
    case 18: return 0.5f * x * (1.f + erf(x * 0.70710678118654752f));
    case 19: return x / (1.f + exp(-x));
    case 20: return rint(x);
    case 22: return (x > 0.f ? x : 0.f) + log1p(exp(-fabs(x)));
    default: { float v = alpha * x + beta; v = v < 0.f ? 0.f : v; return v > 1.f ? 1.f : v; }
    }
}

RF_KERNEL void unary_f32(NdArgs l, long numel, int op, float alpha, float beta, GBUF(const float, x), GBUF(float, y)) {
    const long f = get_global_id(0);
    if (f >= numel) return;
    long off[4];
    nd_offsets(&l, f, off);
    AT(float, y)[off[1]] = unary_f32_apply(op, AT(const float, x)[off[0]], alpha, beta);
}

RF_KERNEL void unary_isnan(NdArgs l, long numel, GBUF(const float, x), GBUF(uchar, y)) {
    const long f = get_global_id(0);
    if (f >= numel) return;
    long off[4];
    nd_offsets(&l, f, off);
    const float v = AT(const float, x)[off[0]];
    AT(uchar, y)[off[1]] = v != v;
}

RF_KERNEL void unary_not(NdArgs l, long numel, GBUF(const uchar, x), GBUF(uchar, y)) {
    const long f = get_global_id(0);
    if (f >= numel) return;
    long off[4];
    nd_offsets(&l, f, off);
    AT(uchar, y)[off[1]] = AT(const uchar, x)[off[0]] ? 0 : 1;
}

// Integer unary (NEG ABS SIGN CLIP RELU) and binary ops for T = int / long (U its unsigned twin).
#define RF_INT_OPS(T, U, NAME)                                                                                   \
    RF_FN T NAME##_unary(int op, T x, T lo, T hi) {                                                             \
        switch (op) {                                                                                            \
        case 0: return (T)((U)0 - (U)x);                                                                         \
        case 1: return x < 0 ? (T)((U)0 - (U)x) : x;                                                             \
        case 13: return x > 0 ? 1 : x < 0 ? -1 : 0;                                                              \
        case 14: { T v = x < lo ? lo : x; return v > hi ? hi : v; }                                              \
        default: return x < 0 ? 0 : x;                                                                           \
        }                                                                                                        \
    }                                                                                                            \
    RF_FN T NAME##_pow(T a, T b) {                                                                              \
        if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;                                         \
        U r = 1, base = (U)a;                                                                                    \
        while (b) { if (b & 1) r *= base; base *= base; b >>= 1; }                                               \
        return (T)r;                                                                                             \
    }                                                                                                            \
    RF_FN T NAME##_binary(int op, T a, T b) {                                                                   \
        switch (op) {                                                                                            \
        case 0: return (T)((U)a + (U)b);                                                                         \
        case 1: return (T)((U)a - (U)b);                                                                         \
        case 2: return (T)((U)a * (U)b);                                                                         \
        case 3: return b == -1 ? (T)((U)0 - (U)a) : a / b;                                                       \
        case 4: return NAME##_pow(a, b);                                                                         \
        case 5: return a > b ? a : b;                                                                            \
        case 6: return a < b ? a : b;                                                                            \
        case 7: { T r = b == -1 ? 0 : a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }              \
        default: return b == -1 ? 0 : a % b;                                                                     \
        }                                                                                                        \
    }                                                                                                            \
    RF_KERNEL void unary_##NAME(NdArgs l, long numel, int op, T lo, T hi, GBUF(const T, x), GBUF(T, y)) {         \
        const long f = get_global_id(0);                                                                         \
        if (f >= numel) return;                                                                                  \
        long off[4];                                                                                             \
        nd_offsets(&l, f, off);                                                                                  \
        AT(T, y)[off[1]] = NAME##_unary(op, AT(const T, x)[off[0]], lo, hi);                                     \
    }

RF_INT_OPS(int, uint, i32)
RF_INT_OPS(long, ulong, i64)

RF_FN float f32_binary(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return pow(a, b);
    case 5: return (a != a || a > b) ? a : b;
    case 6: return (a != a || a < b) ? a : b;
    case 7: { float r = fmod(a, b); return (r != 0.f && ((r < 0.f) != (b < 0.f))) ? r + b : r; }
    default: return fmod(a, b);
    }
}

RF_FN uchar compare_apply(int op, double a, double b) {
    switch (op) {
    case 9: return a == b;
    case 10: return a < b;
    case 11: return a <= b;
    case 12: return a > b;
    case 13: return a >= b;
    case 14: return a != 0 && b != 0;
    case 15: return a != 0 || b != 0;
    default: return (a != 0) != (b != 0);
    }
}

// y is passed twice: as T (arithmetic) and as uchar (comparisons, logic).
#define RF_BINARY_KERNEL(T, NAME, CMP_T)                                                                        \
    RF_KERNEL void binary_##NAME(NdArgs l, long numel, int op, GBUF(const T, a), GBUF(const T, b), GBUF(T, y),    \
                                GBUF(uchar, q)) {                                                                \
        const long f = get_global_id(0);                                                                         \
        if (f >= numel) return;                                                                                  \
        long off[4];                                                                                             \
        nd_offsets(&l, f, off);                                                                                  \
        const T va = AT(const T, a)[off[0]], vb = AT(const T, b)[off[1]];                                        \
        if (op >= 9) AT(uchar, q)[off[2]] = compare_apply(op, (CMP_T)va, (CMP_T)vb);                             \
        else AT(T, y)[off[2]] = NAME##_binary(op, va, vb);                                                       \
    }

RF_BINARY_KERNEL(float, f32, double)
RF_BINARY_KERNEL(int, i32, double)
RF_BINARY_KERNEL(long, i64, long)
RF_FN uchar bool_binary(int op, uchar a, uchar b) { return a; }  // unused: bool ops are comparisons / logic
RF_BINARY_KERNEL(uchar, bool, int)

#define RF_WHERE_KERNEL(T, NAME)                                                                                 \
    RF_KERNEL void where_##NAME(NdArgs l, long numel, GBUF(const uchar, c), GBUF(const T, a), GBUF(const T, b),   \
                               GBUF(T, y)) {                                                                     \
        const long f = get_global_id(0);                                                                         \
        if (f >= numel) return;                                                                                  \
        long off[4];                                                                                             \
        nd_offsets(&l, f, off);                                                                                  \
        AT(T, y)[off[3]] = AT(const uchar, c)[off[0]] ? AT(const T, a)[off[1]] : AT(const T, b)[off[2]];         \
    }

RF_WHERE_KERNEL(uchar, 1)
RF_WHERE_KERNEL(uint, 4)
RF_WHERE_KERNEL(ulong, 8)

// cast_<from>_<to>: float -> int truncates (range-checked on the host), -> bool is x != 0.
#define RF_CAST_KERNEL(TX, NX, TY, NY, CONV)                                                                     \
    RF_KERNEL void cast_##NX##_##NY(NdArgs l, long numel, GBUF(const TX, x), GBUF(TY, y)) {                       \
        const long f = get_global_id(0);                                                                         \
        if (f >= numel) return;                                                                                  \
        long off[4];                                                                                             \
        nd_offsets(&l, f, off);                                                                                  \
        const TX v = AT(const TX, x)[off[0]];                                                                    \
        AT(TY, y)[off[1]] = CONV;                                                                                \
    }
#define RF_CAST_FROM(TX, NX)                                                                                     \
    RF_CAST_KERNEL(TX, NX, float, f32, (float)v)                                                                 \
    RF_CAST_KERNEL(TX, NX, int, i32, (int)v)                                                                     \
    RF_CAST_KERNEL(TX, NX, long, i64, (long)v)                                                                   \
    RF_CAST_KERNEL(TX, NX, uchar, bool, (uchar)(v != 0))

RF_CAST_FROM(float, f32)
RF_CAST_FROM(int, i32)
RF_CAST_FROM(long, i64)
RF_CAST_FROM(uchar, bool)
