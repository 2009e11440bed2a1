// The GEMM contract between the shared entry points (rf_gemm, rf_cross_layer:
// kernels/device/host/gemm_entries.cpp) and each device backend, which implements
// enqueue_gemm over its own weight layout (kernels/opencl/gemm.cpp,
// kernels/cuda/gemm.cpp) next to rf_weight_pack and friends.
#pragma once
#include "launch.h"

namespace rf::RF_DISPATCH_NS {

// A matrix operand of a GEMM launch: a kernel argument and its leading dimension.
struct Operand {
    KArg arg = a_mem(nullptr);
    int64_t ld = 0;
};

// Y = act(X·Wᵀ + bias) · (mul ? mul : 1) + (res ? res : 0) over an [m][n] output, on l's stream.
// y overlaps neither x nor mul (the callers go through scratch when it would).
rf_status enqueue_gemm(Launch &l, int64_t m, const Operand &x, const rf_weight_s &w, KArg bias, int act,
                       const Operand &mul, const Operand &res, const Operand &y);

}  // namespace rf::RF_DISPATCH_NS
