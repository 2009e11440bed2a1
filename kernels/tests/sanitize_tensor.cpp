// Sanitizer cases for the general tensor kernels: small odd shapes with
// broadcast (0), permuted and reversed (negative) strides on every ISA
// against the reference (outputs compared bytewise, f32 within 1e-5), so any
// out-of-bounds read or write of the N-d loops shows up, plus bad arguments.
#include "sanitize.h"

#include <cstring>
#include <string>

using namespace sanitize;

namespace {

// Runs fn(y) (y: `bytes` bytes, pre-filled with 0x5a) on the reference, then every ISA, comparing.
template <class F>
int parity_bytes(const std::string &what, size_t bytes, bool f32, F fn) {
    int failed = 0;
    std::vector<unsigned char> want(bytes, 0x5a), got;
    rf_set_isa(RF_ISA_REF);
    failed += expect_status((what + " ref").c_str(), fn(want.data()), RF_OK);
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        got.assign(bytes, 0x5a);
        std::string w = what + " isa " + std::to_string(isa);
        failed += expect_status(w.c_str(), fn(got.data()), RF_OK);
        if (f32) failed += expect_close(w.c_str(), reinterpret_cast<float *>(got.data()), reinterpret_cast<float *>(want.data()), bytes / 4, 1e-5f);
        else if (std::memcmp(got.data(), want.data(), bytes) != 0) std::printf("FAIL %s: bytes differ\n", w.c_str()), ++failed;
    }
    return failed;
}

}  // namespace

SANITIZE_CASE(tensor_elementwise) {
    int failed = 0;
    Rng rng(21);
    // Logical [3][5][7]; x stored as [7][5][3] (permuted) and read reversed along dim 0.
    const int64_t shape[3] = {3, 5, 7};
    auto x = rng.floats(105);
    const int64_t xs_perm[3] = {1, 3, 15}, xs_rev[3] = {-35, 7, 1}, ys[3] = {35, 7, 1}, bs[3] = {0, 1, 0};
    const float *x_rev = x.data() + 70;
    std::vector<int32_t> xi(105);
    for (size_t i = 0; i < xi.size(); ++i) xi[i] = int32_t(rng.next() % 41) - 20;
    for (int op = RF_UNARY_NEG; op <= RF_UNARY_HARDSIGMOID; ++op) {
        if (op == RF_UNARY_NOT || op == RF_UNARY_ISNAN) continue;
        failed += parity_bytes("unary_nd " + std::to_string(op), 105 * 4, true, [&](void *y) {
            return rf_unary_nd(nullptr, op, RF_F32, 3, shape, x_rev, xs_rev, -0.5f, 0.5f, y, ys);
        });
    }
    failed += parity_bytes("unary_nd i32 clip", 105 * 4, false, [&](void *y) {
        return rf_unary_nd(nullptr, RF_UNARY_CLIP, RF_I32, 3, shape, xi.data(), xs_perm, -3.f, 4.f, y, ys);
    });
    for (int op = RF_BIN_ADD; op <= RF_BIN_GE; ++op) {
        failed += parity_bytes("binary_nd " + std::to_string(op), op >= RF_BIN_EQ ? 105 : 105 * 4, op < RF_BIN_EQ, [&](void *y) {
            return rf_binary_nd(nullptr, op, RF_F32, 3, shape, x.data(), xs_perm, x.data() + 3, bs, y, ys);
        });
    }
    std::vector<unsigned char> cond(35);
    for (auto &c : cond) c = (unsigned char)(rng.next() & 1);
    const int64_t cs[3] = {0, 7, 1};
    failed += parity_bytes("where_nd", 105 * 4, true, [&](void *y) {
        return rf_where_nd(nullptr, RF_F32, 3, shape, cond.data(), cs, x.data(), xs_perm, x_rev, xs_rev, y, ys);
    });
    for (int to : {RF_F32, RF_I32, RF_I64, RF_BOOL}) {
        const size_t e = to == RF_I64 ? 8 : to == RF_BOOL ? 1 : 4;
        failed += parity_bytes("cast_nd i32 -> " + std::to_string(to), 105 * e, false, [&](void *y) {
            return rf_cast_nd(nullptr, 3, shape, xi.data(), RF_I32, xs_perm, y, to, ys);
        });
    }
    // A 40 x 45 transpose (the tiled path) and a reversed copy.
    auto big = rng.floats(40 * 45);
    const int64_t tshape[2] = {45, 40}, txs[2] = {1, 45}, tys[2] = {40, 1};
    failed += parity_bytes("cast_nd transpose", 40 * 45 * 4, false, [&](void *y) {
        return rf_cast_nd(nullptr, 2, tshape, big.data(), RF_F32, txs, y, RF_F32, tys);
    });
    std::vector<float> y(105);
    failed += expect_status("unary rank 9", rf_unary_nd(nullptr, 0, RF_F32, 9, shape, x.data(), ys, 0, 0, y.data(), ys), RF_ERR_INVALID_ARG);
    failed += expect_status("binary null strides", rf_binary_nd(nullptr, 0, RF_F32, 3, shape, x.data(), nullptr, x.data(), ys, y.data(), ys), RF_ERR_INVALID_ARG);
    std::vector<int32_t> zero(105, 0);
    failed += expect_status("binary div by 0", rf_binary_nd(nullptr, RF_BIN_DIV, RF_I32, 3, shape, xi.data(), ys, zero.data(), ys, y.data(), ys), RF_ERR_INVALID_ARG);
    return failed;
}

SANITIZE_CASE(tensor_axis) {
    int failed = 0;
    Rng rng(22);
    const int64_t outer = 3, n = 37, inner = 5;
    auto x = rng.floats(outer * n * inner);
    for (int op = RF_REDUCE_SUM; op <= RF_REDUCE_ARGMIN; ++op) {
        if (op == RF_REDUCE_LOG_SUM) continue;  // log of negative sums: NaN either way
        const bool arg = op >= RF_REDUCE_ARGMAX;
        for (int64_t in : {int64_t(1), inner})
            failed += parity_bytes("reduce " + std::to_string(op), size_t(outer * in) * (arg ? 8 : 4), !arg, [&](void *y) {
                return rf_reduce(nullptr, op, RF_F32, outer, n * inner / in, in, x.data(), y);
            });
    }
    for (int lg : {0, 1})
        failed += parity_bytes("softmax_axis", x.size() * 4, true, [&](void *y) {
            return rf_softmax_axis(nullptr, lg, outer, n, inner, x.data(), static_cast<float *>(y));
        });
    // y[p] = a[p] (7 x 37) · b (37 x 5, stored transposed), b broadcast over the batch.
    auto ma = rng.floats(3 * 7 * 37), mb = rng.floats(37 * 5);
    failed += parity_bytes("matmul_batched", 3 * 7 * 5 * 4, true, [&](void *y) {
        return rf_matmul_batched(nullptr, 3, 7, 5, 37, ma.data(), 7 * 37, 37, 1, mb.data(), 0, 1, 37, 0.f,
                                 static_cast<float *>(y), 35, 5);
    });
    std::vector<int64_t> idx = {4, -1, 0, 36, -37, 2};
    failed += parity_bytes("gather_axis", size_t(outer * 6 * inner) * 4, false, [&](void *y) {
        return rf_gather_axis(nullptr, RF_F32, outer, n, inner, x.data(), idx.data(), RF_I64, 6, 0, y);
    });
    std::vector<int32_t> eidx(outer * 2 * inner);
    for (auto &t : eidx) t = int32_t(rng.next() % 74) - 37;
    failed += parity_bytes("gather_elements", eidx.size() * 4, false, [&](void *y) {
        return rf_gather_elements(nullptr, RF_F32, outer, n, 2, inner, x.data(), eidx.data(), RF_I32, y);
    });
    const int64_t dshape[3] = {outer, n, inner};
    std::vector<int64_t> sidx = {0, 3, 2, -1, 0, 3, 1, 36};
    for (int red = 0; red <= 4; ++red)
        failed += parity_bytes("scatter_nd " + std::to_string(red), x.size() * 4, true, [&](void *y) {
            std::memcpy(y, x.data(), x.size() * 4);
            return rf_scatter_nd(nullptr, RF_F32, red, 3, dshape, sidx.data(), RF_I64, 4, 2, x.data(), y);
        });
    for (int mode = 0; mode < 4; ++mode)
        failed += parity_bytes("cumsum_axis", x.size() * 4, true, [&](void *y) {
            return rf_cumsum_axis(nullptr, RF_F32, outer, n, inner, mode & 1, mode >> 1, x.data(), y);
        });
    for (int64_t kk : {int64_t(1), int64_t(5), n}) {
        const int64_t count = outer * kk * inner, padded = (count + 1) / 2 * 2;  // keeps the int64 part aligned
        failed += parity_bytes("topk_axis", size_t(padded * 4 + count * 8), false, [&](void *buf) {
            float *vals = static_cast<float *>(buf);
            int64_t *ids = reinterpret_cast<int64_t *>(vals + padded);
            return rf_topk_axis(nullptr, outer, n, inner, kk, int32_t(kk & 1), x.data(), vals, ids);
        });
    }
    std::vector<float> y(x.size());
    std::vector<int64_t> bad = {37};
    failed += expect_status("gather out of range", rf_gather_axis(nullptr, RF_F32, outer, n, inner, x.data(), bad.data(), RF_I64, 1, 0, y.data()), RF_ERR_OUT_OF_RANGE);
    failed += expect_status("reduce empty max", rf_reduce(nullptr, RF_REDUCE_MAX, RF_F32, 2, 0, 2, x.data(), y.data()), RF_ERR_INVALID_ARG);
    failed += expect_status("topk k > n", rf_topk_axis(nullptr, 1, 3, 1, 4, 1, x.data(), y.data(), bad.data()), RF_ERR_INVALID_ARG);
    return failed;
}
