// cuBLASLt, loaded at run time (dlopen: the toolkit here ships no cuBLAS
// headers, and a machine without it still runs the tiled kernel). The few
// entry points used are declared in cublaslt.cpp from NVIDIA's documented
// signatures. RANKFN_CUDA_GEMM=tiled keeps the tiled kernel even where
// cuBLASLt loads (its parity oracle); RANKFN_CUDA_TF32=1 lets cuBLASLt use
// TF32 tensor cores for fp32 GEMMs (default: full fp32, CUBLAS_COMPUTE_32F).
#pragma once
#include "backend.h"

namespace rf::cuda {

// Load cuBLASLt and set up a handle and a workspace per device. Returns the
// GEMM path's name for `rankfn info`: "cublasLt <version>" or "tiled".
const char *lt_init(Platform &p);

// Whether GEMMs go through cuBLASLt.
bool lt_active();

// D = epilogue(X·Wᵀ + C) over [m][n] row-major matrices in device memory:
//   acc = Σ_l X[i][l] W[j][l] + (bias ? bias[j] : 0)
//   D[i][j] = (relu ? max(acc, 0) : acc) + (c ? C[i][j] : 0)     (c and relu never both)
// X and W are both of `dtype`: RF_F32 (D, C, bias fp32), RF_BF16 (fp32 accumulation; D, C, bias
// fp32) or RF_I8 (int32 accumulation, D and C int32, no bias or relu). C may be D (ldc == ldd).
struct LtGemm {
    int dtype;
    int64_t m, n, k;
    const void *x;
    int64_t ldx;
    const void *w;  // [n][k]
    const float *bias;
    bool relu;
    const void *c;
    int64_t ldc;
    void *d;
    int64_t ldd;
};

// RF_OK once launched on `stream`; RF_ERR_UNSUPPORTED when cuBLASLt offers no
// algorithm for the shape (the caller runs the tiled kernel), RF_ERR_DEVICE on a failure.
rf_status lt_matmul(const char *who, int device, cudaStream_t stream, const LtGemm &g);

}  // namespace rf::cuda
