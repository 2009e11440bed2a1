// Quantization: compile one model with fp32, bf16 and int8 GEMM weights (and
// fp16 / int8 row-wise tables), and print what each costs in accuracy (max
// |Δscore| and NDCG@10 against fp32) and what it saves. `bun examples/quantization.ts`
import { zoo } from "../sdk";
import { Model } from "../sdk/model";
import { quantizationReport } from "../sdk/quantization-report";

const built = zoo.dcnv2.build({ seed: 5 });
for (const [precision, tables] of [["bf16", "f16"], ["int8", "u8q"]] as const) {
  const report = quantizationReport(built, { precision, tables, requests: 8, candidates: 200 });
  const model = new Model(built, { precision, tables });
  const { params } = model.inspect();
  model.dispose();
  console.log(
    `${precision.padEnd(4)} weights, ${tables.padEnd(3)} tables: ${(params.bytes / 1e6).toFixed(2)} MB of weights, ` +
      `max |Δscore| ${report.maxAbsDelta.toExponential(2)}, NDCG@10 ${report.ndcg10.ctr!.toFixed(4)} over ${report.requests}×${report.candidates} candidates`,
  );
}
