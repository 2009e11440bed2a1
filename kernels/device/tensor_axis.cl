// General tensor kernels, axis part: rf_reduce, rf_softmax_axis,
// rf_matmul_batched, rf_gather_axis, rf_gather_elements, rf_scatter_nd,
// rf_cumsum_axis, rf_topk_axis. A work-item per output column (o, i) looping
// over the axis, per output element (gathers, matmul) or per slice element
// (scatter, updates applied in order). Indices arrive range-checked; index
// arrays are read as i32 (idx_dtype 5) or i64.

RF_FN long idx_at(RF_GLOBAL const char *p, int idx_dtype, long i) {
    return idx_dtype == 5 ? (long)((RF_GLOBAL const int *)p)[i] : ((RF_GLOBAL const long *)p)[i];
}
RF_FN long wrap_idx(long t, long len) { return t < 0 ? t + len : t; }

RF_KERNEL void reduce_f32(int op, long outer, long n, long inner, GBUF(const float, x), GBUF(float, y), GBUF(long, yi)) {
    const long i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer) return;
    RF_GLOBAL const float *X = AT(const float, x) + o * n * inner + i;
    if (op == 10 || op == 11) {
        long best = 0;
        float bv = X[0];
        for (long j = 1; j < n && bv == bv; ++j) {
            const float v = X[j * inner];
            if (v != v || (op == 10 ? v > bv : v < bv)) best = j, bv = v;
        }
        AT(long, yi)[o * inner + i] = best;
        return;
    }
    float r;
    if (op == 2 || op == 3 || op == 9) {
        float m = X[0];
        for (long j = 1; j < n; ++j) {
            const float v = X[j * inner];
            m = (m != m || (op == 3 ? m < v : m > v)) ? m : v;
        }
        if (n == 0) m = -INFINITY;
        r = m;
        if (op == 9 && isfinite(m)) {
            double s = 0;
            for (long j = 0; j < n; ++j) s += exp((double)X[j * inner] - (double)m);
            r = (float)((double)m + log(s));
        }
    } else {
        double acc = op == 4 ? 1.0 : 0.0;
        for (long j = 0; j < n; ++j) {
            const double v = X[j * inner];
            if (op == 4) acc *= v;
            else if (op == 5) acc += fabs(v);
            else if (op == 6 || op == 7) acc += v * v;
            else acc += v;
        }
        r = op == 1 ? (float)(acc / (double)n) : op == 6 ? (float)sqrt(acc) : op == 8 ? (float)log(acc) : (float)acc;
    }
    AT(float, y)[o * inner + i] = r;
}

#define RF_REDUCE_INT(T, U, NAME)                                                                                \
    RF_KERNEL void reduce_##NAME(int op, long outer, long n, long inner, GBUF(const T, x), GBUF(T, y),            \
                                GBUF(long, yi)) {                                                                \
        const long i = get_global_id(0), o = get_global_id(1);                                                   \
        if (i >= inner || o >= outer) return;                                                                    \
        RF_GLOBAL const T *X = AT(const T, x) + o * n * inner + i;                                                \
        if (op == 10 || op == 11) {                                                                              \
            long best = 0;                                                                                       \
            T bv = X[0];                                                                                         \
            for (long j = 1; j < n; ++j) {                                                                       \
                const T v = X[j * inner];                                                                        \
                if (op == 10 ? v > bv : v < bv) best = j, bv = v;                                                \
            }                                                                                                    \
            AT(long, yi)[o * inner + i] = best;                                                                  \
            return;                                                                                              \
        }                                                                                                        \
        U acc = op == 4 ? 1 : 0;                                                                                 \
        T m = n > 0 ? X[0] : 0;                                                                                  \
        for (long j = 0; j < n; ++j) {                                                                           \
            const T v = X[j * inner];                                                                            \
            if (op == 4) acc *= (U)v;                                                                            \
            else acc += (U)v;                                                                                    \
            m = op == 2 ? (v > m ? v : m) : (v < m ? v : m);                                                     \
        }                                                                                                        \
        AT(T, y)[o * inner + i] = (op == 2 || op == 3) ? m : (T)acc;                                             \
    }

RF_REDUCE_INT(int, uint, i32)
RF_REDUCE_INT(long, ulong, i64)

RF_KERNEL void softmax_axis(int log_softmax, long outer, long n, long inner, GBUF(const float, x), GBUF(float, y)) {
    const long i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer) return;
    RF_GLOBAL const float *X = AT(const float, x) + o * n * inner + i;
    RF_GLOBAL float *Y = AT(float, y) + o * n * inner + i;
    float mx = -INFINITY;
    for (long j = 0; j < n; ++j) mx = X[j * inner] > mx ? X[j * inner] : mx;
    float z = 0.f;
    for (long j = 0; j < n; ++j) z += exp(X[j * inner] - mx);
    if (log_softmax) {
        const float shift = mx + log(z);
        for (long j = 0; j < n; ++j) Y[j * inner] = X[j * inner] - shift;
    } else {
        const float inv = 1.f / z;
        for (long j = 0; j < n; ++j) Y[j * inner] = exp(X[j * inner] - mx) * inv;
    }
}

// One work-item per y element: (j, i + m * p).
RF_KERNEL void matmul_batched(long batch, long m, long n, long k, GBUF(const float, a), long sa_b, long sa_m, long sa_k,
                             GBUF(const float, b), long sb_b, long sb_k, long sb_n, float beta, GBUF(float, y),
                             long sy_b, long sy_m) {
    const long j = get_global_id(0), ip = get_global_id(1);
    if (j >= n || ip >= m * batch) return;
    const long p = ip / m, i = ip % m;
    RF_GLOBAL const float *A = AT(const float, a) + p * sa_b + i * sa_m;
    RF_GLOBAL const float *B = AT(const float, b) + p * sb_b + j * sb_n;
    float acc = 0.f;
    for (long l = 0; l < k; ++l) acc += A[l * sa_k] * B[l * sb_k];
    RF_GLOBAL float *Y = AT(float, y) + p * sy_b + i * sy_m + j;
    *Y = beta != 0.f ? acc + beta * *Y : acc;
}

// Gathers move elements of 1, 4 or 8 bytes (the dtype only matters for its size).
#define RF_GATHER_KERNELS(T, NAME)                                                                               \
    RF_KERNEL void gather_axis_##NAME(long outer, long axis_len, long inner, GBUF(const T, x), GBUF(const char, idx), \
                                     int idx_dtype, long num_idx, int per_outer, GBUF(T, y)) {                   \
        const long f = get_global_id(0);                                                                         \
        if (f >= outer * num_idx * inner) return;                                                                \
        const long i = f % inner, u = f / inner, o = u / num_idx, j = u % num_idx;                               \
        const long t = wrap_idx(idx_at(AT(const char, idx), idx_dtype, per_outer ? u : j), axis_len);           \
        AT(T, y)[f] = AT(const T, x)[(o * axis_len + t) * inner + i];                                            \
    }                                                                                                            \
    RF_KERNEL void gather_elements_##NAME(long outer, long n_in, long n_out, long inner, GBUF(const T, x),       \
                                         GBUF(const char, idx), int idx_dtype, GBUF(T, y)) {                     \
        const long f = get_global_id(0);                                                                         \
        if (f >= outer * n_out * inner) return;                                                                  \
        const long i = f % inner, o = f / (n_out * inner);                                                       \
        const long t = wrap_idx(idx_at(AT(const char, idx), idx_dtype, f), n_in);                                \
        AT(T, y)[f] = AT(const T, x)[(o * n_in + t) * inner + i];                                                \
    }

RF_GATHER_KERNELS(uchar, 1)
RF_GATHER_KERNELS(uint, 4)
RF_GATHER_KERNELS(ulong, 8)

// ScatterND: one work-item per slice element e, every update in order. The data
// shape travels by value (host: int64_t[8]).
typedef struct {
    long d[8];
} Shape8;

#define RF_SCATTER_KERNEL(T, U, NAME, ADD, MUL)                                                                  \
    RF_KERNEL void scatter_nd_##NAME(int reduction, Shape8 shape, int depth, long slice, long num_updates,        \
                                    GBUF(const char, idx), int idx_dtype, GBUF(const T, upd), GBUF(T, y)) {      \
        const long e = get_global_id(0);                                                                         \
        if (e >= slice) return;                                                                                  \
        const long *dims = shape.d;                                                                              \
        RF_GLOBAL T *Y = AT(T, y);                                                                                \
        RF_GLOBAL const T *Up = AT(const T, upd);                                                                 \
        for (long u = 0; u < num_updates; ++u) {                                                                 \
            long base = 0;                                                                                       \
            for (int d = 0; d < depth; ++d)                                                                      \
                base = base * dims[d] + wrap_idx(idx_at(AT(const char, idx), idx_dtype, u * depth + d), dims[d]); \
            const long at = base * slice + e;                                                                    \
            const T old = Y[at], v = Up[u * slice + e];                                                          \
            Y[at] = reduction == 1 ? ADD : reduction == 2 ? MUL : reduction == 3 ? ((old != old || old > v) ? old : v) \
                  : reduction == 4 ? ((old != old || old < v) ? old : v) : v;                                    \
        }                                                                                                        \
    }

RF_SCATTER_KERNEL(float, float, f32, old + v, old * v)
RF_SCATTER_KERNEL(int, uint, i32, (int)((uint)old + (uint)v), (int)((uint)old * (uint)v))
RF_SCATTER_KERNEL(long, ulong, i64, (long)((ulong)old + (ulong)v), (long)((ulong)old * (ulong)v))
RF_SCATTER_KERNEL(uchar, uchar, bool, v, v)

#define RF_CUMSUM_KERNEL(T, ACC, NAME, ADD)                                                                      \
    RF_KERNEL void cumsum_##NAME(long outer, long n, long inner, int exclusive, int reverse, GBUF(const T, x),    \
                                GBUF(T, y)) {                                                                    \
        const long i = get_global_id(0), o = get_global_id(1);                                                   \
        if (i >= inner || o >= outer) return;                                                                    \
        ACC acc = 0;                                                                                             \
        for (long s = 0; s < n; ++s) {                                                                           \
            const long at = (o * n + (reverse ? n - 1 - s : s)) * inner + i;                                     \
            const T v = AT(const T, x)[at];                                                                      \
            if (exclusive) AT(T, y)[at] = (T)acc;                                                                \
            acc = ADD;                                                                                           \
            if (!exclusive) AT(T, y)[at] = (T)acc;                                                               \
        }                                                                                                        \
    }

RF_CUMSUM_KERNEL(float, double, f32, acc + (double)v)
RF_CUMSUM_KERNEL(int, uint, i32, acc + (uint)v)
RF_CUMSUM_KERNEL(long, ulong, i64, acc + (ulong)v)

// The order of rf_topk_axis: a before b (NaN above every number; ties by index).
RF_FN bool topk_axis_before(int largest, float va, long ia, float vb, long ib) {
    const bool na = va != va, nb = vb != vb;
    if (na || nb) return na == nb ? ia < ib : (largest ? na : nb);
    if (va != vb) return largest ? va > vb : va < vb;
    return ia < ib;
}

// Selection without scratch: the t-th output is the best element strictly after the (t-1)-th (a strict total order).
RF_KERNEL void topk_axis(long outer, long n, long inner, long k, int largest, GBUF(const float, x), GBUF(float, values),
                        GBUF(long, indices)) {
    const long i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer) return;
    RF_GLOBAL const float *X = AT(const float, x) + o * n * inner + i;
    long prev = -1;
    float pv = 0.f;
    for (long t = 0; t < k; ++t) {
        long best = -1;
        float bv = 0.f;
        for (long j = 0; j < n; ++j) {
            const float v = X[j * inner];
            if (prev >= 0 && !topk_axis_before(largest, pv, prev, v, j)) continue;
            if (best < 0 || topk_axis_before(largest, v, j, bv, best)) best = j, bv = v;
        }
        AT(float, values)[(o * k + t) * inner + i] = bv;
        AT(long, indices)[(o * k + t) * inner + i] = best;
        prev = best;
        pv = bv;
    }
}
