// rf_unary_nd / rf_binary_nd / rf_where_nd: argument checks (dtype x op
// support, shape and stride arrays, integer division by zero) and ISA dispatch.
#include "tensor_ops.h"

namespace {

bool unary_supports(int op, int dtype) {
    if (op < RF_UNARY_NEG || op > RF_UNARY_HARDSIGMOID) return false;
    switch (dtype) {
    case RF_F32: return op != RF_UNARY_NOT;
    case RF_I32:
    case RF_I64:
        return op == RF_UNARY_NEG || op == RF_UNARY_ABS || op == RF_UNARY_SIGN || op == RF_UNARY_CLIP ||
               op == RF_UNARY_RELU;
    case RF_BOOL: return op == RF_UNARY_NOT;
    default: return false;
    }
}

bool binary_supports(int op, int dtype) {
    if (op < RF_BIN_ADD || op > RF_BIN_XOR) return false;
    switch (dtype) {
    case RF_F32: case RF_I32: case RF_I64: return op <= RF_BIN_GE;
    case RF_BOOL: return op == RF_BIN_EQ || op >= RF_BIN_AND;
    default: return false;
    }
}

template <class T>
rf_status check_divisors(int rank, const int64_t *shape, const T *b, const int64_t *bs) {
    const int64_t *strides[1] = {bs};
    bool zero = false;
    rf::for_each_offset<1>(rank, shape, strides, [&](const int64_t *off) { zero |= b[off[0]] == 0; });
    return zero ? rf::fail(RF_ERR_INVALID_ARG, "rf_binary_nd: integer division by zero (b holds a 0)") : RF_OK;
}

}  // namespace

extern "C" {

RF_API rf_status rf_unary_nd(rf_stream s, int32_t op, int32_t dtype, int32_t rank, const int64_t *shape, const void *x,
                             const int64_t *x_strides, float alpha, float beta, void *y, const int64_t *y_strides) {
    RF_ENTRY({
        if (op < RF_UNARY_NEG || op > RF_UNARY_HARDSIGMOID) return rf::fail(RF_ERR_INVALID_ARG, "rf_unary_nd: unknown op %d", op);
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_unary_nd: dtype %d is not f32, i32, i64 or bool", dtype);
        if (!unary_supports(op, dtype))
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_unary_nd: op %d does not support dtype %s", op, rf::dtype_name(dtype));
        const int64_t *strides[2] = {x_strides, y_strides};
        const char *names[2] = {"x_strides", "y_strides"};
        int64_t numel = 0;
        rf_status st = rf::check_nd("rf_unary_nd", rank, shape, strides, names, 2, &numel);
        if (st != RF_OK || numel == 0) return st;
        RF_CHECK(x != nullptr, "rf_unary_nd: x is NULL");
        RF_CHECK(y != nullptr, "rf_unary_nd: y is NULL");
        RF_DISPATCH(unary_nd, op, dtype, rank, shape, x, x_strides, alpha, beta, y, y_strides);
    });
}

RF_API rf_status rf_binary_nd(rf_stream s, int32_t op, int32_t dtype, int32_t rank, const int64_t *shape, const void *a,
                              const int64_t *a_strides, const void *b, const int64_t *b_strides, void *y,
                              const int64_t *y_strides) {
    RF_ENTRY({
        if (op < RF_BIN_ADD || op > RF_BIN_XOR) return rf::fail(RF_ERR_INVALID_ARG, "rf_binary_nd: unknown op %d", op);
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_binary_nd: dtype %d is not f32, i32, i64 or bool", dtype);
        if (!binary_supports(op, dtype))
            return rf::fail(RF_ERR_UNSUPPORTED, "rf_binary_nd: op %d does not support dtype %s", op, rf::dtype_name(dtype));
        const int64_t *strides[3] = {a_strides, b_strides, y_strides};
        const char *names[3] = {"a_strides", "b_strides", "y_strides"};
        int64_t numel = 0;
        rf_status st = rf::check_nd("rf_binary_nd", rank, shape, strides, names, 3, &numel);
        if (st != RF_OK || numel == 0) return st;
        RF_CHECK(a != nullptr, "rf_binary_nd: a is NULL");
        RF_CHECK(b != nullptr, "rf_binary_nd: b is NULL");
        RF_CHECK(y != nullptr, "rf_binary_nd: y is NULL");
        if (op == RF_BIN_DIV || op == RF_BIN_MOD || op == RF_BIN_FMOD) {
            if (dtype == RF_I32) st = check_divisors(rank, shape, static_cast<const int32_t *>(b), b_strides);
            if (dtype == RF_I64) st = check_divisors(rank, shape, static_cast<const int64_t *>(b), b_strides);
            if (st != RF_OK) return st;
        }
        RF_DISPATCH(binary_nd, op, dtype, rank, shape, a, a_strides, b, b_strides, y, y_strides);
    });
}

RF_API rf_status rf_where_nd(rf_stream s, int32_t dtype, int32_t rank, const int64_t *shape, const void *cond,
                             const int64_t *cond_strides, const void *a, const int64_t *a_strides, const void *b,
                             const int64_t *b_strides, void *y, const int64_t *y_strides) {
    RF_ENTRY({
        if (!rf::tensor_dtype(dtype)) return rf::fail(RF_ERR_UNSUPPORTED, "rf_where_nd: dtype %d is not f32, i32, i64 or bool", dtype);
        const int64_t *strides[4] = {cond_strides, a_strides, b_strides, y_strides};
        const char *names[4] = {"cond_strides", "a_strides", "b_strides", "y_strides"};
        int64_t numel = 0;
        rf_status st = rf::check_nd("rf_where_nd", rank, shape, strides, names, 4, &numel);
        if (st != RF_OK || numel == 0) return st;
        RF_CHECK(cond != nullptr, "rf_where_nd: cond is NULL");
        RF_CHECK(a != nullptr, "rf_where_nd: a is NULL");
        RF_CHECK(b != nullptr, "rf_where_nd: b is NULL");
        RF_CHECK(y != nullptr, "rf_where_nd: y is NULL");
        RF_DISPATCH(where_nd, dtype, rank, shape, cond, cond_strides, a, a_strides, b, b_strides, y, y_strides);
    });
}

}  // extern "C"
