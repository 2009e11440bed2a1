// `bun run bench model [--json] [--quick] [--models a,b]`: every zoo model at
// batch 1, 64, 512, 2048 in fp32 / bf16 / int8 — samples/s, p50/p99 batch
// latency, achieved GFLOP/s as % of the fp32 peak measured in this run — plus
// the DLRM accuracy of bf16/int8 (NDCG@10), DIN context broadcast vs flat
// rows, cold start of a ~1 GB model file, and heap growth over 10,000 calls.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k from "../runtime/ffi";
import { writeModel } from "../runtime/model/model-file";
import { Model } from "../sdk/model";
import { quantizationReport } from "../sdk/quantization-report";
import { sampleFlatRequest, sampleRequests } from "../sdk/sample-requests";
import { calibrate } from "../runtime/quality/calibrate";
import { rankingRequests } from "../runtime/quality/ranking-requests";
import { type ZooName, flopsPerRow, zoo, zooNames } from "../sdk/zoo";
import { Report } from "./report";
import { progress, time } from "./timing";

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const only = args.find((a) => a.startsWith("--models="))?.slice(9).split(",");
  const models = (only ?? zooNames) as ZooName[];
  const report = new Report("model");
  k.setNumThreads(2);
  progress("probing the fp32 peak (2 threads)");
  const peak = k.probePeakGflops(2, "f32");
  report.fact("fp32 peak GFLOP/s (2 threads, measured now)", peak);
  const batches = quick ? [1, 512] : [1, 64, 512, 2048];
  const section = report.section("zoo models, flat batches of rows, 2 threads");
  section.note("GFLOP/s counts the model's multiply-adds ×2 per row; % peak is of the fp32 FMA peak above");
  for (const name of models) {
    progress(`building ${name}`);
    const built = zoo[name].build({});
    const flops = flopsPerRow(built.graph);
    for (const precision of ["f32", "bf16", "int8"] as const) {
      const model = new Model(built, { precision, maxBatch: 4096 });
      for (const batch of batches) {
        progress(`${name} ${precision} batch ${batch}`);
        const req = sampleFlatRequest(built, batch, batch);
        const t = await time(() => model.rankSync(req), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.5 });
        const gflops = (flops.candidate * batch) / t.median / 1e9;
        section.add({ model: name, precision, batch, "samples/s": batch / t.median, "p50 ms": t.median * 1e3, "p99 ms": t.p99 * 1e3, "GFLOP/s": gflops, "% peak": (100 * gflops) / peak });
      }
      model.dispose();
    }
  }
  accuracy(report, quick);
  await contextBroadcast(report);
  coldStart(report, quick);
  heapGrowth(report, quick);
  report.print(json);
}

function accuracy(report: Report, quick: boolean) {
  const section = report.section("quantization accuracy on DLRM (vs fp32, generated requests)");
  const built = zoo.dlrm.build({});
  section.note("the output head's last 3 linear layers stay fp32 (QuantizeOptions.headLayers)");
  section.note("runtime/quality/ranking-accuracy.ts: 1 user × 200 candidates, Zipf(1.05) ids, log-count dense features; fp32 on the same path is the reference");
  // Every vector path this CPU has (an AVX-512 machine measures its AVX2 path too); the scalar paths would take minutes.
  const vector = k.supportedIsas().filter((i) => i === "avx2" || i === "avx512");
  const isas = vector.length > 0 ? vector : [k.isa().active];
  const configs = [["bf16", "f32", "segments"], ["bf16", "f16", "segments"], ["int8", "f32", "row"], ["int8", "f32", "segments"], ["int8", "u8q", "segments"], ["f32", "u4q", "segments"], ["int8", "u4q", "segments"]] as const;
  for (const [precision, tables, ranges] of configs) {
    progress(`accuracy dlrm ${precision} ${tables} ${ranges}`);
    for (const r of quantizationReport(built, { precision, tables, activationGroups: ranges, requests: quick ? 2 : 8, candidates: 200 }, isas)) {
      section.add({ path: r.path, precision, tables, "int8 act ranges": precision === "int8" ? `per ${ranges === "row" ? "row" : "segment"}` : "-", calibrated: "no", "max |Δscore|": r.maxAbsDelta.toExponential(2), "NDCG@10": r.ndcg10.ctr!.toFixed(5), "Kendall τ": r.kendallTau.ctr!.toFixed(4), "fp32 layers": r.keptFp32.length });
    }
  }
  // Calibration (runtime/quality/calibrate.ts) on 4 other generated requests, per path: it measures the path it runs on.
  for (const path of isas) {
    progress(`accuracy dlrm int8 calibrated (${path})`);
    const before = k.isa().active;
    k.setIsa(path);
    const { keep } = calibrate(built, rankingRequests(built, { count: 4, seed: 1000 }), { precision: "int8" });
    k.setIsa(before);
    for (const r of quantizationReport(built, { precision: "int8", keep, requests: quick ? 2 : 8, candidates: 200 }, [path])) {
      section.add({ path: r.path, precision: "int8", tables: "f32", "int8 act ranges": "per segment", calibrated: "yes", "max |Δscore|": r.maxAbsDelta.toExponential(2), "NDCG@10": r.ndcg10.ctr!.toFixed(5), "Kendall τ": r.kendallTau.ctr!.toFixed(4), "fp32 layers": r.keptFp32.length });
    }
  }
  section.note("on AVX2, RANKFN_AVX2_INT8=vpmaddwd|fma picks the int8 kernel (u8 activations or weight-only; Zen 1 defaults to fma, where activation ranges change nothing)");
}

async function contextBroadcast(report: Report) {
  const section = report.section("context broadcast: DIN, one user × 500 candidates vs the same 500 rows flat");
  const built = zoo.din.build({});
  const model = new Model(built);
  const [ranking] = sampleRequests(built, { count: 1, candidates: 500, seed: 3 });
  // The flat version repeats the user's context features on every row.
  const rows: Record<string, import("../runtime/tensor/tensor").Tensor> = { ...ranking!.candidates };
  for (const [name, t] of Object.entries(ranking!.context ?? {})) {
    const w = t.shape[1]!;
    const data = new (t.data.constructor as new (n: number) => typeof t.data)(500 * w);
    for (let i = 0; i < 500; i++) (data as Float32Array).set(t.data as Float32Array, i * w);
    rows[name] = { dtype: t.dtype, shape: [500, w], data };
  }
  progress("din context vs flat");
  const ctx = await time(() => model.rankSync(ranking!), { minSeconds: 0.5 });
  const flat = await time(() => model.rankSync({ rows }), { minSeconds: 0.5 });
  section.add({ request: "1 user × 500 candidates (context once)", "ms": ctx.median * 1e3 });
  section.add({ request: "500 flat rows (context per row)", "ms": flat.median * 1e3 });
  section.note(`speed-up of context broadcast: ${(flat.median / ctx.median).toFixed(2)}× (target ≥ 2×)`);
  model.dispose();
}

function coldStart(report: Report, quick: boolean) {
  const section = report.section("cold start: loadModel of a DLRM file to first scores, in a fresh process");
  const dir = mkdtempSync(join(tmpdir(), "rankfn-cold-"));
  try {
    const scale = quick ? 0.002 : 0.01; // 0.01 -> about 1 GB of tables
    progress(`writing a DLRM model file (scale ${scale})`);
    const path = join(dir, "dlrm.safetensors");
    const bytes = writeModel(path, zoo.dlrm.build({ scale }));
    const child = Bun.spawnSync(["bun", join(import.meta.dir, "cold-start-child.ts"), path], { stderr: "inherit" });
    const result = JSON.parse(child.stdout.toString()) as { loadMs: number; firstScoresMs: number };
    section.add({ "file MB": bytes / 1e6, "loadModel ms": result.loadMs, "to first scores ms": result.firstScoresMs });
    section.note("the file was just written, so its pages are in the page cache (a cold disk adds its read time)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function heapGrowth(report: Report, quick: boolean) {
  const section = report.section("heap after warm-up vs after 10,000 rank() calls (dcnv2, 1 user × 16 candidates)");
  const built = zoo.dcnv2.build({});
  const model = new Model(built);
  const [req] = sampleRequests(built, { count: 1, candidates: 16 });
  for (let i = 0; i < 1000; i++) model.rankSync(req!);
  Bun.gc(true);
  const before = process.memoryUsage();
  const calls = quick ? 2000 : 10_000;
  progress(`${calls} rank() calls`);
  for (let i = 0; i < calls; i++) model.rankSync(req!);
  Bun.gc(true);
  const after = process.memoryUsage();
  section.add({ calls, "heapUsed before MB": before.heapUsed / 1e6, "heapUsed after MB": after.heapUsed / 1e6, "growth KB": (after.heapUsed - before.heapUsed) / 1e3, "rss growth MB": (after.rss - before.rss) / 1e6 });
  model.dispose();
}
