// Sequence parallelism on CPU core groups: the zoo HSTU model ranks a request
// with a long history (L = 4096 events) split over two devices (`cpu:2`: the
// machine's cores in two pinned groups). Its W1/W2 GEMMs run by rows, the
// history's causal attention by zig-zag query blocks (block i and 2S-1-i on
// device i, so the triangle balances), the candidates' attention by kv shards
// merged by a sum (HSTU) — and it scores what the single-device model scores.
// `bun examples/sequence-parallel.ts`
import { loadModel, tensor, zoo } from "../sdk";

const L = 4096;
const built = zoo.hstu.build({ historyLength: L, embeddingDim: 64, heads: 2, qkDim: 32, vDim: 32, layers: 2 });
const ids = (f: (t: number) => number) => tensor("i64", [L], BigInt64Array.from({ length: L }, (_, t) => BigInt(f(t))));
const request = {
  context: { hist_items: ids((t) => (t * 7919) % 10_000), hist_actions: ids((t) => t % 8) },
  candidates: { item_id: tensor("i64", [64, 1], BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i * 97))) },
};

using single = loadModel(built);
// Histories of at least minLength events run split; shorter ones run as without the option.
using parallel = loadModel(built, { sequenceParallel: { devices: "cpu:2", minLength: 2048 } });

const time = (f: () => unknown) => {
  f();
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) f();
  return (performance.now() - t0) / 3;
};
const want = single.rankSync(request).outputs.ctr!.data;
const got = parallel.rankSync(request).outputs.ctr!.data;
let worst = 0;
for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
console.log(`max |score difference| vs one device: ${worst.toExponential(2)}`);
console.log(`ms / request: one device ${time(() => single.rankSync(request)).toFixed(0)}, split over cpu:2 ${time(() => parallel.rankSync(request)).toFixed(0)}`);
const sp = parallel.stats().sequenceParallel!;
console.log(`history layers split: ${sp.historyLayers}, candidate runs split: ${sp.candidateRuns}`);
for (const d of sp.devices) console.log(`${d.id}: cores [${d.cpus.join(",")}]${d.pinned ? " pinned" : ""}, busy ${d.busyMs.toFixed(0)} ms`);
