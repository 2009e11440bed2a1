// Scalar reference of rf_cast_nd: one element at a time over the full N-d index.
#include "tensor_ops.h"
#include "tensor_scalar.h"

namespace rf::ref {
namespace {

template <class TX, class TY>
void cast_typed(int rank, const int64_t *shape, const TX *x, const int64_t *xs, TY *y, const int64_t *ys) {
    const int64_t *st[2] = {xs, ys};
    for_each_offset<2>(rank, shape, st, [&](const int64_t *o) { y[o[1]] = cast_value<TX, TY>(x[o[0]]); });
}

template <class TX>
void cast_from(int rank, const int64_t *shape, const TX *x, const int64_t *xs, void *y, int y_dtype, const int64_t *ys) {
    switch (y_dtype) {
    case RF_F32: cast_typed(rank, shape, x, xs, static_cast<float *>(y), ys); break;
    case RF_I32: cast_typed(rank, shape, x, xs, static_cast<int32_t *>(y), ys); break;
    case RF_I64: cast_typed(rank, shape, x, xs, static_cast<int64_t *>(y), ys); break;
    default: cast_typed(rank, shape, x, xs, static_cast<uint8_t *>(y), ys); break;
    }
}

}  // namespace

rf_status cast_nd(int rank, const int64_t *shape, const void *x, int x_dtype, const int64_t *xs, void *y, int y_dtype,
                  const int64_t *ys) {
    switch (x_dtype) {
    case RF_F32: cast_from(rank, shape, static_cast<const float *>(x), xs, y, y_dtype, ys); break;
    case RF_I32: cast_from(rank, shape, static_cast<const int32_t *>(x), xs, y, y_dtype, ys); break;
    case RF_I64: cast_from(rank, shape, static_cast<const int64_t *>(x), xs, y, y_dtype, ys); break;
    default: cast_from(rank, shape, static_cast<const uint8_t *>(x), xs, y, y_dtype, ys); break;
    }
    return RF_OK;
}

}  // namespace rf::ref
