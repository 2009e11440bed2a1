// Per-ISA implementations behind rf_embedding_bag / rf_embedding_bags.
// The entry (embedding_bag.cpp) validates everything first — enums, shapes,
// offsets and every id against its table's row count — so these functions
// never see an id outside [0, rows) and never fail.
#pragma once
#include "backend.h"

#include <vector>

namespace rf {

// One validated table of a (multi-)table lookup.
struct BagJob {
    const void *table;
    const void *ids;
    const int64_t *offsets;  // [num_bags + 1], validated
    const float *weights;    // may be NULL
    float *out;
    int64_t rows, dim, num_ids, ldo;
    int32_t table_dtype, id_dtype, mode;
};

// (static: one copy per ISA object; see topk.h.)
// Bytes of one table row (RF_U8Q: dim quantized bytes + fp16 scale + fp16 bias;
// RF_U4Q: (dim + 1) / 2 bytes of nibbles + fp16 scale + fp16 bias).
static inline int64_t bag_row_bytes(int32_t dtype, int64_t dim) {
    switch (dtype) {
    case RF_F32: return dim * 4;
    case RF_U8Q: return dim + 4;
    case RF_U4Q: return (dim + 1) / 2 + 4;
    default: return dim * 2;
    }
}

// Split every job's bags into blocks of roughly `ids_per_task` ids: (job, first bag, end bag).
struct BagTask {
    int32_t job;
    int64_t b0, b1;
};
std::vector<BagTask> plan_bag_tasks(const BagJob *jobs, int num_jobs, int64_t num_bags, int64_t ids_per_task);

RF_DECLARE_ALL_ISAS(
    rf_status embedding_bags(const BagJob *jobs, int num_jobs, int64_t num_bags);)
}
