// Portable (baseline x86-64 / any CPU) embedding bags: the reference's loop
// order (so results match it exactly) split into (table, bag block) tasks on
// the pool, with per-dtype inner loops the compiler vectorises and software
// prefetch of upcoming rows. Compiled with the base flags (no ISA suffix).
#include "embedding_bag.h"

namespace rf::portable {
namespace {

constexpr int64_t kPrefetchAhead = 10;

template <int DT>
inline void add_row(const uint8_t *row, int64_t dim, float w, float *out) {
    if constexpr (DT == RF_F32) {
        const float *r = reinterpret_cast<const float *>(row);
        for (int64_t c = 0; c < dim; ++c) out[c] += w * r[c];
    } else if constexpr (DT == RF_BF16) {
        for (int64_t c = 0; c < dim; ++c) {
            uint16_t h;
            std::memcpy(&h, row + 2 * c, 2);
            out[c] += w * bf16_to_f32(h);
        }
    } else if constexpr (DT == RF_F16) {
        for (int64_t c = 0; c < dim; ++c) {
            uint16_t h;
            std::memcpy(&h, row + 2 * c, 2);
            out[c] += w * f16_to_f32(h);
        }
    } else if constexpr (DT == RF_U4Q) {
        uint16_t sb[2];
        std::memcpy(sb, row + (dim + 1) / 2, 4);
        float s = f16_to_f32(sb[0]), b = f16_to_f32(sb[1]);
        for (int64_t c = 0; c < dim; ++c) out[c] += w * (s * float((row[c / 2] >> (4 * (c % 2))) & 15) + b);
    } else {
        uint16_t sb[2];
        std::memcpy(sb, row + dim, 4);
        float s = f16_to_f32(sb[0]), b = f16_to_f32(sb[1]);
        for (int64_t c = 0; c < dim; ++c) out[c] += w * (s * float(row[c]) + b);
    }
}

template <int DT, class IT>
void run_task(const BagJob &j, int64_t b0, int64_t b1) {
    const uint8_t *table = static_cast<const uint8_t *>(j.table);
    const IT *ids = static_cast<const IT *>(j.ids);
    const int64_t row_bytes = bag_row_bytes(DT, j.dim);
    const int64_t pf_end = j.offsets[b1];
    const int64_t pf_bytes = row_bytes < 2048 ? row_bytes : 2048;
    for (int64_t b = b0; b < b1; ++b) {
        float *out = j.out + b * j.ldo;
        for (int64_t c = 0; c < j.dim; ++c) out[c] = 0.f;
        const int64_t s = j.offsets[b], e = j.offsets[b + 1];
        for (int64_t i = s; i < e; ++i) {
            if (i + kPrefetchAhead < pf_end) {
                const uint8_t *p = table + int64_t(ids[i + kPrefetchAhead]) * row_bytes;
                for (int64_t o = 0; o < pf_bytes; o += 64) __builtin_prefetch(p + o);
            }
            add_row<DT>(table + int64_t(ids[i]) * row_bytes, j.dim, j.weights ? j.weights[i] : 1.f, out);
        }
        if (j.mode == RF_POOL_MEAN && e > s)
            for (int64_t c = 0; c < j.dim; ++c) out[c] = out[c] / float(e - s);
    }
}

#include "embedding_bag_driver.h"

}  // namespace

rf_status embedding_bags(const BagJob *jobs, int num_jobs, int64_t num_bags) { return run_bag_jobs(jobs, num_jobs, num_bags); }

}  // namespace rf::portable
