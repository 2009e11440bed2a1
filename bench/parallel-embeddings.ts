// The sharded-embedding section of `bun run bench parallel` (issue 20): the
// DLRM-v2-shaped embedding stage alone (26 tables of dim 128 with the MLPerf
// multi-hot sizes, 214 ids per row, rows scaled down) pooled into the
// 26 × 128 interaction input, at batch 64, 512 and 2048:
// - 1 device × 1 core and 1 device × 2 cores (the library pool, one call);
// - 2 devices × 1 core with the tables replicated (each device a share of the
//   rows), table-wise, row-wise and column-wise;
// latency (median per batch), throughput (rows/s), ratios against 1 × 1 core
// and the bytes of rows read per second against the machine's read bandwidth
// measured in the same run.
import { compile } from "../runtime/compiler/compile";
import { Executor } from "../runtime/engine/executor";
import * as k from "../runtime/ffi";
import { GraphBuilder, type BuiltModel } from "../runtime/graph/builder";
import type { ParallelConfig } from "../runtime/parallel/parallel-options";
import { embeddingStrategies } from "../runtime/parallel/parallel-options";
import { Rng } from "../runtime/tensor/random";
import { DLRM_V2, scaledTableRows } from "../sdk/zoo/dlrm-v2-shape";
import { plannerCases } from "./parallel-planner";
import { stagedBatch } from "./parallel-batches";
import type { Report } from "./report";
import { progress, time } from "./timing";

/** The DLRM-v2 embedding stage as a model: 26 pooled lookups concatenated into one output. */
export function embeddingStage(scale: number): BuiltModel {
  const b = new GraphBuilder("dlrm-v2-embeddings", 3);
  const rows = scaledTableRows(scale);
  const pooled = DLRM_V2.multiHot.map((l, i) => b.embeddingBag(b.input(`cat_${i}`, "i64", l, "candidate"), rows[i]!, DLRM_V2.embeddingDim, "sum", `emb_${i}`));
  b.output("pooled", b.concat(pooled));
  return b.build();
}

const setups: { label: string; threads: number; devices?: string; parallel?: ParallelConfig }[] = [
  { label: "1 device × 1 core", threads: 1 },
  { label: "1 device × 2 cores", threads: 2 },
  ...embeddingStrategies.map((s) => ({ label: `2 devices × 1 core, ${s}`, threads: 1, devices: "cpu:2x1", parallel: { embeddings: s } })),
];

export async function embeddingSection(report: Report, { quick }: { quick: boolean }): Promise<void> {
  const scale = quick ? 0.0001 : 0.0005;
  const batches = quick ? [64, 512] : [64, 512, 2048];
  const model = embeddingStage(scale);
  const compiled = compile(model).model;
  const bandwidth = k.probeMemBandwidth(2);
  report.fact("read bandwidth GB/s, 2 threads (measured now)", bandwidth);
  const tableBytes = [...model.weights.values()].reduce((a, t) => a + t.data.byteLength, 0);
  report.fact("embedding stage", `DLRM-v2 shape: 26 tables × dim 128, ${DLRM_V2.multiHot.reduce((a, b) => a + b, 0)} ids per row, rows × ${scale} (${(tableBytes / 2 ** 20).toFixed(0)} MiB fp32)`);
  const section = report.section("DLRM-v2 embedding stage: sharded over 2 devices × 1 core vs 1 device");
  const rng = new Rng(5);
  const staged = new Map(batches.map((n) => [n, stagedBatch(compiled, n, rng)]));
  const base = new Map<number, number>();
  const measured = new Map<string, Map<number, number>>();
  for (const setup of setups) {
    k.setNumThreads(setup.threads);
    const exec = new Executor(compiled, { maxBatch: 4096, devices: setup.devices, parallel: setup.parallel });
    try {
      for (const n of batches) {
        progress(`${setup.label}, batch ${n}`);
        const batch = staged.get(n)!;
        const t = await time(() => exec.run(batch), { minSeconds: quick ? 0.1 : 0.5, warmup: 2 });
        const rowsPerS = n / t.median;
        if (!setup.devices && setup.threads === 1) base.set(n, rowsPerS);
        else measured.set(setup.label, (measured.get(setup.label) ?? new Map()).set(n, rowsPerS));
        const readBytes = n * DLRM_V2.multiHot.reduce((a, b) => a + b, 0) * DLRM_V2.embeddingDim * 4;
        section.add({ setup: setup.label, batch: n, "latency ms": t.median * 1e3, "rows/s": rowsPerS, "× 1 core": rowsPerS / base.get(n)!, "% of read bandwidth": (100 * readBytes) / t.median / 1e9 / bandwidth });
      }
    } finally {
      exec.dispose();
    }
  }
  k.setNumThreads(2);
  plannerCases.push({ model: "DLRM-v2 embedding stage", compiled, rowsPerSecond: measured, labelOf: { single: setups[1]!.label, embeddings: setups.find((s) => typeof s.parallel === "object" && s.parallel.embeddings === "table")!.label } });
  section.note("× 1 core: throughput over 1 device × 1 core at the same batch; % of read bandwidth: table rows read per second (ids × 128 × 4 bytes) over the measured bandwidth (above 100%: the rows came from cache).");
  section.note("row: each id is routed to its shard on the calling thread (JS) before the devices run; that routing, not the lookups, bounds it here.");
}
