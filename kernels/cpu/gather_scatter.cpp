// rf_gather_rows / rf_scatter_add_rows: argument checks (every index before any
// row moves) and ISA dispatch.
#include "gather_scatter.h"

namespace {

rf_status check_indices(const char *fn, const int32_t *idx, int64_t n, int64_t rows, const char *what) {
    for (int64_t i = 0; i < n; ++i)
        if (idx[i] < 0 || idx[i] >= rows)
            return rf::fail(RF_ERR_OUT_OF_RANGE, "%s: idx[%lld] = %d is outside [0, %s = %lld)", fn, (long long)i, idx[i],
                            what, (long long)rows);
    return RF_OK;
}

}  // namespace

extern "C" {

RF_API rf_status rf_gather_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, int64_t src_rows,
                                const int32_t *idx, const float *weights, float *dst, int64_t ldd) {
    RF_ENTRY({
        RF_CHECK(n >= 0, "rf_gather_rows: n = %lld is negative", (long long)n);
        RF_CHECK(d >= 0, "rf_gather_rows: d = %lld is negative", (long long)d);
        RF_CHECK(src_rows >= 0, "rf_gather_rows: src_rows = %lld is negative", (long long)src_rows);
        RF_CHECK(lds >= d, "rf_gather_rows: lds = %lld must be >= d = %lld", (long long)lds, (long long)d);
        RF_CHECK(ldd >= d, "rf_gather_rows: ldd = %lld must be >= d = %lld", (long long)ldd, (long long)d);
        if (n == 0) return RF_OK;
        RF_CHECK(idx != nullptr, "rf_gather_rows: idx is NULL");
        rf_status st = check_indices("rf_gather_rows", idx, n, src_rows, "src_rows");
        if (st != RF_OK || d == 0) return st;
        RF_CHECK(src != nullptr, "rf_gather_rows: src is NULL");
        RF_CHECK(dst != nullptr, "rf_gather_rows: dst is NULL");
        RF_DISPATCH(gather_rows, n, d, src, lds, idx, weights, dst, ldd);
    });
}

RF_API rf_status rf_scatter_add_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                                     const float *weights, float *dst, int64_t ldd, int64_t dst_rows) {
    RF_ENTRY({
        RF_CHECK(n >= 0, "rf_scatter_add_rows: n = %lld is negative", (long long)n);
        RF_CHECK(d >= 0, "rf_scatter_add_rows: d = %lld is negative", (long long)d);
        RF_CHECK(dst_rows >= 0, "rf_scatter_add_rows: dst_rows = %lld is negative", (long long)dst_rows);
        RF_CHECK(lds >= d, "rf_scatter_add_rows: lds = %lld must be >= d = %lld", (long long)lds, (long long)d);
        RF_CHECK(ldd >= d, "rf_scatter_add_rows: ldd = %lld must be >= d = %lld", (long long)ldd, (long long)d);
        if (n == 0) return RF_OK;
        RF_CHECK(idx != nullptr, "rf_scatter_add_rows: idx is NULL");
        rf_status st = check_indices("rf_scatter_add_rows", idx, n, dst_rows, "dst_rows");
        if (st != RF_OK || d == 0) return st;
        RF_CHECK(src != nullptr, "rf_scatter_add_rows: src is NULL");
        RF_CHECK(dst != nullptr, "rf_scatter_add_rows: dst is NULL");
        RF_DISPATCH(scatter_add_rows, n, d, src, lds, idx, weights, dst, ldd, dst_rows);
    });
}

}  // extern "C"
