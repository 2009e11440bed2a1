// Scalar fp16 conversions and activations shared by the reference paths and epilogue tails.
#include "backend.h"

#include <cmath>

namespace rf {

float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | man << 13;
    } else {
        u = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;            // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;           // overflow -> inf
    if (a < 0x38800000u) {                                 // subnormal or zero
        if (a < 0x33000000u) return sign;
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - int(a >> 23);                    // 14..24
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) ++half;
        return sign | uint16_t(half);
    }
    uint32_t h = ((a >> 13) - ((127 - 15) << 10));
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
    return sign | uint16_t(h);
}

float apply_act(int act, float x) {
    switch (act) {
    case RF_ACT_RELU: return x > 0.f ? x : 0.f;
    case RF_ACT_GELU: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case RF_ACT_SILU: return x / (1.f + std::exp(-x));
    case RF_ACT_SIGMOID: return 1.f / (1.f + std::exp(-x));
    case RF_ACT_TANH: return std::tanh(x);
    default: return x;
    }
}

}  // namespace rf
