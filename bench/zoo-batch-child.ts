// Child of `bench kernels` on a device backend: ms per flat batch of the DLRM
// zoo model (fp32) on the backend RANKFN_BACKEND selects, printed as JSON, so
// the parent compares two backends measured by the same code in one run.
import { loadLibrary, setNumThreads } from "../runtime/ffi";
import { Model } from "../sdk/model";
import { sampleFlatRequest } from "../sdk/sample-requests";
import { zoo } from "../sdk/zoo";
import { time } from "./timing";

const batches = process.argv.slice(2).map(Number);
const built = zoo.dlrm.build({});
setNumThreads(2);
const model = new Model(built, { precision: "f32", maxBatch: 4096 });
const msPerBatch: Record<number, number> = {};
for (const batch of batches) {
  const req = sampleFlatRequest(built, batch, batch);
  msPerBatch[batch] = (await time(() => model.rankSync(req), { warmup: 2, minCalls: 3, minSeconds: 0.3 })).median * 1e3;
}
model.dispose();
console.log(JSON.stringify({ backend: loadLibrary().backend, msPerBatch }));
