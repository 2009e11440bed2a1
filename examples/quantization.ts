// Quantization: compile one model with fp32, bf16 and int8 GEMM weights (and
// fp16 / int8 row-wise tables), and print what each costs in accuracy (max
// |Δscore| and NDCG@10 against fp32) and what it saves. `bun examples/quantization.ts`
import { loadModel, zoo } from "../sdk";
import { rankingRequests } from "../runtime/quality/ranking-requests";
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

// int8 activations: 16-bit levels by default (keeps the ranking), u8 (`activationBits: 8`) runs
// the AVX-512 VNNI tile twice as fast per GEMM; calibration on sample requests keeps the most
// damaging layers fp32 and, on AVX-512, narrows to u8 the layers u8 does not hurt.
for (const activationBits of [16, 8] as const) {
  const report = quantizationReport(built, { precision: "int8", activationBits, requests: 8, candidates: 200 });
  console.log(`int8, ${String(activationBits).padStart(2)}-bit activations (${report.path}): NDCG@10 ${report.ndcg10.ctr!.toFixed(4)}, Kendall τ ${report.kendallTau.ctr!.toFixed(4)}`);
}
const calibrated = loadModel(built, { precision: "int8", calibration: rankingRequests(built, { count: 4, seed: 1000 }) });
console.log(calibrated.inspect().compiler.find((line) => line.startsWith("quantize:")));
calibrated.dispose();
