// `bun run bench parallel [--json] [--quick]`: parallel strategies across local
// devices (issue 20), each section measured in the same run with its ratios:
// - sharded embedding tables (bench/parallel-embeddings.ts): the DLRM-v2-shaped
//   embedding stage replicated or sharded table-, row- or column-wise on
//   2 devices × 1 core against 1 device × 1 core and 1 device × 2 cores.
// - dense (bench/parallel-dense.ts): the DLRM-v2 top MLP tensor-parallel and
//   replicated on 2 devices × 1 core against the same two single devices.
// - MoE (bench/parallel-moe.ts): the zoo moe model expert-parallel on
//   2 devices × 1 core against the same two single devices.
// - pipeline stages (bench/parallel-pipeline.ts): the whole DLRM-v2-shaped
//   model cut into 2 stages on 2 devices × 1 core against the same two single devices.
// - planner (bench/parallel-planner.ts): what parallel: "auto" picks for each
//   of those models and batches against the best option measured above.
import { denseSection } from "./parallel-dense";
import { moeSection } from "./parallel-moe";
import { embeddingSection } from "./parallel-embeddings";
import { pipelineSection } from "./parallel-pipeline";
import { plannerSection } from "./parallel-planner";
import { Report } from "./report";

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const report = new Report("parallel");
  await embeddingSection(report, { quick });
  await denseSection(report, { quick });
  await moeSection(report, { quick });
  await pipelineSection(report, { quick });
  plannerSection(report);
  report.print(json);
}
