// The dense section of `bun run bench parallel` (issue 20): the DLRM-v2 top
// MLP's first three layers (3456 → 1024 → 1024 → 512, ReLU) as a model, at
// batch 64, 512 and 2048, on
// - 1 device × 1 core and 1 device × 2 cores (the library pool, one GEMM each);
// - 2 devices × 1 core, tensor-parallel (one pair + the odd last layer
//   column-parallel: two syncs) and replicated (each device half the rows:
//   one sync);
// latency (median ms per batch, batches one after another on the executor),
// throughput (rows/s with 4 batches in flight on a worker: the next batch's
// validation and staging overlap the current one's compute), ratios against
// 1 × 1 core, and the GEMM rate against the FMA peak measured in the same run.
import { compile } from "../runtime/compiler/compile";
import { Executor, type StagedBatch } from "../runtime/engine/executor";
import { Model } from "../runtime/engine/model";
import { Stager } from "../runtime/engine/stager";
import { RequestValidator } from "../runtime/engine/validate";
import * as k from "../runtime/ffi";
import { GraphBuilder, type BuiltModel } from "../runtime/graph/builder";
import type { ParallelConfig } from "../runtime/parallel/parallel-options";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import { DLRM_V2 } from "../sdk/zoo/dlrm-v2-shape";
import { plannerCases } from "./parallel-planner";
import type { Report } from "./report";
import { progress, time } from "./timing";

/** The interaction output of DLRM-v2 (27 × 128 features: 3456 wide) into its top MLP's first three layers. */
export const TOP_MLP = [1024, 1024, 512] as const;
const IN = (DLRM_V2.multiHot.length + 1) * DLRM_V2.embeddingDim;

export function topMlp(): BuiltModel {
  const b = new GraphBuilder("dlrm-v2-top-mlp", 7);
  b.output("h", b.mlp(b.input("x", "f32", IN, "candidate"), TOP_MLP, "relu", "relu", "top"));
  return b.build();
}

const setups: { label: string; threads: number; devices?: string; parallel?: ParallelConfig }[] = [
  { label: "1 device × 1 core", threads: 1 },
  { label: "1 device × 2 cores", threads: 2 },
  { label: "2 devices × 1 core, tensor", threads: 1, devices: "cpu:2x1", parallel: { dense: "tensor" } },
  { label: "2 devices × 1 core, replicate", threads: 1, devices: "cpu:2x1", parallel: { dense: "replicate" } },
];

const IN_FLIGHT = 4;

export async function denseSection(report: Report, { quick }: { quick: boolean }): Promise<void> {
  const batches = [64, 512, 2048];
  const model = topMlp();
  const compiled = compile(model).model;
  const peak = k.probePeakGflops(1);
  report.fact("fp32 GFLOP/s, 1 thread (measured now)", peak);
  const flopsPerRow = 2 * [IN, ...TOP_MLP].slice(0, -1).reduce((a, n, i) => a + n * TOP_MLP[i]!, 0);
  report.fact("top MLP", `DLRM-v2: ${IN} → ${TOP_MLP.join(" → ")}, ReLU (${(flopsPerRow / 1e6).toFixed(1)} MFLOP per row)`);
  const section = report.section("DLRM-v2 top MLP: tensor-parallel and replicated over 2 devices × 1 core vs 1 device");
  const rng = new Rng(9);
  const requests = new Map<number, { rows: Record<string, Tensor> }>(batches.map((n) => [n, { rows: { x: tensor("f32", [n, IN], Float32Array.from({ length: n * IN }, () => rng.next() * 2 - 1)) } }]));
  const staged = new Map<number, StagedBatch>(batches.map((n) => [n, new Stager(compiled.graph).stage([new RequestValidator(compiled.graph).validate(requests.get(n)!)]).batch]));
  const baseLatency = new Map<number, number>();
  const baseThroughput = new Map<number, number>();
  const measured = new Map<string, Map<number, number>>();
  for (const setup of setups) {
    k.setNumThreads(setup.threads);
    const exec = new Executor(compiled, { maxBatch: 4096, devices: setup.devices, parallel: setup.parallel });
    const latency = new Map<number, number>();
    try {
      for (const n of batches) {
        progress(`${setup.label}, batch ${n}: latency`);
        const t = await time(() => exec.run(staged.get(n)!), { minSeconds: quick ? 0.15 : 1, warmup: 2, minCalls: quick ? 3 : 10 });
        latency.set(n, t.median);
      }
    } finally {
      exec.dispose();
    }
    // Throughput: batches in flight on a worker (the calling thread validates and stages the next ones meanwhile).
    const worker = new Model(model, { worker: true, threads: setup.threads, maxBatch: 4096, devices: setup.devices, parallel: setup.parallel });
    try {
      await worker.ready();
      for (const n of batches) {
        progress(`${setup.label}, batch ${n}: ${IN_FLIGHT} in flight`);
        const req = requests.get(n)!;
        const t = await time(() => Promise.all(Array.from({ length: IN_FLIGHT }, () => worker.rank(req))), { minSeconds: quick ? 0.15 : 1, warmup: 1, minCalls: quick ? 2 : 5 });
        const rowsPerS = (IN_FLIGHT * n) / t.median;
        const ms = latency.get(n)!;
        if (!setup.devices && setup.threads === 1) (baseLatency.set(n, ms), baseThroughput.set(n, rowsPerS));
        else measured.set(setup.label, (measured.get(setup.label) ?? new Map()).set(n, rowsPerS));
        section.add({
          setup: setup.label,
          batch: n,
          "latency ms": ms * 1e3,
          "latency × 1×1": ms / baseLatency.get(n)!,
          "rows/s": rowsPerS,
          "throughput × 1×1": rowsPerS / baseThroughput.get(n)!,
          "GFLOP/s (latency)": (flopsPerRow * n) / ms / 1e9,
          "% of 1-core peak per core": (100 * (flopsPerRow * n)) / ms / 1e9 / peak / (setup.devices ? 2 : setup.threads),
        });
      }
    } finally {
      worker.dispose();
    }
  }
  k.setNumThreads(2);
  plannerCases.push({ model: "DLRM-v2 top MLP", compiled, rowsPerSecond: measured, labelOf: { single: setups[1]!.label, tensor: setups[2]!.label, replicate: setups[3]!.label } });
  section.note("latency × 1×1: median time per batch (one after another) over 1 device × 1 core (below 1 is faster; the TP target at batch 64 on 2 × 1 is ≤ 0.6); throughput × 1×1: rows/s with 4 batches in flight on a worker over 1 × 1.");
  section.note("tensor: the pair (3456 → 1024 → 1024) is one sync and a reduce of the 1024-wide partials on the calling thread, the odd 512 layer column-parallel a second sync; replicate: each device runs half the rows through all three layers, one sync.");
}
