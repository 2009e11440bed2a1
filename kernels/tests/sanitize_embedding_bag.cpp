// Sanitizer cases for rf_embedding_bag / rf_embedding_bags.
// Tolerance: unweighted bags must match the reference bit for bit on every ISA
// and dtype (same dequantisation, same summation order, exact fma with w = 1,
// MEAN divides); weighted bags 1e-6 normalised (the fast paths fuse w * v + acc).
#include "sanitize.h"

#include <cstring>
#include <string>

using namespace sanitize;

namespace {

uint16_t rand_f16(Rng &rng) {  // finite half in about [-2, 2], normals only
    uint64_t r = rng.next();
    uint16_t sign = uint16_t((r >> 20) & 1) << 15;
    uint16_t exp = uint16_t(8 + (r >> 8) % 8);  // 2^-7 .. 2^0
    return uint16_t(sign | exp << 10 | (r & 0x3ff));
}

std::vector<uint8_t> make_table(Rng &rng, int dtype, int64_t rows, int64_t dim) {
    std::vector<uint8_t> t;
    if (dtype == RF_F32) {
        auto f = rng.floats(size_t(rows * dim));
        t.resize(f.size() * 4);
        std::memcpy(t.data(), f.data(), t.size());
    } else if (dtype == RF_F16 || dtype == RF_BF16) {
        t.resize(size_t(rows * dim) * 2);
        for (size_t i = 0; i < size_t(rows * dim); ++i) {
            uint16_t h;
            if (dtype == RF_F16) {
                h = rand_f16(rng);
            } else {
                float f = rng.uniform();
                uint32_t u;
                std::memcpy(&u, &f, 4);
                h = uint16_t(u >> 16);
            }
            std::memcpy(&t[i * 2], &h, 2);
        }
    } else {
        t.resize(size_t(rows * (dim + 4)));
        for (int64_t r = 0; r < rows; ++r) {
            uint8_t *row = &t[size_t(r * (dim + 4))];
            for (int64_t c = 0; c < dim; ++c) row[c] = uint8_t(rng.next() >> 32);
            uint16_t s = uint16_t(rand_f16(rng) & 0x7fff) - (3 << 10), b = rand_f16(rng);  // scale ~2^-10..2^-3
            std::memcpy(row + dim, &s, 2);
            std::memcpy(row + dim + 2, &b, 2);
        }
    }
    return t;
}

struct Bags {
    std::vector<int64_t> offsets;
    std::vector<int32_t> ids32;
    std::vector<int64_t> ids64;
    std::vector<float> weights;
};

// Bag sizes cycle through 0 (empty), 1, 3, 2, 7; gather mode: all 1.
Bags make_bags(Rng &rng, int64_t num_bags, int64_t rows, bool gather) {
    static const int sizes[] = {0, 1, 3, 2, 7, 1};
    Bags b;
    b.offsets.push_back(0);
    for (int64_t i = 0; i < num_bags; ++i) {
        int n = gather ? 1 : sizes[i % 6];
        for (int k = 0; k < n; ++k) {
            int64_t id = int64_t(rng.next() % uint64_t(rows));
            b.ids32.push_back(int32_t(id));
            b.ids64.push_back(id);
            b.weights.push_back(rng.uniform());
        }
        b.offsets.push_back(int64_t(b.ids64.size()));
    }
    return b;
}

const int kDtypes[] = {RF_F32, RF_F16, RF_BF16, RF_U8Q};
const int64_t kDims[] = {1, 3, 17, 128, 130, 200};

}  // namespace

SANITIZE_CASE(embedding_bag) {
    int failed = 0;
    Rng rng(7);
    const int64_t rows = 37;
    for (int dtype : kDtypes) {
        for (int64_t dim : kDims) {
            auto table = make_table(rng, dtype, rows, dim);
            for (int mode = RF_POOL_SUM; mode <= RF_POOL_GATHER; ++mode) {
                for (int64_t num_bags : {int64_t(1), int64_t(13)}) {
                    Bags bags = make_bags(rng, num_bags, rows, mode == RF_POOL_GATHER);
                    const int64_t ldo = dim + 5;
                    for (int weighted = 0; weighted < 2; ++weighted) {
                        for (int id_dtype : {RF_I32, RF_I64}) {
                            const void *ids = id_dtype == RF_I32 ? (const void *)bags.ids32.data() : (const void *)bags.ids64.data();
                            const float *w = weighted ? bags.weights.data() : nullptr;
                            int64_t num_ids = int64_t(bags.ids64.size());
                            std::vector<float> want(size_t(num_bags * ldo), 42.f), got;
                            rf_set_isa(RF_ISA_REF);
                            failed += expect_status("embedding_bag ref",
                                                    rf_embedding_bag(nullptr, table.data(), dtype, rows, dim, ids, id_dtype, num_ids,
                                                                     bags.offsets.data(), num_bags, w, mode, want.data(), ldo),
                                                    RF_OK);
                            for (int isa : supported_isas()) {
                                rf_set_isa(isa);
                                got.assign(want.size(), 42.f);  // the gaps between blocks must stay 42
                                std::string what = "embedding_bag isa " + std::to_string(isa) + " dtype " + std::to_string(dtype) +
                                                   " dim " + std::to_string(dim) + " mode " + std::to_string(mode) +
                                                   (weighted ? " weighted" : "");
                                failed += expect_status(what.c_str(),
                                                        rf_embedding_bag(nullptr, table.data(), dtype, rows, dim, ids, id_dtype, num_ids,
                                                                         bags.offsets.data(), num_bags, w, mode, got.data(), ldo),
                                                        RF_OK);
                                failed += expect_close(what.c_str(), got.data(), want.data(), got.size(), weighted ? 1e-6f : 0.f);
                            }
                        }
                    }
                }
            }
        }
    }
    return failed;
}

SANITIZE_CASE(embedding_bags_multi) {
    int failed = 0;
    Rng rng(11);
    const int64_t num_bags = 9;
    struct T {
        int dtype;
        int64_t rows, dim;
        int mode;
    };
    const T spec[] = {{RF_F32, 50, 128, RF_POOL_SUM}, {RF_F16, 3, 17, RF_POOL_MEAN}, {RF_BF16, 20, 1, RF_POOL_GATHER},
                      {RF_U8Q, 9, 130, RF_POOL_SUM}, {RF_F32, 1, 3, RF_POOL_MEAN}};
    const int nt = 5;
    int64_t total = 0;
    for (auto &s : spec) total += s.dim;
    std::vector<std::vector<uint8_t>> tables;
    std::vector<Bags> bags;
    for (auto &s : spec) {
        tables.push_back(make_table(rng, s.dtype, s.rows, s.dim));
        bags.push_back(make_bags(rng, num_bags, s.rows, s.mode == RF_POOL_GATHER));
    }
    std::vector<float> want(size_t(num_bags * total), 0.f), got;
    auto describe = [&](float *base) {
        std::vector<rf_bag_table_t> d(nt);
        int64_t col = 0;
        for (int t = 0; t < nt; ++t) {
            d[t] = rf_bag_table_t{tables[t].data(), t % 2 ? (const void *)bags[t].ids32.data() : (const void *)bags[t].ids64.data(),
                                  bags[t].offsets.data(), t == 0 ? bags[t].weights.data() : nullptr, base + col,
                                  spec[t].rows, spec[t].dim, int64_t(bags[t].ids64.size()), total, spec[t].dtype,
                                  t % 2 ? RF_I32 : RF_I64, spec[t].mode, 0};
            col += spec[t].dim;
        }
        return d;
    };
    rf_set_isa(RF_ISA_REF);
    auto dw = describe(want.data());
    failed += expect_status("embedding_bags ref", rf_embedding_bags(nullptr, nt, dw.data(), num_bags), RF_OK);
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        got.assign(want.size(), -1.f);
        auto dg = describe(got.data());
        failed += expect_status("embedding_bags", rf_embedding_bags(nullptr, nt, dg.data(), num_bags), RF_OK);
        failed += expect_close("embedding_bags", got.data(), want.data(), got.size(), 1e-6f);
    }
    // Errors: an id past table 3's rows names the table; nothing is read out of bounds.
    rf_set_isa(supported_isas().back());
    got.assign(want.size(), 0.f);
    auto bad = describe(got.data());
    std::vector<int64_t> ids_bad = bags[3].ids64;
    bad[3].ids = ids_bad.data();
    bad[3].id_dtype = RF_I64;
    ids_bad[ids_bad.size() - 1] = spec[3].rows;
    failed += expect_status("embedding_bags id == rows", rf_embedding_bags(nullptr, nt, bad.data(), num_bags), RF_ERR_OUT_OF_RANGE);
    if (!std::strstr(rf_last_error(), "table 3")) {
        std::printf("  FAIL embedding_bags: message does not name the table: %s\n", rf_last_error());
        ++failed;
    }
    ids_bad[0] = -1;
    failed += expect_status("embedding_bags id < 0", rf_embedding_bags(nullptr, nt, bad.data(), num_bags), RF_ERR_OUT_OF_RANGE);
    bad = describe(got.data());
    bad[1].ldo = spec[1].dim - 1;
    failed += expect_status("embedding_bags ldo < dim", rf_embedding_bags(nullptr, nt, bad.data(), num_bags), RF_ERR_INVALID_ARG);
    bad = describe(got.data());
    bad[2].table_dtype = RF_I8;
    failed += expect_status("embedding_bags bad dtype", rf_embedding_bags(nullptr, nt, bad.data(), num_bags), RF_ERR_INVALID_ARG);
    failed += expect_status("embedding_bags NULL tables", rf_embedding_bags(nullptr, nt, nullptr, num_bags), RF_ERR_INVALID_ARG);
    failed += expect_status("embedding_bags no bags", rf_embedding_bags(nullptr, nt, nullptr, 0), RF_OK);
    failed += expect_status("embedding_bags negative", rf_embedding_bags(nullptr, -1, dw.data(), num_bags), RF_ERR_INVALID_ARG);
    return failed;
}

SANITIZE_CASE(embedding_bag_errors) {
    int failed = 0;
    Rng rng(3);
    const int64_t rows = 10, dim = 17, nb = 4;
    auto table = make_table(rng, RF_F32, rows, dim);
    std::vector<int64_t> off = {0, 1, 3, 3, 5};
    std::vector<int32_t> ids32 = {0, 9, 2, 3, 4};
    std::vector<float> out(size_t(nb * dim));
    auto call = [&](const void *tbl, int dt, int64_t r, int64_t d, const void *ids, int idt, int64_t nids, const int64_t *o,
                    int64_t bags, int mode, float *y, int64_t ldo) {
        return rf_embedding_bag(nullptr, tbl, dt, r, d, ids, idt, nids, o, bags, nullptr, mode, y, ldo);
    };
    for (int isa : supported_isas()) {
        rf_set_isa(isa);
        failed += expect_status("ok", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_OK);
        std::vector<int32_t> b = ids32;
        b[3] = 10;
        failed += expect_status("id == rows", call(table.data(), RF_F32, rows, dim, b.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_OUT_OF_RANGE);
        if (!std::strstr(rf_last_error(), "position 3")) {
            std::printf("  FAIL id message lacks the position: %s\n", rf_last_error());
            ++failed;
        }
        b[3] = -5;
        failed += expect_status("id < 0", call(table.data(), RF_F32, rows, dim, b.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_OUT_OF_RANGE);
        std::vector<int64_t> b64 = {0, 9, 2, int64_t(1) << 40, 4};
        failed += expect_status("id64 huge", call(table.data(), RF_F32, rows, dim, b64.data(), RF_I64, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_OUT_OF_RANGE);
        failed += expect_status("rows 0", call(table.data(), RF_F32, 0, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_OUT_OF_RANGE);
        std::vector<int64_t> o = {1, 1, 3, 3, 5};
        failed += expect_status("offsets[0] != 0", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, o.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        o = {0, 3, 1, 3, 5};
        failed += expect_status("offsets decreasing", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, o.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        o = {0, 1, 3, 3, 4};
        failed += expect_status("offsets last != num_ids", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, o.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        o = {0, 1, 3, 3, 9};
        failed += expect_status("offsets past num_ids", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, o.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("gather with bag of 2", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, RF_POOL_GATHER, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("bad mode", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 7, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("bad id dtype", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_F32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("bad table dtype", call(table.data(), RF_I32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("ldo < dim", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim - 1), RF_ERR_INVALID_ARG);
        failed += expect_status("negative dim", call(table.data(), RF_F32, rows, -1, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("negative rows", call(table.data(), RF_F32, -1, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("negative bags", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), -1, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("NULL table", call(nullptr, RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("NULL ids", call(table.data(), RF_F32, rows, dim, nullptr, RF_I32, 5, off.data(), nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("NULL offsets", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, nullptr, nb, 0, out.data(), dim), RF_ERR_INVALID_ARG);
        failed += expect_status("NULL out", call(table.data(), RF_F32, rows, dim, ids32.data(), RF_I32, 5, off.data(), nb, 0, nullptr, dim), RF_ERR_INVALID_ARG);
        failed += expect_status("zero bags, NULLs", call(nullptr, RF_F32, rows, dim, nullptr, RF_I32, 0, nullptr, 0, 0, nullptr, dim), RF_OK);
        // All bags empty: no ids, table may be NULL, output zeros.
        std::vector<int64_t> z = {0, 0, 0, 0, 0};
        std::vector<float> y(size_t(nb * dim), 5.f);
        failed += expect_status("all empty", call(nullptr, RF_F32, rows, dim, nullptr, RF_I32, 0, z.data(), nb, RF_POOL_MEAN, y.data(), dim), RF_OK);
        std::vector<float> zeros(y.size(), 0.f);
        failed += expect_close("all empty zeros", y.data(), zeros.data(), y.size(), 0.f);
    }
    return failed;
}
