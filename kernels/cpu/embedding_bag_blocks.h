// The register-blocked bag loop shared by the vector paths (embedding_bag_avx2.cpp,
// embedding_bag_avx512.cpp): rows of the ids kPrefetchAhead positions ahead are
// software-prefetched, and each bag's output is produced in blocks of up to 8
// vectors of kBagLanes columns by the file's bag_block. Included inside the ISA
// file's anonymous namespace (so it compiles with its flags) after it defines
//   constexpr int kBagLanes;            floats per vector
//   using BagTail = ...;                how the last vector's width is passed
//   BagTail bag_tail(int columns);      for 1..kBagLanes columns in the last vector
// and before its bag_block definitions.

constexpr int64_t kPrefetchAhead = 10;  // ids
constexpr int64_t kMaxPrefetchBytes = 2048;

inline void prefetch_row(const uint8_t *row, int64_t bytes) {
    if (bytes > kMaxPrefetchBytes) bytes = kMaxPrefetchBytes;
    for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char *>(row + o), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char *>(row + bytes - 1), _MM_HINT_T0);
}

// Pool rows [s, e) of `ids` into out[c0 .. c0 + NV·kBagLanes), the last vector holding `tail`
// columns; prefetch ahead (up to pf_end) when `prefetch` (the first block of the bag).
template <int DT, class IT, int NV>
void bag_block(const BagJob &j, const uint8_t *table, int64_t row_bytes, const IT *ids, int64_t s, int64_t e,
               int64_t pf_end, bool prefetch, int64_t c0, BagTail tail, float *out);

template <int DT, class IT>
void run_task(const BagJob &j, int64_t b0, int64_t b1) {
    const uint8_t *table = static_cast<const uint8_t *>(j.table);
    const IT *ids = static_cast<const IT *>(j.ids);
    const int64_t row_bytes = bag_row_bytes(DT, j.dim);
    const int64_t pf_begin = j.offsets[b0], pf_end = j.offsets[b1];
    if (j.dim == 0) return;
    for (int64_t i = pf_begin; i < pf_end && i < pf_begin + kPrefetchAhead; ++i)
        prefetch_row(table + int64_t(ids[i]) * row_bytes, row_bytes);
    constexpr int64_t block = 8 * kBagLanes;
    for (int64_t b = b0; b < b1; ++b) {
        const int64_t s = j.offsets[b], e = j.offsets[b + 1];
        float *out = j.out + b * j.ldo;
        for (int64_t c0 = 0; c0 < j.dim; c0 += block) {
            int64_t width = j.dim - c0 < block ? j.dim - c0 : block;
            int nv = int((width + kBagLanes - 1) / kBagLanes);
            BagTail tail = bag_tail(int(width - kBagLanes * (nv - 1)));
            bool pf = c0 == 0;
            switch (nv) {
            case 1: bag_block<DT, IT, 1>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 2: bag_block<DT, IT, 2>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 3: bag_block<DT, IT, 3>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 4: bag_block<DT, IT, 4>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 5: bag_block<DT, IT, 5>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 6: bag_block<DT, IT, 6>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            case 7: bag_block<DT, IT, 7>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            default: bag_block<DT, IT, 8>(j, table, row_bytes, ids, s, e, pf_end, pf, c0, tail, out); break;
            }
        }
    }
}
