// Per-ISA implementations behind rf_gather_rows / rf_scatter_add_rows
// (arguments validated, every index checked in range by the entry).
#pragma once
#include "backend.h"

namespace rf {
RF_DECLARE_ALL_ISAS(
    rf_status gather_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx, const float *weights,
                          float *dst, int64_t ldd);
    rf_status scatter_add_rows(int64_t n, int64_t d, const float *src, int64_t lds, const int32_t *idx,
                               const float *weights, float *dst, int64_t ldd, int64_t dst_rows);)
}
