// AVX2+FMA+F16C embedding bags: same structure as embedding_bag_avx512.cpp
// with 8-wide vectors and 64-column register blocks; a partial last vector is
// loaded through a zero-padded stack buffer and stored through one.
#pragma GCC optimize("fp-contract=off")
#include "embedding_bag.h"

#include <immintrin.h>

namespace rf::avx2 {
namespace {

constexpr int kBagLanes = 8;
using BagTail = int;
inline BagTail bag_tail(int columns) { return columns; }

#include "embedding_bag_blocks.h"

// Byte offset of column c (a multiple of 8) in a row, and the bytes that hold n columns.
template <int DT>
constexpr int64_t col_offset(int64_t c) { return DT == RF_F32 ? 4 * c : DT == RF_U8Q ? c : DT == RF_U4Q ? c / 2 : 2 * c; }
template <int DT>
constexpr size_t col_bytes(int n) { return DT == RF_U4Q ? size_t(n + 1) / 2 : size_t(col_offset<DT>(n)); }

// Eight 4-bit values (4 bytes, even columns in the low nibbles) as eight int32 in column order.
inline __m256i nibbles8(const uint8_t *p) {
    int32_t bits;
    std::memcpy(&bits, p, 4);
    const __m128i b = _mm_cvtsi32_si128(bits), mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    return _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
}

// Eight values starting at p (already offset to the column).
template <int DT>
inline __m256 load8(const uint8_t *p, __m256 scale, __m256 bias) {
    if constexpr (DT == RF_F32) {
        return _mm256_loadu_ps(reinterpret_cast<const float *>(p));
    } else if constexpr (DT == RF_F16) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
    } else if constexpr (DT == RF_BF16) {
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))), 16));
    } else if constexpr (DT == RF_U4Q) {
        return _mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(nibbles8(p))), bias);
    } else {
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))));
        return _mm256_add_ps(_mm256_mul_ps(scale, q), bias);
    }
}

template <int DT>
inline __m256 load_partial(const uint8_t *p, int n, __m256 scale, __m256 bias) {
    alignas(32) uint8_t buf[32] = {};
    std::memcpy(buf, p, col_bytes<DT>(n));
    return load8<DT>(buf, scale, bias);
}

// NV vectors; the last holds `tail` (1..8) columns.
template <int DT, class IT, int NV>
void bag_block(const BagJob &j, const uint8_t *table, int64_t row_bytes, const IT *ids, int64_t s, int64_t e,
               int64_t pf_end, bool prefetch, int64_t c0, int tail, float *out) {
    __m256 acc[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.f);
    __m256 scale = one, bias = _mm256_setzero_ps();
    for (int64_t i = s; i < e; ++i) {
        if (prefetch && i + kPrefetchAhead < pf_end)
            prefetch_row(table + int64_t(ids[i + kPrefetchAhead]) * row_bytes, row_bytes);
        const uint8_t *row = table + int64_t(ids[i]) * row_bytes;
        __m256 w = j.weights ? _mm256_set1_ps(j.weights[i]) : one;
        if constexpr (DT == RF_U8Q || DT == RF_U4Q) {
            uint16_t sb[2];
            std::memcpy(sb, row + row_bytes - 4, 4);
            scale = _mm256_set1_ps(_cvtsh_ss(sb[0]));
            bias = _mm256_set1_ps(_cvtsh_ss(sb[1]));
        }
#pragma GCC unroll 8
        for (int v = 0; v < NV - 1; ++v)
            acc[v] = _mm256_fmadd_ps(w, load8<DT>(row + col_offset<DT>(c0 + 8 * v), scale, bias), acc[v]);
        const uint8_t *last = row + col_offset<DT>(c0 + 8 * (NV - 1));
        __m256 x = tail == 8 ? load8<DT>(last, scale, bias) : load_partial<DT>(last, tail, scale, bias);
        acc[NV - 1] = _mm256_fmadd_ps(w, x, acc[NV - 1]);
    }
    if (j.mode == RF_POOL_MEAN && e > s) {
        __m256 cnt = _mm256_set1_ps(float(e - s));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[v] = _mm256_div_ps(acc[v], cnt);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV - 1; ++v) _mm256_storeu_ps(out + c0 + 8 * v, acc[v]);
    if (tail == 8) {
        _mm256_storeu_ps(out + c0 + 8 * (NV - 1), acc[NV - 1]);
    } else {
        alignas(32) float buf[8];
        _mm256_store_ps(buf, acc[NV - 1]);
        std::memcpy(out + c0 + 8 * (NV - 1), buf, size_t(tail) * 4);
    }
}

#include "embedding_bag_driver.h"

}  // namespace

rf_status embedding_bags(const BagJob *jobs, int num_jobs, int64_t num_bags) { return run_bag_jobs(jobs, num_jobs, num_bags); }

}  // namespace rf::avx2
