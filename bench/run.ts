#!/usr/bin/env bun
// `bun run bench <what> [--json] [options]`: runs bench/<what>.ts. Benchmarks
// print figures and ratios measured in the same run; they never pass or fail on time.
import { readdirSync } from "node:fs";

/** Modules of the benchmarks (children, model builders, shared pieces), not benchmarks themselves. */
const HELPERS = new Set([
  "cold-start-child.ts",
  "dlrm-onnx.ts",
  "onnx-gemm.ts",
  "onnx-graph.ts",
  "onnx-models.ts",
  "onnx-pytorch.ts",
  "onnx-pytorch-dlrm.ts",
  "parallel-batches.ts",
  "parallel-dense.ts",
  "parallel-embeddings.ts",
  "parallel-moe.ts",
  "parallel-pipeline.ts",
  "parallel-planner.ts",
  "ort-int8-peer.ts",
  "ort-int8-twin.ts",
  "report.ts",
  "run.ts",
  "serve-load.ts",
  "serve-overhead.ts",
  "serve-server.ts",
  "swap-server.ts",
  "timing.ts",
  "zipf.ts",
  "zoo-batch-child.ts",
]);

const available = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !HELPERS.has(f))
  .map((f) => f.slice(0, -3));

const [what, ...rest] = process.argv.slice(2);
if (!what || !available.includes(what)) {
  console.error(`usage: bun run bench <${available.join("|")}> [--json]`);
  process.exit(what ? 1 : 0);
}
const mod = (await import(`./${what}.ts`)) as { main(args: string[]): Promise<void> };
await mod.main(rest);
