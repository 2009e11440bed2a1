// Sharded embedding tables on CPU core groups: a DLRM-v2-shaped model (26
// tables of dim 128, scaled down) with its tables spread over two devices
// (`cpu:2`: the machine's cores in two pinned groups) — table-wise (whole
// tables, balanced by bytes), row-wise (row ranges: each id routed to the
// device holding its row), column-wise (each device pools its slice of every
// vector) or replicated (each device looks up a share of the rows). The pooled
// vectors land in the interaction input through shared memory, and the scores
// equal the single-device model's; inspect() shows where each shard lives.
// `bun examples/sharded-embeddings.ts`
import { loadModel, tensor, zoo } from "../sdk";

const built = zoo.dlrm.build({ scale: 0.0002 });
const rows = 256;
const candidates: Record<string, ReturnType<typeof tensor>> = { dense: tensor("f32", [rows, 13], Float32Array.from({ length: rows * 13 }, (_, i) => (i % 7) / 7)) };
const context: Record<string, ReturnType<typeof tensor>> = {};
for (const input of built.graph.inputs) {
  if (input.dtype !== "i64") continue;
  const table = built.weights.get(`emb_${input.name.slice(4)}.table`)!.shape[0]!;
  const width = input.shape[0]!;
  const n = input.role === "context" ? 1 : rows;
  const ids = tensor("i64", [n, width], BigInt64Array.from({ length: n * width }, (_, i) => BigInt((i * 7919 + width) % table)));
  (input.role === "context" ? context : candidates)[input.name] = ids;
}
const request = { context, candidates };

using single = loadModel(built);
const want = single.rankSync(request).outputs.ctr!.data;
for (const embeddings of ["table", "row", "column", "replicate"] as const) {
  using sharded = loadModel(built, { devices: "cpu:2", parallel: { embeddings } });
  const got = sharded.rankSync(request).outputs.ctr!.data;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  const placement = sharded.inspect().parallel!.embeddings!;
  const bytes = Object.entries(placement.deviceBytes).map(([d, b]) => `${d} ${(b / 2 ** 20).toFixed(1)} MiB`).join(", ");
  console.log(`${embeddings.padEnd(10)} max |score difference| vs one device ${worst.toExponential(2)}; shards: ${bytes}`);
  const first = placement.tables[0]!;
  console.log(`           ${first.table} (${first.rows} x ${first.dim}): ${first.shards.map((s) => `${s.device} rows [${s.rows.join(", ")}) cols [${s.columns.join(", ")})`).join("; ")}`);
}
