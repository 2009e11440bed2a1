// The cuBLASLt GEMM path (see cublaslt.h). cuBLASLt is column-major: the
// row-major [m][n] Y = X·Wᵀ is the column-major n×m matrix Yᵀ = W·Xᵀ, so
// D (n×m, ld ldy) = op(A)·B with A = W read as a column-major k×n matrix
// (ld k) and transposed, B = X read as a column-major k×m matrix (ld ldx); the
// bias epilogue adds bias[j] to row j of D, which is column j of Y.
#include "cublaslt.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

namespace rf::cuda {
namespace {

// ------------------------------------------------------------------ declarations (cublasLt.h, CUDA 12 / 13)

using Status = int;  // cublasStatus_t: 0 = CUBLAS_STATUS_SUCCESS
using Handle = void *;
using MatmulDesc = void *;
using Layout = void *;
using Preference = void *;
struct Algo {
    uint64_t data[8];
};
struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
    Algo algo;
    size_t workspaceSize;
    Status state;
    float wavesCount;
    int reserved[4];
};

enum : int {
    CUDA_R_32F = 0,  // cudaDataType_t (library_types.h)
    CUDA_R_8I = 3,
    CUDA_R_32I = 10,
    CUDA_R_16BF = 14,
    CUBLAS_COMPUTE_32F = 68,  // cublasComputeType_t
    CUBLAS_COMPUTE_32I = 72,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
    CUBLAS_OP_N = 0,
    CUBLAS_OP_T = 1,
    DESC_TRANSA = 3,
    DESC_TRANSB = 4,
    DESC_EPILOGUE = 7,
    DESC_BIAS_POINTER = 8,
    PREF_MAX_WORKSPACE_BYTES = 1,
    PREF_MIN_ALIGNMENT_A_BYTES = 5,  // B, C, D: 6, 7, 8
    EPILOGUE_DEFAULT = 1,
    EPILOGUE_RELU = 2,
    EPILOGUE_BIAS = 4,
    EPILOGUE_RELU_BIAS = 6,
};

struct Api {
    size_t (*GetVersion)();
    Status (*Create)(Handle *);
    Status (*MatmulDescCreate)(MatmulDesc *, int compute, int scale_type);
    Status (*MatmulDescSetAttribute)(MatmulDesc, int attr, const void *buf, size_t size);
    Status (*MatmulDescDestroy)(MatmulDesc);
    Status (*MatrixLayoutCreate)(Layout *, int type, uint64_t rows, uint64_t cols, int64_t ld);
    Status (*MatrixLayoutDestroy)(Layout);
    Status (*MatmulPreferenceCreate)(Preference *);
    Status (*MatmulPreferenceSetAttribute)(Preference, int attr, const void *buf, size_t size);
    Status (*MatmulPreferenceDestroy)(Preference);
    Status (*MatmulAlgoGetHeuristic)(Handle, MatmulDesc, Layout a, Layout b, Layout c, Layout d, Preference, int requested,
                                     HeuristicResult *results, int *returned);
    Status (*Matmul)(Handle, MatmulDesc, const void *alpha, const void *a, Layout, const void *b, Layout, const void *beta,
                     const void *c, Layout, void *d, Layout, const Algo *, void *workspace, size_t workspace_bytes,
                     cudaStream_t stream);
};

Api g_api{};
Handle g_handle = nullptr;
bool g_active = false;
int g_compute = CUBLAS_COMPUTE_32F;
char g_path[48] = "tiled";
constexpr size_t kWorkspace = size_t(32) << 20;
std::vector<void *> g_workspace;  // per device

template <class F> bool load(void *lib, const char *name, F *out) {
    *out = reinterpret_cast<F>(dlsym(lib, name));
    return *out != nullptr;
}

const char *why_not(const char *reason) {
    if (const char *e = std::getenv("RANKFN_DEBUG"); e && e[0] == '1') std::fprintf(stderr, "[rankfn cuda] GEMM: tiled kernel (%s)\n", reason);
    return g_path;
}

// RAII for the per-call descriptors.
struct Descs {
    MatmulDesc op = nullptr;
    Layout a = nullptr, b = nullptr, c = nullptr, d = nullptr;
    Preference pref = nullptr;
    ~Descs() {
        if (pref) g_api.MatmulPreferenceDestroy(pref);
        for (Layout l : {a, b, c, d})
            if (l) g_api.MatrixLayoutDestroy(l);
        if (op) g_api.MatmulDescDestroy(op);
    }
};

// The alignment of an address (a power of two, at most 256: the heuristic's default
// assumption, which column slices and offset rows need not meet).
uint32_t alignment(const void *p) {
    uint32_t a = 256;
    while (a > 4 && uintptr_t(p) % a != 0) a /= 2;
    return a;
}

rf_status lt_fail(const char *who, const char *call, Status st) {
    return fail(RF_ERR_DEVICE, "%s: %s failed: cuBLASLt status %d", who, call, st);
}

}  // namespace

const char *lt_init(Platform &p) {
    if (const char *e = std::getenv("RANKFN_CUDA_GEMM"); e && std::strcmp(e, "tiled") == 0) return why_not("RANKFN_CUDA_GEMM=tiled");
    void *lib = nullptr;
    for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (!lib) return why_not("libcublasLt.so not found");
    bool ok = load(lib, "cublasLtGetVersion", &g_api.GetVersion) && load(lib, "cublasLtCreate", &g_api.Create) &&
              load(lib, "cublasLtMatmulDescCreate", &g_api.MatmulDescCreate) &&
              load(lib, "cublasLtMatmulDescSetAttribute", &g_api.MatmulDescSetAttribute) &&
              load(lib, "cublasLtMatmulDescDestroy", &g_api.MatmulDescDestroy) &&
              load(lib, "cublasLtMatrixLayoutCreate", &g_api.MatrixLayoutCreate) &&
              load(lib, "cublasLtMatrixLayoutDestroy", &g_api.MatrixLayoutDestroy) &&
              load(lib, "cublasLtMatmulPreferenceCreate", &g_api.MatmulPreferenceCreate) &&
              load(lib, "cublasLtMatmulPreferenceSetAttribute", &g_api.MatmulPreferenceSetAttribute) &&
              load(lib, "cublasLtMatmulPreferenceDestroy", &g_api.MatmulPreferenceDestroy) &&
              load(lib, "cublasLtMatmulAlgoGetHeuristic", &g_api.MatmulAlgoGetHeuristic) &&
              load(lib, "cublasLtMatmul", &g_api.Matmul);
    if (!ok) return why_not("libcublasLt lacks an entry point");
    if (g_api.Create(&g_handle) != 0) return why_not("cublasLtCreate failed");
    for (const Device &d : p.devices) {
        void *ws = nullptr;
        if (cudaSetDevice(d.ordinal) != cudaSuccess || cudaMalloc(&ws, kWorkspace) != cudaSuccess) return why_not("no memory for the workspace");
        g_workspace.push_back(ws);
    }
    if (const char *e = std::getenv("RANKFN_CUDA_TF32"); e && e[0] == '1') g_compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    const size_t v = g_api.GetVersion();  // e.g. 130100 = 13.1.0
    std::snprintf(g_path, sizeof g_path, "cublasLt %zu.%zu%s", v / 10000, v / 100 % 100,
                  g_compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? " tf32" : "");
    g_active = true;
    return g_path;
}

bool lt_active() { return g_active; }

rf_status lt_matmul(const char *who, int device, cudaStream_t stream, const LtGemm &g) {
    Descs ds;
    Status st;
    const bool i8 = g.dtype == RF_I8;
    const int in_type = i8 ? CUDA_R_8I : g.dtype == RF_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    const int out_type = i8 ? CUDA_R_32I : CUDA_R_32F;
    // fp32 inputs honour RANKFN_CUDA_TF32; bf16 accumulates in fp32, int8 in int32.
    const int compute = i8 ? CUBLAS_COMPUTE_32I : g.dtype == RF_BF16 ? CUBLAS_COMPUTE_32F : g_compute;
    if ((st = g_api.MatmulDescCreate(&ds.op, compute, i8 ? CUDA_R_32I : CUDA_R_32F)) != 0) return lt_fail(who, "cublasLtMatmulDescCreate", st);
    const int ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const int epilogue = g.bias ? (g.relu ? EPILOGUE_RELU_BIAS : EPILOGUE_BIAS) : (g.relu ? EPILOGUE_RELU : EPILOGUE_DEFAULT);
    g_api.MatmulDescSetAttribute(ds.op, DESC_TRANSA, &ta, sizeof ta);
    g_api.MatmulDescSetAttribute(ds.op, DESC_TRANSB, &tb, sizeof tb);
    if (!i8) g_api.MatmulDescSetAttribute(ds.op, DESC_EPILOGUE, &epilogue, sizeof epilogue);
    if (g.bias && !i8) g_api.MatmulDescSetAttribute(ds.op, DESC_BIAS_POINTER, &g.bias, sizeof g.bias);
    const uint64_t m = uint64_t(g.m), n = uint64_t(g.n), k = uint64_t(g.k);
    if ((st = g_api.MatrixLayoutCreate(&ds.a, in_type, k, n, g.k)) != 0 ||
        (st = g_api.MatrixLayoutCreate(&ds.b, in_type, k, m, g.ldx)) != 0 ||
        (st = g_api.MatrixLayoutCreate(&ds.c, out_type, n, m, g.c ? g.ldc : g.ldd)) != 0 ||
        (st = g_api.MatrixLayoutCreate(&ds.d, out_type, n, m, g.ldd)) != 0)
        return lt_fail(who, "cublasLtMatrixLayoutCreate", st);
    if ((st = g_api.MatmulPreferenceCreate(&ds.pref)) != 0) return lt_fail(who, "cublasLtMatmulPreferenceCreate", st);
    const uint64_t ws_bytes = kWorkspace;
    g_api.MatmulPreferenceSetAttribute(ds.pref, PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes);
    const void *operands[4] = {g.w, g.x, g.c ? g.c : g.d, g.d};  // A, B, C, D
    for (int i = 0; i < 4; ++i) {
        const uint32_t a = alignment(operands[i]);
        g_api.MatmulPreferenceSetAttribute(ds.pref, PREF_MIN_ALIGNMENT_A_BYTES + i, &a, sizeof a);
    }
    struct {
        HeuristicResult r;
        unsigned char slack[256];  // room should the library's struct have grown
    } found{};
    int returned = 0;
    st = g_api.MatmulAlgoGetHeuristic(g_handle, ds.op, ds.a, ds.b, ds.c, ds.d, ds.pref, 1, &found.r, &returned);
    if (st != 0 || returned == 0) return fail(RF_ERR_UNSUPPORTED, "%s: cuBLASLt has no algorithm for [%lld x %lld x %lld]", who,
                                              (long long)g.m, (long long)g.n, (long long)g.k);
    // alpha and beta are of the scale type: fp32, int32 for int8.
    const float alpha = 1.f, beta = g.c ? 1.f : 0.f;
    const int32_t alpha_i = 1, beta_i = g.c ? 1 : 0;
    st = g_api.Matmul(g_handle, ds.op, i8 ? static_cast<const void *>(&alpha_i) : &alpha, g.w, ds.a, g.x, ds.b,
                      i8 ? static_cast<const void *>(&beta_i) : &beta, g.c ? g.c : g.d, ds.c, g.d, ds.d, &found.r.algo,
                      g_workspace[size_t(device)], kWorkspace, stream);
    if (st != 0) return lt_fail(who, "cublasLtMatmul", st);
    return RF_OK;
}

}  // namespace rf::cuda
