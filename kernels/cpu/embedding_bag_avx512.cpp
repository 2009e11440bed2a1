// AVX-512 embedding bags: a bag's output block (up to 128 columns = 8 zmm)
// is accumulated in registers while its rows stream in; fp16 rows convert with
// vcvtph2ps, bf16 with a 16-bit shift, u8q with vpmovzxbd + scale/bias; the
// rows of the ids kPrefetchAhead positions ahead are software-prefetched
// (ids are known up front, the row addresses are not predictable by hardware).
// Work is split into (table, bag block) tasks on the pool.
//
// Rounding matches the reference exactly for unweighted bags: u8q values are
// scale*q rounded, then + bias rounded (no fused multiply-add, see the pragma),
// acc = fma(w, v, acc) is exact for w == 1, and MEAN divides (not multiplies
// by a reciprocal). Weighted bags differ from the reference by the fused rounding.
#pragma GCC optimize("fp-contract=off")
#include "embedding_bag.h"

#include <immintrin.h>

// GCC 12's _mm512_cvtph_ps passes an "undefined" source register: silence the false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace rf::avx512 {
namespace {

constexpr int kBagLanes = 16;
using BagTail = __mmask16;
inline BagTail bag_tail(int columns) { return __mmask16((1u << columns) - 1u); }

#include "embedding_bag_blocks.h"

template <int DT>
inline __m512 load16(const uint8_t *row, int64_t c, __mmask16 m, __m512 scale, __m512 bias) {
    if constexpr (DT == RF_F32) {
        return _mm512_maskz_loadu_ps(m, row + c * 4);
    } else if constexpr (DT == RF_F16) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + c * 2));
    } else if constexpr (DT == RF_BF16) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + c * 2)), 16));
    } else if constexpr (DT == RF_U4Q) {
        // 16 columns = 8 bytes of nibbles (even columns low); a partial vector reads only its bytes.
        alignas(16) uint8_t buf[16] = {};
        const int n = __builtin_popcount(unsigned(m));
        std::memcpy(buf, row + c / 2, size_t(n + 1) / 2);
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(buf)), mask = _mm_set1_epi8(0x0f);
        const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
        __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
        return _mm512_add_ps(_mm512_mul_ps(scale, q), bias);
    } else {
        __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, row + c)));
        return _mm512_add_ps(_mm512_mul_ps(scale, q), bias);
    }
}

template <int DT, class IT, int NV>
void bag_block(const BagJob &j, const uint8_t *table, int64_t row_bytes, const IT *ids, int64_t s, int64_t e,
               int64_t pf_end, bool prefetch, int64_t c0, __mmask16 tail, float *out) {
    __m512 acc[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
    const __m512 one = _mm512_set1_ps(1.f);
    __m512 scale = one, bias = _mm512_setzero_ps();
    for (int64_t i = s; i < e; ++i) {
        if (prefetch && i + kPrefetchAhead < pf_end)
            prefetch_row(table + int64_t(ids[i + kPrefetchAhead]) * row_bytes, row_bytes);
        const uint8_t *row = table + int64_t(ids[i]) * row_bytes;
        __m512 w = j.weights ? _mm512_set1_ps(j.weights[i]) : one;
        if constexpr (DT == RF_U8Q || DT == RF_U4Q) {
            uint16_t sb[2];
            std::memcpy(sb, row + row_bytes - 4, 4);
            scale = _mm512_set1_ps(_cvtsh_ss(sb[0]));
            bias = _mm512_set1_ps(_cvtsh_ss(sb[1]));
        }
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v)
            acc[v] = _mm512_fmadd_ps(w, load16<DT>(row, c0 + 16 * v, v == NV - 1 ? tail : __mmask16(0xffff), scale, bias), acc[v]);
    }
    if (j.mode == RF_POOL_MEAN && e > s) {
        __m512 cnt = _mm512_set1_ps(float(e - s));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[v] = _mm512_div_ps(acc[v], cnt);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + c0 + 16 * v, v == NV - 1 ? tail : __mmask16(0xffff), acc[v]);
}

#include "embedding_bag_driver.h"

}  // namespace

rf_status embedding_bags(const BagJob *jobs, int num_jobs, int64_t num_bags) { return run_bag_jobs(jobs, num_jobs, num_bags); }

}  // namespace rf::avx512
