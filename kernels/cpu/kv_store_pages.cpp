// Page codec of the KV store: a page is [layers][K, V][page_tokens][width]
// values of the tier's dtype (RF_I8: a float scale per (layer, K|V) block
// first). Encode quantizes rows on append; decode dequantizes into the jagged
// [rows][ld] buffers the attention kernels read.
#include "kv_store.h"

#include <cmath>

namespace rf {
namespace {

inline const float *src_row(const KvRows &s, int64_t layer, int kv, int64_t row) {
    return (kv ? s.v : s.k) + layer * s.layer_stride + row * s.ld;
}
inline float *dst_row(const KvOutRows &d, int64_t layer, int kv, int64_t row) {
    return (kv ? d.v : d.k) + layer * d.layer_stride + row * d.ld;
}

inline int8_t quantize(float x, float inv) {
    float q = std::nearbyint(x * inv);
    q = q > 127.f ? 127.f : q < -127.f ? -127.f : q;
    return int8_t(q);
}

}  // namespace

KvPageFormat kv_page_format(int32_t dtype, int64_t layers, int64_t page_tokens, int64_t width) {
    KvPageFormat f{};
    f.dtype = dtype;
    f.layers = layers;
    f.tokens = page_tokens;
    f.width = width;
    f.scale_bytes = dtype == RF_I8 ? 8 * layers : 0;
    f.bytes = f.scale_bytes + page_tokens * layers * 2 * width * f.elem();
    return f;
}

void kv_page_encode(const KvPageFormat &f, uint8_t *page, int64_t t0, int64_t n, const KvRows &src, int64_t row0) {
    const int64_t w = f.width, block = f.tokens * w;
    for (int64_t l = 0; l < f.layers; ++l)
        for (int kv = 0; kv < 2; ++kv) {
            const int64_t b = l * 2 + kv;
            if (f.dtype == RF_F32) {
                float *dst = reinterpret_cast<float *>(page) + b * block + t0 * w;
                for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * w, src_row(src, l, kv, row0 + t), size_t(w) * 4);
            } else if (f.dtype == RF_BF16) {
                uint16_t *dst = reinterpret_cast<uint16_t *>(page) + b * block + t0 * w;
                for (int64_t t = 0; t < n; ++t) {
                    const float *x = src_row(src, l, kv, row0 + t);
                    for (int64_t c = 0; c < w; ++c) dst[t * w + c] = f32_to_bf16(x[c]);
                }
            } else {
                float *scales = reinterpret_cast<float *>(page);
                int8_t *q = reinterpret_cast<int8_t *>(page + f.scale_bytes) + b * block;
                float amax = 0.f;
                for (int64_t t = 0; t < n; ++t) {
                    const float *x = src_row(src, l, kv, row0 + t);
                    for (int64_t c = 0; c < w; ++c) amax = std::fmax(amax, std::fabs(x[c]));
                }
                const float old_scale = t0 > 0 ? scales[b] : 0.f;
                float scale = amax / 127.f;
                if (scale > old_scale && t0 > 0 && old_scale > 0.f) {
                    // The block's range grew: requantize its earlier tokens to a scale at
                    // least twice the old one, so the rounding errors of repeated
                    // requantizations sum geometrically (to < the final scale).
                    scale = std::fmax(scale, 2.f * old_scale);
                    const float r = old_scale / scale;
                    for (int64_t i = 0; i < t0 * w; ++i) q[i] = quantize(float(q[i]), r);
                } else if (scale < old_scale) {
                    scale = old_scale;
                }
                scales[b] = scale;
                const float inv = scale > 0.f ? 1.f / scale : 0.f;
                for (int64_t t = 0; t < n; ++t) {
                    const float *x = src_row(src, l, kv, row0 + t);
                    int8_t *d = q + (t0 + t) * w;
                    for (int64_t c = 0; c < w; ++c) d[c] = quantize(x[c], inv);
                }
            }
        }
}

void kv_page_decode(const KvPageFormat &f, const uint8_t *page, int64_t n, const KvOutRows &dst, int64_t row0) {
    const int64_t w = f.width, block = f.tokens * w;
    for (int64_t l = 0; l < f.layers; ++l)
        for (int kv = 0; kv < 2; ++kv) {
            const int64_t b = l * 2 + kv;
            float *out = dst_row(dst, l, kv, row0);
            if (f.dtype == RF_F32) {
                const float *s = reinterpret_cast<const float *>(page) + b * block;
                if (dst.ld == w) std::memcpy(out, s, size_t(n * w) * 4);
                else
                    for (int64_t t = 0; t < n; ++t) std::memcpy(out + t * dst.ld, s + t * w, size_t(w) * 4);
            } else if (f.dtype == RF_BF16) {
                const uint16_t *s = reinterpret_cast<const uint16_t *>(page) + b * block;
                for (int64_t t = 0; t < n; ++t)
                    for (int64_t c = 0; c < w; ++c) out[t * dst.ld + c] = bf16_to_f32(s[t * w + c]);
            } else {
                float scale;
                std::memcpy(&scale, page + b * 4, 4);
                const int8_t *s = reinterpret_cast<const int8_t *>(page + f.scale_bytes) + b * block;
                for (int64_t t = 0; t < n; ++t)
                    for (int64_t c = 0; c < w; ++c) out[t * dst.ld + c] = scale * float(s[t * w + c]);
            }
        }
}

}  // namespace rf
