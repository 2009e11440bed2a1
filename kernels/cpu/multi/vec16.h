// 16 fp32 lanes as a GCC vector (one zmm with AVX-512, two ymm or four xmm
// otherwise), with unaligned loads and stores; for the per-ISA kernels of
// kernels/cpu/multi/ (internal linkage, like the files that include it).
#pragma once
#include <cstdint>
#include <cstring>

namespace rf::RF_ISA_NS {
namespace {

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

inline v16 load16(const float *p) {
    v16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void store16(float *p, v16 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace
}  // namespace rf::RF_ISA_NS
