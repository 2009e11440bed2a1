// The kernel dialect: the few words in which kernels/device/*.cl differ
// between OpenCL C, CUDA C++ and HIP C++. Every kernel is written once against
// these names; the OpenCL program is this header followed by the .cl files
// (kernels/opencl/build.ts), the CUDA fatbin is this header including them
// (kernels/cuda/build.ts), HIP compiles the same way (compile-only).
//
//   RF_KERNEL           a kernel entry point (unmangled name, looked up by name at run time)
//   RF_WG_SIZE(x, y)    the one work-group (block) shape the kernel is launched with
//   RF_FN               a device helper function
//   RF_GLOBAL           the address space of buffer pointers (empty on CUDA / HIP)
//   RF_LOCAL            a work-group-shared array (__local / __shared__)
//   RF_BARRIER()        work-group barrier over local memory
//   get_global_id(d), get_local_id(d), get_group_id(d), get_local_size(d), get_global_size(d):
//                       OpenCL's work-item functions (CUDA / HIP: from blockIdx, blockDim, threadIdx, gridDim)
//   uchar ushort uint ulong, as_float(u), as_uint(f), clz(x), rf_i8 (signed 8 bit)
//   rf_half(p)          the IEEE half at p (ushort bits) as float
//   rf_floatN           float vectors N = 4, 8, 16 with + - * / fma against vectors and scalars
//   rf_splatN(x)        a vector of N copies; rf_make4(a, b, c, d)
//   rf_vloadN(i, p), rf_vstoreN(v, i, p)   N floats at p + N*i (element alignment suffices)
//   rf_vload_half4, rf_vload_bf16x4, rf_vload_u8x4, rf_vload_bf16x16, rf_vload_i8x16:
//                       widening vector loads of stored dtypes
//   rf_hsum4(v), rf_hsum8(v)               the sum of the lanes, in lane order
// None of the kernels uses atomics (order-dependent sums run in a fixed order
// per work-item), so the dialect names none.
#ifndef RF_DEVICE_DIALECT_H
#define RF_DEVICE_DIALECT_H

#if defined(__OPENCL_VERSION__)
// ------------------------------------------------------------------ OpenCL C

#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define RF_KERNEL __kernel
#define RF_WG_SIZE(x, y) __attribute__((reqd_work_group_size(x, y, 1)))
#define RF_FN inline
#define RF_GLOBAL __global
#define RF_LOCAL __local
#define RF_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)

typedef char rf_i8;
typedef float4 rf_float4;
typedef float8 rf_float8;
typedef float16 rf_float16;

#define rf_half(p) vload_half(0, (__global const half *)(p))
#define rf_splat4(x) ((float4)(x))
#define rf_splat8(x) ((float8)(x))
#define rf_splat16(x) ((float16)(x))
#define rf_make4(a, b, c, d) ((float4)((a), (b), (c), (d)))
#define rf_vload4(i, p) vload4((i), (p))
#define rf_vstore4(v, i, p) vstore4((v), (i), (p))
#define rf_vload16(i, p) vload16((i), (p))
#define rf_vstore16(v, i, p) vstore16((v), (i), (p))
#define rf_vload_half4(i, p) vload_half4((i), (__global const half *)(p))
#define rf_vload_bf16x4(i, p) as_float4(convert_uint4(vload4((i), (p))) << 16)
#define rf_vload_u8x4(i, p) convert_float4(vload4((i), (p)))
#define rf_vload_bf16x16(i, p) as_float16(convert_uint16(vload16((i), (p))) << 16)
#define rf_vload_i8x16(i, p) convert_float16(vload16((i), (p)))
#define rf_hsum4(v) ((v).x + (v).y + (v).z + (v).w)
#define rf_hsum8(v) ((v).s0 + (v).s1 + (v).s2 + (v).s3 + (v).s4 + (v).s5 + (v).s6 + (v).s7)

#else
// ------------------------------------------------------------------ CUDA C++ / HIP C++

#if defined(__HIPCC__)
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
#else
#include <cuda_fp16.h>
#endif

static_assert(sizeof(long) == 8, "the kernels' long is OpenCL's: 64 bits (LP64 hosts)");

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef signed char rf_i8;

#define RF_KERNEL extern "C" __global__
#define RF_WG_SIZE(x, y) __launch_bounds__((x) * (y))
#define RF_FN static __device__ inline
#define RF_GLOBAL
#define RF_LOCAL __shared__
#define RF_BARRIER() __syncthreads()

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

#define RF_AXIS(v, d) ((d) == 0 ? (size_t)(v).x : (d) == 1 ? (size_t)(v).y : (size_t)(v).z)
RF_FN size_t get_local_id(int d) { return RF_AXIS(threadIdx, d); }
RF_FN size_t get_group_id(int d) { return RF_AXIS(blockIdx, d); }
RF_FN size_t get_local_size(int d) { return RF_AXIS(blockDim, d); }
RF_FN size_t get_global_id(int d) { return get_group_id(d) * get_local_size(d) + get_local_id(d); }
// The launched size: whole blocks (kernels bound-check their work-items against their own sizes).
RF_FN size_t get_global_size(int d) { return RF_AXIS(gridDim, d) * get_local_size(d); }

RF_FN float as_float(uint u) { return __uint_as_float(u); }
RF_FN uint as_uint(float f) { return __float_as_uint(f); }
RF_FN ulong clz(ulong x) { return (ulong)__clzll((long long)x); }
RF_FN float rf_half(const ushort *p) { return __half2float(__ushort_as_half(*p)); }

template <int N> struct alignas(N == 4 ? 16 : 4) rf_vec {
    float s[N];
};
typedef rf_vec<4> rf_float4;
typedef rf_vec<8> rf_float8;
typedef rf_vec<16> rf_float16;

#define RF_VEC_OP(OP)                                                                                 \
    template <int N> __device__ inline rf_vec<N> operator OP(rf_vec<N> a, rf_vec<N> b) {              \
        for (int i = 0; i < N; ++i) a.s[i] = a.s[i] OP b.s[i];                                        \
        return a;                                                                                     \
    }                                                                                                 \
    template <int N> __device__ inline rf_vec<N> operator OP(rf_vec<N> a, float b) {                  \
        for (int i = 0; i < N; ++i) a.s[i] = a.s[i] OP b;                                             \
        return a;                                                                                     \
    }                                                                                                 \
    template <int N> __device__ inline rf_vec<N> operator OP(float a, rf_vec<N> b) {                  \
        for (int i = 0; i < N; ++i) b.s[i] = a OP b.s[i];                                             \
        return b;                                                                                     \
    }                                                                                                 \
    template <int N> __device__ inline rf_vec<N> &operator OP##=(rf_vec<N> &a, rf_vec<N> b) {         \
        return a = a OP b;                                                                            \
    }                                                                                                 \
    template <int N> __device__ inline rf_vec<N> &operator OP##=(rf_vec<N> &a, float b) { return a = a OP b; }
RF_VEC_OP(+)
RF_VEC_OP(-)
RF_VEC_OP(*)
RF_VEC_OP(/)
#undef RF_VEC_OP

template <int N> __device__ inline rf_vec<N> fma(rf_vec<N> a, rf_vec<N> b, rf_vec<N> c) {
    for (int i = 0; i < N; ++i) c.s[i] = fmaf(a.s[i], b.s[i], c.s[i]);
    return c;
}
template <int N> __device__ inline rf_vec<N> rf_splat(float x) {
    rf_vec<N> v;
    for (int i = 0; i < N; ++i) v.s[i] = x;
    return v;
}
#define rf_splat4(x) rf_splat<4>(x)
#define rf_splat8(x) rf_splat<8>(x)
#define rf_splat16(x) rf_splat<16>(x)
RF_FN rf_float4 rf_make4(float a, float b, float c, float d) { return rf_float4{{a, b, c, d}}; }

// N consecutive elements of p from element N*i, each converted to float.
template <int N, class T, class F> __device__ inline rf_vec<N> rf_vload_with(size_t i, const T *p, F convert) {
    rf_vec<N> v;
    for (int l = 0; l < N; ++l) v.s[l] = convert(p[i * N + l]);
    return v;
}
RF_FN float rf_same(float x) { return x; }
RF_FN float rf_bf16_bits(ushort h) { return __uint_as_float((uint)h << 16); }
RF_FN float rf_half_bits(ushort h) { return __half2float(__ushort_as_half(h)); }
RF_FN float rf_widen(int x) { return (float)x; }
#define rf_vload4(i, p) rf_vload_with<4>((i), (p), rf_same)
#define rf_vload16(i, p) rf_vload_with<16>((i), (p), rf_same)
#define rf_vload_half4(i, p) rf_vload_with<4>((i), (p), rf_half_bits)
#define rf_vload_bf16x4(i, p) rf_vload_with<4>((i), (p), rf_bf16_bits)
#define rf_vload_u8x4(i, p) rf_vload_with<4>((i), (p), rf_widen)
#define rf_vload_bf16x16(i, p) rf_vload_with<16>((i), (p), rf_bf16_bits)
#define rf_vload_i8x16(i, p) rf_vload_with<16>((i), (p), rf_widen)
template <int N> __device__ inline void rf_vstore(rf_vec<N> v, size_t i, float *p) {
    for (int l = 0; l < N; ++l) p[i * N + l] = v.s[l];
}
#define rf_vstore4(v, i, p) rf_vstore<4>((v), (i), (p))
#define rf_vstore16(v, i, p) rf_vstore<16>((v), (i), (p))
RF_FN float rf_hsum4(rf_float4 v) { return v.s[0] + v.s[1] + v.s[2] + v.s[3]; }
RF_FN float rf_hsum8(rf_float8 v) {
    return v.s[0] + v.s[1] + v.s[2] + v.s[3] + v.s[4] + v.s[5] + v.s[6] + v.s[7];
}

#endif
#endif  // RF_DEVICE_DIALECT_H
