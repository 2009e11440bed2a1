// rf_cast_nd, compiled once per ISA (RF_ISA_NS). Same-dtype copies: memcpy of
// contiguous runs, a fill for broadcast runs, and 32 x 32 tiles for transposes
// (y contiguous along its last dim, x contiguous along another), so both sides
// stay in L1. Casts: a converting loop over the runs.
#include "../tensor_loops.h"
#include "../tensor_ops.h"
#include "../tensor_scalar.h"

#include <cstring>

namespace rf::RF_ISA_NS {
namespace {

template <class TX, class TY>
void cast_runs(NdLayout<2> &l, const TX *x, TY *y) {
    for_runs<2>(l, [&](const int64_t *off, int64_t len) {
        const int64_t sx = l.stride[0][l.rank - 1], sy = l.stride[1][l.rank - 1];
        const TX *px = x + off[0];
        TY *py = y + off[1];
        if (sx == 1 && sy == 1)
            for (int64_t j = 0; j < len; ++j) py[j] = cast_value<TX, TY>(px[j]);
        else
            for (int64_t j = 0; j < len; ++j) py[j * sy] = cast_value<TX, TY>(px[j * sx]);
    });
}

// The tiled transpose: dim p has x stride 1, the last dim has y stride 1.
template <class T>
void transpose_tiles(const NdLayout<2> &l, int p, const T *x, T *y) {
    constexpr int64_t B = 32;
    const int last = l.rank - 1;
    const int64_t P = l.shape[p], L = l.shape[last];
    const int64_t xl = l.stride[0][last], yp = l.stride[1][p];
    NdLayout<2> o;
    for (int d = 0; d < last; ++d) {
        if (d == p) continue;
        o.shape[o.rank] = l.shape[d];
        o.stride[0][o.rank] = l.stride[0][d];
        o.stride[1][o.rank] = l.stride[1][d];
        ++o.rank;
    }
    int64_t outer = 1;
    for (int d = 0; d < o.rank; ++d) outer *= o.shape[d];
    const int64_t tp = (P + B - 1) / B, tl = (L + B - 1) / B;
    for_chunks(outer * tp * tl, 4, [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t oi = u / (tp * tl), r = u % (tp * tl), bp = r / tl, bl = r % tl;
            int64_t off[2];
            index_offsets(o, oi, off);
            const int64_t p0 = bp * B, p1 = p0 + B < P ? p0 + B : P;
            const int64_t l0 = bl * B, l1 = l0 + B < L ? l0 + B : L;
            for (int64_t ip = p0; ip < p1; ++ip) {
                const T *px = x + off[0] + ip;
                T *py = y + off[1] + ip * yp;
                for (int64_t jl = l0; jl < l1; ++jl) py[jl] = px[jl * xl];
            }
        }
    });
}

template <class T>
void copy_typed(NdLayout<2> &l, const T *x, T *y) {
    if (l.rank >= 2 && l.stride[1][l.rank - 1] == 1 && l.stride[0][l.rank - 1] != 1 && l.stride[0][l.rank - 1] != 0) {
        for (int p = l.rank - 2; p >= 0; --p)
            if (l.stride[0][p] == 1) return transpose_tiles(l, p, x, y);
    }
    for_runs<2>(l, [&](const int64_t *off, int64_t len) {
        const int64_t sx = l.stride[0][l.rank - 1], sy = l.stride[1][l.rank - 1];
        const T *px = x + off[0];
        T *py = y + off[1];
        if (sx == 1 && sy == 1) std::memcpy(py, px, size_t(len) * sizeof(T));
        else if (sx == 0 && sy == 1) { const T v = *px; for (int64_t j = 0; j < len; ++j) py[j] = v; }
        else for (int64_t j = 0; j < len; ++j) py[j * sy] = px[j * sx];
    });
}

template <class TX>
void cast_from(NdLayout<2> &l, const TX *x, void *y, int y_dtype) {
    switch (y_dtype) {
    case RF_F32: cast_runs(l, x, static_cast<float *>(y)); break;
    case RF_I32: cast_runs(l, x, static_cast<int32_t *>(y)); break;
    case RF_I64: cast_runs(l, x, static_cast<int64_t *>(y)); break;
    default: cast_runs(l, x, static_cast<uint8_t *>(y)); break;
    }
}

}  // namespace

rf_status cast_nd(int rank, const int64_t *shape, const void *x, int x_dtype, const int64_t *xs, void *y, int y_dtype,
                  const int64_t *ys) {
    const int64_t *st[2] = {xs, ys};
    NdLayout<2> l = simplify<2>(rank, shape, st);
    if (x_dtype == y_dtype) {
        switch (dtype_size(x_dtype)) {
        case 1: copy_typed(l, static_cast<const uint8_t *>(x), static_cast<uint8_t *>(y)); break;
        case 4: copy_typed(l, static_cast<const uint32_t *>(x), static_cast<uint32_t *>(y)); break;
        default: copy_typed(l, static_cast<const uint64_t *>(x), static_cast<uint64_t *>(y)); break;
        }
        return RF_OK;
    }
    switch (x_dtype) {
    case RF_F32: cast_from(l, static_cast<const float *>(x), y, y_dtype); break;
    case RF_I32: cast_from(l, static_cast<const int32_t *>(x), y, y_dtype); break;
    case RF_I64: cast_from(l, static_cast<const int64_t *>(x), y, y_dtype); break;
    default: cast_from(l, static_cast<const uint8_t *>(x), y, y_dtype); break;
    }
    return RF_OK;
}

}  // namespace rf::RF_ISA_NS
