// The CUDA backend (NVIDIA GPUs): pick it with RANKFN_BACKEND=cuda before the
// kernel library loads (lazily, at the first kernel call). Without a GPU or
// driver the library still loads and reports 0 devices, and rankfn falls back
// to the cpu backend with one log line naming CUDA's reason. `rankfn info`
// shows the device and its GEMM path (cuBLASLt when libcublasLt.so loads,
// else the tiled kernel the OpenCL backend shares).
// `bun examples/cuda-backend.ts`
import * as k from "../runtime/ffi";
import { loadModel, zoo } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";

process.env.RANKFN_BACKEND ??= "cuda";

const lib = k.loadLibrary();
console.log(`backend ${lib.backend}${lib.fallbackReason ? ` (fell back: ${lib.fallbackReason})` : ""}`);
for (let d = 0; d < k.deviceCount(); d++) {
  const info = k.deviceInfo(d);
  console.log(`device ${d}: ${info.name}, ${info.computeUnits} compute units, ${(info.totalMemory / 2 ** 30).toFixed(1)} GiB`);
}

// A model ranks on it exactly as on the cpu backend.
const built = zoo.dlrm.build({ seed: 1 });
using model = loadModel(built);
const [request] = sampleRequests(built, { count: 1, candidates: 100 });
await model.rank(request!); // the first call also loads the kernels onto the GPU
const { outputs, timing } = await model.rank(request!);
const ctr = outputs.ctr!.data;
const best = Array.from(ctr.keys()).sort((x, y) => ctr[y]! - ctr[x]!).slice(0, 3);
console.log(`DLRM: scored ${ctr.length} candidates in ${timing.computeMs.toFixed(1)} ms on ${lib.backend}; best ${best.map((i) => `#${i} (${ctr[i]!.toFixed(4)})`).join(", ")}`);
