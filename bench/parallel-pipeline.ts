// The pipeline section of `bun run bench parallel` (issue 20): the DLRM-v2-shaped
// model (sdk/zoo dlrm: 13 dense features, 26 multi-hot tables of dim 128, DCN-v2
// low-rank cross over 3456 features, top MLP 1024-1024-512-256-1; tables scaled
// down) at batch 64, 512 and 2048 on
// - 1 device × 1 core and 1 device × 2 cores (the library pool, one executor);
// - 2 devices × 1 core with the plan cut into 2 pipeline stages
//   (`parallel: { pipeline: true }`, default microbatches; the library pool at
//   1 thread, so each stage's worker computes on its own thread alone);
// latency (median per batch, one batch in flight: run() returns when its last
// microbatch leaves the last stage), throughput (rows/s) and ratios against
// 1 × 1 core, plus the stages' predicted and measured time per microbatch.
import { compile } from "../runtime/compiler/compile";
import { Executor } from "../runtime/engine/executor";
import * as k from "../runtime/ffi";
import type { ParallelConfig } from "../runtime/parallel/parallel-options";
import { Rng } from "../runtime/tensor/random";
import { zoo } from "../sdk/zoo";
import { plannerCases } from "./parallel-planner";
import { stagedBatch } from "./parallel-batches";
import type { Report } from "./report";
import { progress, time } from "./timing";

const setups: { label: string; threads: number; devices?: string; parallel?: ParallelConfig }[] = [
  { label: "1 device × 1 core", threads: 1 },
  { label: "1 device × 2 cores", threads: 2 },
  { label: "2 devices × 1 core, pipeline", threads: 1, devices: "cpu:2x1", parallel: { pipeline: true } },
  // The whole model under the other strategies, for the planner's comparison (bench/parallel-planner.ts).
  { label: "2 devices × 1 core, tensor", threads: 1, devices: "cpu:2x1", parallel: { dense: "tensor" } },
  { label: "2 devices × 1 core, replicate", threads: 1, devices: "cpu:2x1", parallel: { dense: "replicate" } },
  { label: "2 devices × 1 core, table", threads: 1, devices: "cpu:2x1", parallel: { embeddings: "table" } },
];

export async function pipelineSection(report: Report, { quick }: { quick: boolean }): Promise<void> {
  const scale = quick ? 0.0001 : 0.0005;
  const batches = [64, 512, 2048];
  const compiled = compile(zoo.dlrm.build({ scale, contextFeatures: 0 })).model;
  const section = report.section("DLRM-v2-shaped model: pipeline stages (and tensor, replicate, table-sharded) on 2 devices × 1 core vs 1 device");
  const rng = new Rng(7);
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
        const t = await time(() => exec.run(batch), { minSeconds: quick ? 0.2 : 1, warmup: 1, minCalls: quick ? 2 : 5 });
        const rowsPerS = n / t.median;
        if (!setup.devices && setup.threads === 1) base.set(n, rowsPerS);
        else measured.set(setup.label, (measured.get(setup.label) ?? new Map()).set(n, rowsPerS));
        const row: Record<string, string | number> = { setup: setup.label, batch: n, "batches in flight": 1, "latency ms": t.median * 1e3, "rows/s": rowsPerS, "× 1 core": rowsPerS / base.get(n)! };
        if (exec.pipeline) {
          const p = exec.pipeline.describe();
          row.microbatch = exec.pipeline.microbatchRows(n);
          row["stage ms (measured, last batch)"] = p.stages.map((s) => p.timeline.filter((e) => e.stage === s.stage).reduce((a, e) => a + e.ms, 0).toFixed(1)).join(" / ");
        }
        section.add(row);
      }
      if (exec.pipeline) {
        const p = exec.pipeline.describe();
        section.note(`pipeline stages: ${p.stages.map((s) => `${s.device}: ${s.nodes.length} nodes (${s.nodes[0]} … ${s.nodes.at(-1)}), predicted ${s.predictedMs.toFixed(2)} ms per ${p.predictedRows} rows`).join("; ")}`);
      }
    } finally {
      exec.dispose();
    }
  }
  k.setNumThreads(2);
  const label = (s: string) => setups.find((x) => x.label.endsWith(s))!.label;
  plannerCases.push({ model: "DLRM-v2-shaped model", compiled, rowsPerSecond: measured, labelOf: { single: setups[1]!.label, pipeline: label("pipeline"), tensor: label("tensor"), replicate: label("replicate"), embeddings: label("table") } });
  section.note("× 1 core: throughput over 1 device × 1 core at the same batch. Target (issue 20): pipeline at batch 512 ≥ 1.7× on a quiet machine.");
}
