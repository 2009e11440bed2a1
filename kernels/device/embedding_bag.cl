// Pooled embedding lookup. GPUs: a work-group per bag, its work-items striding
// over the dim columns so each id's row is read once, contiguously, by the
// whole group. CPU devices: embedding_bag_rows, below. All compute
//   out[b*ldo + c] = pool_{i in bag b} (weights ? weights[i] : 1) * row(ids[i])[c]
// Ids were range-checked on the host before the launch. Table dtypes
// (rf_dtype): 0 f32, 1 f16, 2 bf16, 4 u8q (dim bytes, fp16 scale, fp16 bias),
// 8 u4q ((dim + 1) / 2 bytes of nibbles, even columns low, fp16 scale, fp16 bias).
RF_FN float u4q_value(RF_GLOBAL const uchar *t, long row, long dim, long c) {
    const long qb = (dim + 1) / 2;
    RF_GLOBAL const uchar *r = t + row * (qb + 4);
    const float scale = f16_to_f32((RF_GLOBAL const ushort *)(r + qb));
    const float bias = f16_to_f32((RF_GLOBAL const ushort *)(r + qb + 2));
    return scale * (float)((r[c / 2] >> (4 * (c % 2))) & 15) + bias;
}

RF_FN float table_value(RF_GLOBAL const uchar *t, int dtype, long row, long dim, long c) {
    switch (dtype) {
    case 0: return ((RF_GLOBAL const float *)t)[row * dim + c];
    case 1: return f16_to_f32((RF_GLOBAL const ushort *)t + row * dim + c);
    case 2: return bf16_to_f32(((RF_GLOBAL const ushort *)t)[row * dim + c]);
    case 8: return u4q_value(t, row, dim, c);
    default: {
        RF_GLOBAL const uchar *r = t + row * (dim + 4);
        float scale = f16_to_f32((RF_GLOBAL const ushort *)(r + dim));
        float bias = f16_to_f32((RF_GLOBAL const ushort *)(r + dim + 2));
        return scale * (float)r[c] + bias;
    }
    }
}

RF_KERNEL void embedding_bag(GBUF(const uchar, table), int table_dtype, long dim, GBUF(const uchar, ids), int id_dtype,
                            GBUF(const long, offsets), GBUF(const float, weights), int mode, GBUF(float, out), long ldo,
                            long num_bags, int bags_per_group) {
    RF_GLOBAL const uchar *T = AT(const uchar, table);
    RF_GLOBAL const long *O = AT(const long, offsets);
    RF_GLOBAL const float *Wt = OPT(const float, weights);
    const long b0 = get_group_id(0) * bags_per_group;
    const long b1 = min(b0 + bags_per_group, num_bags);
    for (long b = b0; b < b1; ++b) {
    RF_GLOBAL float *Y = AT(float, out) + b * ldo;
    const long first = O[b], last = O[b + 1];
    for (long c = get_local_id(0); c < dim; c += get_local_size(0)) {
        float acc = 0.f;
        for (long i = first; i < last; ++i) {
            long row = id_dtype == 5 ? (long)AT(const int, ids)[i] : AT(const long, ids)[i];
            float v = table_value(T, table_dtype, row, dim, c);
            acc = Wt ? fma(Wt[i], v, acc) : acc + v;
        }
        if (mode == 1 && last > first) acc /= (float)(last - first);
        Y[c] = acc;
    }
    }
}

// Four columns of row `row` as a vector (dim % 4 == 0): vector loads of the stored dtype.
RF_FN rf_float4 table_value4(RF_GLOBAL const uchar *t, int dtype, long row, long dim, long c4) {
    switch (dtype) {
    case 0: return rf_vload4(c4, (RF_GLOBAL const float *)t + row * dim);
    case 1: return rf_vload_half4(c4, (RF_GLOBAL const ushort *)t + row * dim);
    case 2: return rf_vload_bf16x4(c4, (RF_GLOBAL const ushort *)t + row * dim);
    case 8: return rf_make4(u4q_value(t, row, dim, 4 * c4), u4q_value(t, row, dim, 4 * c4 + 1), u4q_value(t, row, dim, 4 * c4 + 2),
                            u4q_value(t, row, dim, 4 * c4 + 3));
    default: {
        RF_GLOBAL const uchar *r = t + row * (dim + 4);
        float scale = f16_to_f32((RF_GLOBAL const ushort *)(r + dim));
        float bias = f16_to_f32((RF_GLOBAL const ushort *)(r + dim + 2));
        return scale * rf_vload_u8x4(c4, r) + bias;
    }
    }
}

// The same lookup with 4 columns per work-item (vectorised loads), for dim % 4 == 0.
RF_KERNEL void embedding_bag_v4(GBUF(const uchar, table), int table_dtype, long dim, GBUF(const uchar, ids),
                               int id_dtype, GBUF(const long, offsets), GBUF(const float, weights), int mode,
                               GBUF(float, out), long ldo, long num_bags, int bags_per_group) {
    RF_GLOBAL const uchar *T = AT(const uchar, table);
    RF_GLOBAL const long *O = AT(const long, offsets);
    RF_GLOBAL const float *Wt = OPT(const float, weights);
    const long b0 = get_group_id(0) * bags_per_group;
    const long b1 = min(b0 + bags_per_group, num_bags);
    const long dim4 = dim / 4;
    for (long b = b0; b < b1; ++b) {
        RF_GLOBAL float *Y = AT(float, out) + b * ldo;
        const long first = O[b], last = O[b + 1];
        for (long c4 = get_local_id(0); c4 < dim4; c4 += get_local_size(0)) {
            rf_float4 acc = rf_splat4(0.f);
            for (long i = first; i < last; ++i) {
                long row = id_dtype == 5 ? (long)AT(const int, ids)[i] : AT(const long, ids)[i];
                rf_float4 v = table_value4(T, table_dtype, row, dim, c4);
                acc = Wt ? fma(rf_splat4(Wt[i]), v, acc) : acc + v;
            }
            if (mode == 1 && last > first) acc /= (float)(last - first);
            rf_vstore4(acc, c4, Y);
        }
    }
}

// CPU devices: a work-item per run of bags_per_group bags, accumulating each
// id's row into the output row with the column loop innermost (the loop a CPU
// driver vectorises), one loop per table dtype.
RF_KERNEL void embedding_bag_rows(GBUF(const uchar, table), int table_dtype, long dim, GBUF(const uchar, ids),
                                 int id_dtype, GBUF(const long, offsets), GBUF(const float, weights), int mode,
                                 GBUF(float, out), long ldo, long num_bags, int bags_per_group) {
    RF_GLOBAL const uchar *T = AT(const uchar, table);
    RF_GLOBAL const long *O = AT(const long, offsets);
    RF_GLOBAL const float *Wt = OPT(const float, weights);
    const long b0 = get_global_id(0) * bags_per_group;
    const long b1 = min(b0 + bags_per_group, num_bags);
    for (long b = b0; b < b1; ++b) {
        RF_GLOBAL float *Y = AT(float, out) + b * ldo;
        for (long c = 0; c < dim; ++c) Y[c] = 0.f;
        const long first = O[b], last = O[b + 1];
        for (long i = first; i < last; ++i) {
            const long row = id_dtype == 5 ? (long)AT(const int, ids)[i] : AT(const long, ids)[i];
            const float w = Wt ? Wt[i] : 1.f;
            if (table_dtype == 0) {
                RF_GLOBAL const float *r = (RF_GLOBAL const float *)T + row * dim;
                for (long c = 0; c < dim; ++c) Y[c] = fma(w, r[c], Y[c]);
            } else if (table_dtype == 1) {
                RF_GLOBAL const ushort *r = (RF_GLOBAL const ushort *)T + row * dim;
                for (long c = 0; c < dim; ++c) Y[c] = fma(w, rf_half(r + c), Y[c]);
            } else if (table_dtype == 2) {
                RF_GLOBAL const ushort *r = (RF_GLOBAL const ushort *)T + row * dim;
                for (long c = 0; c < dim; ++c) Y[c] = fma(w, bf16_to_f32(r[c]), Y[c]);
            } else if (table_dtype == 8) {
                for (long c = 0; c < dim; ++c) Y[c] = fma(w, u4q_value(T, row, dim, c), Y[c]);
            } else {
                RF_GLOBAL const uchar *r = T + row * (dim + 4);
                const float scale = f16_to_f32((RF_GLOBAL const ushort *)(r + dim));
                const float bias = f16_to_f32((RF_GLOBAL const ushort *)(r + dim + 2));
                for (long c = 0; c < dim; ++c) Y[c] = fma(w, fma(scale, (float)r[c], bias), Y[c]);
            }
        }
        if (mode == 1 && last > first)
            for (long c = 0; c < dim; ++c) Y[c] /= (float)(last - first);
    }
}
