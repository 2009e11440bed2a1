// Pipeline parallelism on CPU core groups: a DLRM-v2-shaped model whose
// compiled plan is cut into two stages of balanced predicted cost, one per
// device (`cpu:2`) — stage 0 gathers the embeddings of microbatch i + 1 while
// stage 1 runs the cross layers and the top MLP of microbatch i, each stage on
// its own thread. The scores equal the single-device model's; inspect() shows
// the stages (nodes, device, predicted and measured ms) and the last batch's
// timeline; RANKFN_TRACE=trace.json writes a Chrome trace (chrome://tracing)
// when the model is disposed.
// `bun examples/pipeline-parallel.ts`
import { loadModel, tensor, zoo } from "../sdk";

const built = zoo.dlrm.build({ scale: 0.0002 });
const rows = 200;
const candidates: Record<string, ReturnType<typeof tensor>> = { dense: tensor("f32", [rows, 13], Float32Array.from({ length: rows * 13 }, (_, i) => (i % 7) / 7)) };
const context: Record<string, ReturnType<typeof tensor>> = {};
for (const input of built.graph.inputs) {
  if (input.dtype !== "i64") continue;
  const table = built.weights.get(`emb_${input.name.slice(4)}.table`)!.shape[0]!;
  const width = input.shape[0]!;
  const n = input.role === "context" ? 1 : rows;
  (input.role === "context" ? context : candidates)[input.name] = tensor("i64", [n, width], BigInt64Array.from({ length: n * width }, (_, i) => BigInt((i * 7919 + width) % table)));
}
const request = { context, candidates };

using single = loadModel(built);
const want = single.rankSync(request).outputs.ctr!.data;
// 200 rows in microbatches of 48: four of 48 and one of 8.
using pipelined = loadModel(built, { devices: "cpu:2", parallel: { pipeline: { microbatch: 48 } } });
const got = pipelined.rankSync(request).outputs.ctr!.data;
let worst = 0;
for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
console.log(`pipeline over cpu:2: max |score difference| vs one device ${worst.toExponential(2)}`);
const report = pipelined.inspect().parallel!.pipeline!;
for (const s of report.stages) {
  console.log(`  stage ${s.stage} on ${s.device}: ${s.nodes.length} nodes (${s.nodes[0]} … ${s.nodes.at(-1)}), predicted ${s.predictedMs.toFixed(2)} ms per ${report.predictedRows} rows, measured ${s.measuredMs.toFixed(1)} ms over ${s.microbatches} microbatches`);
}
console.log("  timeline of the batch (ms):");
for (const e of report.timeline) console.log(`    ${e.device} microbatch ${e.microbatch} (${e.rows} rows): ${e.startMs.toFixed(2)} → ${(e.startMs + e.ms).toFixed(2)}`);
