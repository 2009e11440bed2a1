// `bun run bench onnx [--json] [--quick]`: the same ONNX files — the
// DLRM-v2-shaped DLRM (26 tables capped at 20k rows, low-rank DCN-v2 cross),
// a DCN-v2 and an MMoE — run by onnxruntime-node (CPU EP, 2 intra-op threads)
// and by rankfn imported from the file (fp32, bf16, int8; 2 threads), at
// batch 1, 64, 512 and 2048. Prints samples/s, each rankfn precision as a
// ratio to onnxruntime-node fp32, achieved GFLOP/s as % of the fp32 peak
// measured in this run, and NDCG@10 of bf16/int8 against rankfn fp32. Beside
// rankfn int8 runs onnxruntime's own int8 twin of each file (the layout its
// quantize_dynamic writes, bench/ort-int8-twin.ts), both with ORT's default
// u8s8 kernels and its exact u8u8 ones: samples/s, rankfn int8 ÷ ORT int8, and
// its NDCG@10 / τ against ORT fp32 on the harness's ranking requests. Then the
// real PyTorch exports of tests/onnx/pytorch/ (bench/onnx-pytorch.ts);
// `--pytorch` runs only those.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import * as k from "../runtime/ffi";
import { importOnnxFile } from "../runtime/onnx/importer";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import { Model } from "../sdk/model";
import { quantizationReport } from "../sdk/quantization-report";
import { flopsPerRow, zoo } from "../sdk/zoo";
import { dlrmOptions } from "../sdk/zoo/dlrm";
import { dlrmOnnx } from "./dlrm-onnx";
import { type OnnxBenchModel, dcnV2Onnx, mmoeOnnx } from "./onnx-models";
import { Report } from "./report";
import { progress, time } from "./timing";
import { ORT_OPTIONS, openInt8Peer, ortOutputs } from "./ort-int8-peer";
import { peerAccuracy } from "../runtime/quality/peer-accuracy";
import { rankingRequests } from "../runtime/quality/ranking-requests";
import { pytorchSuite } from "./onnx-pytorch";

function dlrmV2(): OnnxBenchModel {
  const o = dlrmOptions({});
  const context = o.multiHot.slice(0, o.contextFeatures).map((_, i) => `cat_${i}`);
  return { name: "dlrm-v2", bytes: dlrmOnnx(zoo.dlrm.build({}), o), idRows: Object.fromEntries(o.tableRows.map((r, i) => [`cat_${i}`, r])), context };
}

/** The same random rows for both engines: ORT feeds and a rankfn flat request. */
function rows(model: Model, m: OnnxBenchModel, batch: number, seed: number): { feeds: Record<string, ort.Tensor>; flat: Record<string, Tensor> } {
  const rng = new Rng(seed);
  const feeds: Record<string, ort.Tensor> = {};
  const flat: Record<string, Tensor> = {};
  for (const input of model.graphInputs) {
    const width = input.shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "f32") {
      const data = rng.floats(batch * width, 0, 1);
      feeds[input.name] = new ort.Tensor("float32", data, [batch, width]);
      flat[input.name] = tensor("f32", [batch, width], data);
    } else {
      const data = BigInt64Array.from({ length: batch * width }, () => BigInt(rng.int(m.idRows[input.name]!)));
      feeds[input.name] = new ort.Tensor("int64", data, [batch, width]);
      flat[input.name] = tensor("i64", [batch, width], data);
    }
  }
  return { feeds, flat };
}

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const batches = quick ? [1, 512] : [1, 64, 512, 2048];
  const report = new Report("onnx");
  const dir = mkdtempSync(join(tmpdir(), "rankfn-bench-onnx-"));
  try {
    k.setNumThreads(2);
    progress("probing the fp32 peak (2 threads)");
    const peak = k.probePeakGflops(2, "f32");
    report.fact("fp32 peak GFLOP/s (2 threads, measured now)", peak);
    report.fact("onnxruntime-node", `${ort.env.versions?.common ?? "?"} CPU EP, intraOpNumThreads 2, graph optimisation all`);
    report.fact("ORT int8 twin", "quantize_dynamic layout (DynamicQuantizeLinear + MatMulInteger, per-channel symmetric s8 weights, Gemm included); u8s8 = ORT's default kernels, u8u8 = session.x64quantprecision=1");
    const section = report.section("samples/s: rankfn (imported from the ONNX file) vs onnxruntime-node fp32 on the same file and rows");
    section.note("× ORT = rankfn samples/s ÷ onnxruntime-node fp32 samples/s at that batch; % peak = rankfn fp32 GFLOP/s ÷ fp32 peak");
    section.note("int8 × ORT int8 (u8s8 | u8u8) = rankfn int8 samples/s ÷ onnxruntime's int8 twin samples/s, default kernels | exact kernels");
    const accuracy = report.section("quantization accuracy of the imported models (rankfn bf16/int8 vs rankfn fp32)");
    accuracy.note("NDCG@10 of each request's 200 candidates ranked by the quantized model against the fp32 order; context inputs as listed per model in bench/onnx-models.ts");
    accuracy.note("rankfn rows: against rankfn fp32; onnxruntime rows: the int8 twin against ORT fp32, on the same requests (context repeated per candidate)");
    // --pytorch: only the real-export sections.
    for (const make of args.includes("--pytorch") ? [] : [dlrmV2, dcnV2Onnx, mmoeOnnx]) {
      progress(`writing ${make.name}`);
      const m = make();
      const path = join(dir, `${m.name}.onnx`);
      writeFileSync(path, m.bytes);
      const session = await ort.InferenceSession.create(path, ORT_OPTIONS);
      progress(`${m.name}: writing and opening onnxruntime's int8 twin`);
      const peer = await openInt8Peer(m.bytes, join(dir, `${m.name}-int8.onnx`));
      const built = importOnnxFile(path);
      const flops = flopsPerRow(built.graph).candidate;
      // Accuracy is measured on ranking requests: the user features sent once, 200 candidates each.
      const withContext = importOnnxFile(path, { context: m.context });
      const models = Object.fromEntries((["f32", "bf16", "int8"] as const).map((p) => [p, new Model(built, { precision: p, maxBatch: 2048 })]));
      try {
        for (const batch of batches) {
          const { feeds, flat } = rows(models.f32!, m, batch, batch);
          progress(`${m.name} batch ${batch}: onnxruntime-node`);
          const tOrt = await time(() => session.run(feeds), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 });
          progress(`${m.name} batch ${batch}: onnxruntime-node int8 twin`);
          const tU8s8 = await time(() => peer.u8s8.run(feeds), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 });
          const tU8u8 = await time(() => peer.u8u8.run(feeds), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 });
          const row: Record<string, number | string> = { model: m.name, batch, "ORT samples/s": batch / tOrt.median, "ORT int8 u8s8": batch / tU8s8.median, "ORT int8 u8u8": batch / tU8u8.median };
          for (const p of ["f32", "bf16", "int8"] as const) {
            progress(`${m.name} batch ${batch}: rankfn ${p}`);
            const t = await time(() => models[p]!.rankSync({ rows: flat }), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 });
            row[`${p} samples/s`] = batch / t.median;
            row[`${p} × ORT`] = tOrt.median / t.median;
            if (p === "f32") row["f32 % peak"] = (100 * flops * batch) / t.median / 1e9 / peak;
            if (p === "int8") {
              row["int8 × ORT int8 u8s8"] = tU8s8.median / t.median;
              row["int8 × ORT int8 u8u8"] = tU8u8.median / t.median;
            }
          }
          section.add(row);
        }
        const count = quick ? 2 : 6;
        for (const precision of ["bf16", "int8"] as const) {
          progress(`${m.name} accuracy ${precision}`);
          const r = quantizationReport(withContext, { precision, requests: count, candidates: 200 });
          for (const [output, o] of Object.entries(r.outputs)) accuracy.add({ model: m.name, engine: "rankfn", path: r.path, precision, output, "NDCG@10": o.ndcg10.toFixed(5), "Kendall τ": o.kendallTau.toFixed(4), "max |Δscore|": o.maxAbsDelta.toExponential(2) });
        }
        // The same requests quantizationReport scored (its defaults: seed 1, 200 candidates).
        progress(`${m.name} accuracy: onnxruntime int8 twin`);
        const requests = rankingRequests(withContext, { count, candidates: 200, seed: 1 });
        const reference = await ortOutputs(session, requests);
        for (const [kernels, s] of [["u8s8", peer.u8s8], ["u8u8", peer.u8u8]] as const) {
          const r = peerAccuracy(await ortOutputs(s, requests), reference);
          for (const [output, o] of Object.entries(r.outputs)) accuracy.add({ model: m.name, engine: `onnxruntime ${kernels}`, path: k.isa().active, precision: "int8", output, "NDCG@10": o.ndcg10.toFixed(5), "Kendall τ": o.kendallTau.toFixed(4), "max |Δscore|": o.maxAbsDelta.toExponential(2) });
        }
      } finally {
        for (const model of Object.values(models)) model.dispose();
        await session.release();
        await peer.release();
      }
    }
    await pytorchSuite(report, quick, peak);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.print(json);
}
