// The MoE section of `bun run bench parallel` (issue 20): the zoo moe model with
// the layer `bench moe` times alone (16 experts, top-2, d = 512, hidden 2048),
// at batch 64, 512 and 2048, on 1 device × 1 core, 1 device × 2 cores (the
// library pool) and 2 devices × 1 core with the experts expert-parallel
// (`experts: { devices: "cpu:2x1" }`): latency (median ms per batch, one after
// another) and throughput (rows/s with 4 batches in flight on a worker), both
// against 1 × 1 core. Target: expert parallelism on 2 × 1 ≥ 1.8× 1 × 1.
import { compile } from "../runtime/compiler/compile";
import * as k from "../runtime/ffi";
import { Model } from "../runtime/engine/model";
import { sampleFlatRequest } from "../sdk/sample-requests";
import { zoo } from "../sdk/zoo";
import { plannerCases } from "./parallel-planner";
import type { Report } from "./report";
import { progress, time } from "./timing";

const setups: { label: string; threads: number; experts?: string }[] = [
  { label: "1 device × 1 core", threads: 1 },
  { label: "1 device × 2 cores", threads: 2 },
  { label: "2 devices × 1 core, experts", threads: 1, experts: "cpu:2x1" },
];

const IN_FLIGHT = 4;

export async function moeSection(report: Report, { quick }: { quick: boolean }): Promise<void> {
  const batches = [64, 512, 2048];
  const built = zoo.moe.build({ dModel: 512, experts: 16, topK: 2, expertHidden: 2048, scale: 0.001 });
  const section = report.section("zoo moe (16 experts, top-2, d = 512, hidden 2048): expert-parallel over 2 devices × 1 core vs 1 device");
  const requests = new Map(batches.map((n) => [n, sampleFlatRequest(built, n, 3)]));
  const baseLatency = new Map<number, number>();
  const baseThroughput = new Map<number, number>();
  const measured = new Map<string, Map<number, number>>();
  for (const setup of setups) {
    k.setNumThreads(setup.threads);
    const options = { maxBatch: 4096, threads: setup.threads, ...(setup.experts ? { experts: { devices: setup.experts } } : {}) };
    const inline = new Model(built, options);
    const latency = new Map<number, number>();
    try {
      for (const n of batches) {
        progress(`moe, ${setup.label}, batch ${n}: latency`);
        latency.set(n, (await time(() => inline.rankSync(requests.get(n)!), { minSeconds: quick ? 0.15 : 1, warmup: 2, minCalls: quick ? 3 : 10 })).median);
      }
    } finally {
      inline.dispose();
    }
    const worker = new Model(built, { ...options, worker: true });
    try {
      await worker.ready();
      for (const n of batches) {
        progress(`moe, ${setup.label}, batch ${n}: ${IN_FLIGHT} in flight`);
        const req = requests.get(n)!;
        const t = await time(() => Promise.all(Array.from({ length: IN_FLIGHT }, () => worker.rank(req))), { minSeconds: quick ? 0.15 : 1, warmup: 1, minCalls: quick ? 2 : 5 });
        const rowsPerS = (IN_FLIGHT * n) / t.median;
        const ms = latency.get(n)!;
        if (!setup.experts && setup.threads === 1) (baseLatency.set(n, ms), baseThroughput.set(n, rowsPerS));
        else measured.set(setup.label, (measured.get(setup.label) ?? new Map()).set(n, rowsPerS));
        section.add({ setup: setup.label, batch: n, "latency ms": ms * 1e3, "latency × 1×1": ms / baseLatency.get(n)!, "rows/s": rowsPerS, "throughput × 1×1": rowsPerS / baseThroughput.get(n)! });
      }
    } finally {
      worker.dispose();
    }
  }
  k.setNumThreads(2);
  plannerCases.push({ model: "zoo moe", compiled: compile(built).model, rowsPerSecond: measured, labelOf: { single: setups[1]!.label, experts: setups[2]!.label } });
  section.note("experts: each device runs the rows routed to its experts (one GEMM per expert layer), the embeddings, gate and tower on the library pool; target for 2 × 1 against 1 × 1: ≥ 1.8× throughput.");
}
