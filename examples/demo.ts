// `bun run demo`: builds a DLRM in the MLPerf DLRM-v2 shape (tables scaled to fit
// a laptop) with seeded weights, writes it as a model file, loads it (weights
// memory-mapped), ranks one user × 500 candidates through the native kernels,
// and prints the top 10 and the latency.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../runtime/tensor/random";
import { loadModel, tensor, writeModel, zoo } from "../sdk";
import { progressBar } from "../sdk/cli-support";
import { dlrmOptions } from "../sdk/zoo/dlrm";
import type { Tensor } from "../sdk";

const CANDIDATES = 500;
const dir = mkdtempSync(join(tmpdir(), "rankfn-demo-"));
const path = join(dir, "dlrm.safetensors");

let t = performance.now();
const lap = () => {
  const ms = performance.now() - t;
  t = performance.now();
  return `${ms.toFixed(0)} ms`;
};

console.log("building a DLRM-v2-shaped model (13 dense, 26 sparse features, dim 128, 3 DCN-v2 cross layers) …");
const built = zoo.dlrm.build({ seed: 7 });
const bytes = writeModel(path, built, { onProgress: progressBar("writing the model file") });
console.log(`  ${(bytes / 2 ** 20).toFixed(0)} MiB model file (${lap()})`);

const model = loadModel(path);
console.log(`loaded and compiled (${lap()}): ${model.inspect().compiler.filter((l) => /fuse|concat/.test(l)).join("; ")}`);

// One user's request: the first 8 sparse features describe the user (context, sent once);
// dense features and the other 18 sparse features describe each candidate.
const o = dlrmOptions({ seed: 7 });
const rng = new Rng(2026);
const ids = (rows: number, table: number, hot: number) =>
  tensor("i64", [rows, hot], BigInt64Array.from({ length: rows * hot }, () => BigInt(rng.int(o.tableRows[table]!))));
const context: Record<string, Tensor> = {};
const candidates: Record<string, Tensor> = { dense: tensor("f32", [CANDIDATES, 13], rng.floats(CANDIDATES * 13, 0, 1)) };
o.multiHot.forEach((hot, i) => {
  if (i < o.contextFeatures) context[`cat_${i}`] = ids(1, i, hot);
  else candidates[`cat_${i}`] = ids(CANDIDATES, i, hot);
});

const first = await model.rank({ context, candidates });
console.log(`first request (builds this batch size's plan): ${lap()}`);
const times: number[] = [];
for (let i = 0; i < 10; i++) {
  const s = performance.now();
  await model.rank({ context, candidates });
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);

const scores = first.outputs.ctr!.data;
const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
console.log(`\nranked 1 user × ${CANDIDATES} candidates — top 10:`);
for (const c of order.slice(0, 10)) console.log(`  candidate ${String(c).padStart(3)}  ctr ${scores[c]!.toFixed(6)}`);
const median = times[5]!;
console.log(`\nlatency: ${median.toFixed(1)} ms per request (median of 10), ${((CANDIDATES / median) * 1000).toFixed(0)} candidates/s, ${((CANDIDATES * 32.1e6) / (median / 1000) / 1e9).toFixed(0)} GFLOP/s`);
model.dispose();
rmSync(dir, { recursive: true, force: true });
