// rf_cast_nd (cast and strided copy): argument checks, the range check of
// float -> int casts (before anything is written), and ISA dispatch.
#include "tensor_ops.h"
#include "tensor_scalar.h"

extern "C" {

RF_API rf_status rf_cast_nd(rf_stream s, int32_t rank, const int64_t *shape, const void *x, int32_t x_dtype,
                            const int64_t *x_strides, void *y, int32_t y_dtype, const int64_t *y_strides) {
    RF_ENTRY({
        if (!rf::tensor_dtype(x_dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_cast_nd: x_dtype %d is not f32, i32, i64 or bool", x_dtype);
        if (!rf::tensor_dtype(y_dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_cast_nd: y_dtype %d is not f32, i32, i64 or bool", y_dtype);
        const int64_t *strides[2] = {x_strides, y_strides};
        const char *names[2] = {"x_strides", "y_strides"};
        int64_t numel = 0;
        rf_status st = rf::check_nd("rf_cast_nd", rank, shape, strides, names, 2, &numel);
        if (st != RF_OK || numel == 0) return st;
        RF_CHECK(x != nullptr, "rf_cast_nd: x is NULL");
        RF_CHECK(y != nullptr, "rf_cast_nd: y is NULL");
        if (x_dtype == RF_F32 && (y_dtype == RF_I32 || y_dtype == RF_I64)) {
            const float *xf = static_cast<const float *>(x);
            bool bad = false;
            float first = 0.f;
            rf::for_each_offset<1>(rank, shape, strides, [&](const int64_t *off) {
                float v = xf[off[0]];
                if (!bad && !rf::float_fits(v, y_dtype)) bad = true, first = v;
            });
            if (bad)
                return rf::fail(RF_ERR_OUT_OF_RANGE, "rf_cast_nd: f32 value %g does not fit %s", double(first),
                                rf::dtype_name(y_dtype));
        }
        RF_DISPATCH(cast_nd, rank, shape, x, x_dtype, x_strides, y, y_dtype, y_strides);
    });
}

}  // extern "C"
