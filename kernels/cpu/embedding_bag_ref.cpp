// Scalar reference of rf_embedding_bag(s): the header's pseudocode, one table after another.
#include "embedding_bag.h"

namespace rf::ref {

static float row_value(const BagJob &j, int64_t r, int64_t c) {
    const uint8_t *base = static_cast<const uint8_t *>(j.table) + r * bag_row_bytes(j.table_dtype, j.dim);
    switch (j.table_dtype) {
    case RF_F32: {
        float v;
        std::memcpy(&v, base + c * 4, 4);
        return v;
    }
    case RF_F16: {
        uint16_t h;
        std::memcpy(&h, base + c * 2, 2);
        return f16_to_f32(h);
    }
    case RF_BF16: {
        uint16_t h;
        std::memcpy(&h, base + c * 2, 2);
        return bf16_to_f32(h);
    }
    case RF_U4Q: {
        const int64_t qb = (j.dim + 1) / 2;
        uint16_t s, b;
        std::memcpy(&s, base + qb, 2);
        std::memcpy(&b, base + qb + 2, 2);
        const int q = (base[c / 2] >> (4 * (c % 2))) & 15;
        return f16_to_f32(s) * float(q) + f16_to_f32(b);
    }
    default: {
        uint16_t s, b;
        std::memcpy(&s, base + j.dim, 2);
        std::memcpy(&b, base + j.dim + 2, 2);
        return f16_to_f32(s) * float(base[c]) + f16_to_f32(b);
    }
    }
}

rf_status embedding_bags(const BagJob *jobs, int num_jobs, int64_t num_bags) {
    for (int t = 0; t < num_jobs; ++t) {
        const BagJob &j = jobs[t];
        for (int64_t b = 0; b < num_bags; ++b) {
            float *out = j.out + b * j.ldo;
            for (int64_t c = 0; c < j.dim; ++c) out[c] = 0.f;
            int64_t cnt = j.offsets[b + 1] - j.offsets[b];
            for (int64_t i = j.offsets[b]; i < j.offsets[b + 1]; ++i) {
                int64_t r = j.id_dtype == RF_I32 ? static_cast<const int32_t *>(j.ids)[i]
                                                 : static_cast<const int64_t *>(j.ids)[i];
                float w = j.weights ? j.weights[i] : 1.f;
                for (int64_t c = 0; c < j.dim; ++c) out[c] += w * row_value(j, r, c);
            }
            if (j.mode == RF_POOL_MEAN && cnt > 0)
                for (int64_t c = 0; c < j.dim; ++c) out[c] = out[c] / float(cnt);
        }
    }
    return RF_OK;
}

}  // namespace rf::ref
