// The OpenCL backend (AMD/Intel GPUs, NPUs; PoCL on a plain CPU): pick it with
// RANKFN_BACKEND=opencl, or RANKFN_DEVICES=opencl:2 to split a partitionable
// device into two sub-devices. It must be chosen before the kernel library
// loads (lazily, at the first kernel call); without a usable OpenCL device
// rankfn falls back to the cpu backend with one log line.
// `bun examples/opencl-backend.ts`
import * as k from "../runtime/ffi";
import { loadModel, zoo } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";

process.env.RANKFN_DEVICES ??= "opencl:2";

const lib = k.loadLibrary();
console.log(`backend ${lib.backend}${lib.fallbackReason ? ` (fell back: ${lib.fallbackReason})` : ""}`);
for (let d = 0; d < k.deviceCount(); d++) {
  const info = k.deviceInfo(d);
  console.log(`device ${d}: ${info.name}, ${info.computeUnits} compute units, ${(info.totalMemory / 2 ** 30).toFixed(1)} GiB`);
}

// Device memory is host-visible; copies between devices are enqueued on a stream.
if (k.deviceCount() >= 2) {
  const values = Float32Array.from({ length: 8 }, (_, i) => i * 0.5);
  using a = new k.DeviceBuffer(0, values.byteLength);
  using b = new k.DeviceBuffer(1, values.byteLength);
  using s1 = new k.Stream(1);
  a.upload(values);
  k.check(lib.symbols.rf_memcpy(b.ptr, a.ptr, values.byteLength, 2 /* device to device */, s1.handle), "rf_memcpy");
  s1.sync();
  const back = new Float32Array(8);
  b.download(back);
  console.log(`device 0 -> device 1 copy: [${Array.from(back).join(", ")}]`);
}

// A model ranks on it exactly as on the cpu backend.
const built = zoo.dlrm.build({ seed: 1 });
using model = loadModel(built);
const [request] = sampleRequests(built, { count: 1, candidates: 100 });
await model.rank(request!); // the first call also lets the driver finish compiling for these launch sizes
const { outputs, timing } = await model.rank(request!);
const ctr = outputs.ctr!.data;
const best = Array.from(ctr.keys()).sort((x, y) => ctr[y]! - ctr[x]!).slice(0, 3);
console.log(`DLRM: scored ${ctr.length} candidates in ${timing.computeMs.toFixed(1)} ms on ${lib.backend}; best ${best.map((i) => `#${i} (${ctr[i]!.toFixed(4)})`).join(", ")}`);
