// Expert parallelism on CPU core groups: a sparse top-2 MoE ranking model
// with 16 experts runs its experts on two devices (`cpu:2`: the machine's
// cores split in two, each group with its own pinned threads). It scores what
// the single-device model scores; its routing statistics re-place the experts
// (replicating hot ones) between batches; stats() shows per-expert load,
// per-device busy time and the imbalance. `bun examples/moe-expert-parallel.ts`
import { loadModel, zoo } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";

const built = zoo.moe.build({ experts: 16, topK: 2, dModel: 128, expertHidden: 512, seed: 2 });
// Skew the gate so a few experts are hot (as real traffic often is).
const bias = built.weights.get("moe.gate.bias")!.data as Float32Array;
bias[5] = 3;
bias[11] = 2;

using single = loadModel(built);
// No capacity limit here (capacityFactor: Infinity), so scores equal the single-device model's;
// with `capacityFactor: 1.25, overflow: "drop" | "spill"` an expert's rows past its capacity
// are dropped (or spill to its replicas first) and counted in stats().moe.layers[i].dropped.
using parallel = loadModel(built, { experts: { devices: "cpu:2", replicate: { threshold: 0.25 } } });
const requests = sampleRequests(built, { count: 6, candidates: 500, seed: 1 });

const describe = (label: string) => {
  const layer = parallel.stats().moe!.layers[0]!;
  const where = layer.placement.devices.map((d) => `${d.device}: [${d.experts.join(",")}]${d.replicaOf.length ? ` + replicas [${d.replicaOf.join(",")}]` : ""}`);
  console.log(`${label}: ${where.join("  ")}  (expected imbalance ${layer.placement.expectedImbalance.toFixed(2)}, last batch ${layer.imbalanceLast.toFixed(2)})`);
};

let worst = 0;
for (const [i, request] of requests.entries()) {
  const want = single.rankSync(request).outputs.ctr!.data;
  const got = parallel.rankSync(request).outputs.ctr!.data;
  for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j]! - want[j]!));
  if (i === 2) {
    describe("placement while assuming equal loads");
    parallel.replanExperts(); // from the routing seen so far; serving goes on
    describe("placement re-planned from routing statistics");
  }
}
describe("after three more batches");
console.log(`max |score difference| vs the single-device model: ${worst.toExponential(2)}`);

const { moe } = parallel.stats();
const layer = moe!.layers[0]!;
console.log(`rows per expert: ${layer.expertLoad.join(" ")}; dropped ${layer.dropped}; dispatched ${(layer.dispatchedBytes / 1e6).toFixed(1)} MB`);
for (const d of moe!.devices) console.log(`${d.id}: cores [${d.cpus.join(",")}]${d.pinned ? " pinned" : ""}, busy ${d.busyMs.toFixed(1)} ms, rows ${layer.deviceRows[moe!.devices.indexOf(d)]}`);
