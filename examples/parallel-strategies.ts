// Parallel strategies for the dense layers on CPU core groups: a DLRM model
// whose MLPs run over two devices (`cpu:2`: the machine's cores in two pinned
// groups) —
// - tensor: each chain of linears is cut into Megatron-style pairs, the first
//   column-parallel, the second row-parallel, one reduce per pair (an odd last
//   linear column-parallel);
// - replicate: every device runs a share of the batch's rows through its copy
//   of each chain (data parallel inside the batch).
// - pipeline: the whole plan cut into stages of balanced predicted cost, one per
//   device, a batch run as microbatches flowing through them (stage 0 gathers
//   the embeddings of microbatch i + 1 while stage 1 runs the MLPs of i);
//   RANKFN_TRACE=trace.json writes a Chrome trace when the model is disposed.
// The scores equal the single-device model's; inspect() shows which linears
// paired and each device's slice, and the pipeline's stages and timeline.
// `bun examples/parallel-strategies.ts`
import { loadModel, tensor, zoo } from "../sdk";

const built = zoo.dlrm.build({ scale: 0.0002 });
const rows = 128;
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
for (const dense of ["tensor", "replicate"] as const) {
  using split = loadModel(built, { devices: "cpu:2", parallel: { dense } });
  const got = split.rankSync(request).outputs.ctr!.data;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  console.log(`${dense.padEnd(10)} max |score difference| vs one device ${worst.toExponential(2)}`);
  for (const g of split.inspect().parallel!.dense!.groups) {
    const slices = g.slices.map((s) => (s.rowShare === undefined ? `${s.device} columns [${s.columns.join(", ")})` : `${s.device} ${(100 * s.rowShare).toFixed(0)}% of the rows`)).join(", ");
    console.log(`           ${g.kind.padEnd(6)} ${g.linears.join(" + ").padEnd(28)} ${g.widths.join("→").padEnd(16)} ${slices}`);
  }
}

// parallel: { pipeline }: 128 rows in microbatches of 48 (48, 48, 32); inspect().parallel.pipeline
// shows each stage's nodes, device, predicted and measured ms, and the batch's timeline.
{
  using pipelined = loadModel(built, { devices: "cpu:2", parallel: { pipeline: { microbatch: 48 } } });
  const got = pipelined.rankSync(request).outputs.ctr!.data;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  console.log(`pipeline   max |score difference| vs one device ${worst.toExponential(2)}`);
  const report = pipelined.inspect().parallel!.pipeline!;
  for (const s of report.stages) console.log(`           stage ${s.stage} on ${s.device}: ${s.nodes.length} nodes (${s.nodes[0]} … ${s.nodes.at(-1)}), predicted ${s.predictedMs.toFixed(2)} ms per ${report.predictedRows} rows, measured ${s.measuredMs.toFixed(1)} ms`);
  for (const e of report.timeline) console.log(`           ${e.device} microbatch ${e.microbatch} (${e.rows} rows): ${e.startMs.toFixed(2)} → ${(e.startMs + e.ms).toFixed(2)} ms`);
}

// parallel: "auto": the planner predicts every strategy this model can run on these devices per
// batch-size bucket (from the graph's FLOPs and bytes and the devices' probed speeds) and runs each
// batch with its bucket's pick; inspect().parallel.auto shows the predictions and the choice.
{
  using auto = loadModel(built, { devices: "cpu:2", parallel: "auto", maxBatch: 2048 });
  const got = auto.rankSync(request).outputs.ctr!.data;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  console.log(`auto       max |score difference| vs one device ${worst.toExponential(2)}`);
  for (const b of auto.inspect().parallel!.auto!.buckets) {
    console.log(`           batch ≤ ${String(b.batch).padEnd(5)} picks ${b.choice.padEnd(10)} predicted ms per batch: ${b.predictions.map((p) => `${p.strategy} ${p.perBatchMs.toFixed(3)}`).join(", ")}`);
  }
}
