#!/usr/bin/env bun
// `bun run bench <what> [--json] [options]`: runs bench/<what>.ts. Benchmarks
// print figures and ratios measured in the same run; they never pass or fail on time.
import { readdirSync } from "node:fs";

const available = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts", "timing.ts", "onnx-gemm.ts", "cold-start-child.ts", "serve-server.ts", "dlrm-onnx.ts", "onnx-graph.ts", "onnx-models.ts", "serve-overhead.ts", "serve-load.ts", "zipf.ts", "zoo-batch-child.ts"].includes(f))
  .map((f) => f.slice(0, -3));

const [what, ...rest] = process.argv.slice(2);
if (!what || !available.includes(what)) {
  console.error(`usage: bun run bench <${available.join("|")}> [--json]`);
  process.exit(what ? 1 : 0);
}
const mod = (await import(`./${what}.ts`)) as { main(args: string[]): Promise<void> };
await mod.main(rest);
