// Activation quantization that keeps the ranking: on a CPU path that quantizes activations to u8,
// per-segment ranges (compiler/activation-groups.ts, the default) and calibration from sample
// requests (runtime/quality/calibrate.ts, loadModel's `calibration`: the layers that cost the ranking
// most stay fp32) each raise held-out accuracy; 16-bit activations (the default) raise it further,
// and calibration then narrows the layers u8 does not hurt to 8 bits on AVX-512 (its speed); the
// quantization report says which layers stayed fp32 and why.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { dcnV2Onnx } from "../../bench/onnx-models";
import { isa } from "../../runtime/ffi";
import { importOnnx } from "../../runtime/onnx/importer";
import type { RankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import type { Calibration } from "../../runtime/quality/calibrate";
import { rankingRequests } from "../../runtime/quality/ranking-requests";
import { loadModel } from "../../sdk";
import { quantizationReport } from "../../sdk/quantization-report";

const onnx = dcnV2Onnx(1);
const imported = importOnnx(onnx.bytes, { context: onnx.context });

// The u8-activation path of this CPU: AVX-512 VNNI by default, AVX2's vpmaddwd kernel when forced
// (Zen 1 defaults to weight-only FMA there). The ref/portable paths keep activations fp32.
const u8Env: Record<string, string> | undefined = isa().best === "avx512" ? {} : isa().best === "avx2" ? { RANKFN_AVX2_INT8: "vpmaddwd", RANKFN_ISA: "avx2" } : undefined;

test.skipIf(!u8Env)("DLRM int8 with u8 activations: per-segment ranges, then calibration, raise held-out τ and NDCG@10 and cut |Δscore|", () => {
  const child = Bun.spawnSync([process.execPath, join(import.meta.dir, "calibration-child.ts")], { env: { ...process.env, ...u8Env }, stderr: "pipe" });
  expect(child.stderr.toString()).toBe("");
  expect(child.exitCode).toBe(0);
  const { path, calibration, row, segments, calibrated, calibration16, wide, calibrated16 } = JSON.parse(child.stdout.toString()) as Record<"row" | "segments" | "calibrated" | "wide" | "calibrated16", RankingAccuracy> & { path: string; calibration: Calibration; calibration16: Calibration };
  // Measured on AVX2 vpmaddwd, 16 held-out requests (NDCG@10 / τ / max |Δscore|):
  //   one range per row 0.9875 / 0.941 / 0.038; per segment 0.9949 / 0.978 / 0.012; calibrated 0.9962 / 0.988 / 0.0074.
  expect(segments.worst.kendallTau).toBeGreaterThan(row.worst.kendallTau + 0.02);
  expect(segments.worst.maxAbsDelta).toBeLessThan(row.worst.maxAbsDelta / 2);
  expect(segments.worst.ndcg10).toBeGreaterThan(row.worst.ndcg10);
  expect(calibration.keep.length).toBeGreaterThan(0);
  expect(calibration.tauAfter).toBeGreaterThan(calibration.tauBefore);
  expect(calibrated.worst.kendallTau).toBeGreaterThan(segments.worst.kendallTau);
  expect(calibrated.worst.maxAbsDelta).toBeLessThan(segments.worst.maxAbsDelta);
  expect(calibrated.worst.ndcg10).toBeGreaterThanOrEqual(0.995);
  // The report names each layer calibration returned to fp32, with its measured τ.
  for (const k of calibration.keep) {
    expect(calibrated.keptFp32).toContainEqual(k);
    expect(k.reason).toMatch(/^calibration: quantized alone it takes Kendall τ to 0\.\d{4} on 2 sample requests \(target 0\.99\)$/);
  }
  expect(calibrated.keptFp32.filter((k) => k.reason.startsWith("output head")).map((k) => k.weight)).toEqual(["top.4.weight", "top.3.weight", "top.2.weight"]);
  // 16-bit activations (the default), measured on AVX-512: 0.9959 / 0.986 / 0.0073, against u8 per segment above.
  expect(wide.worst.kendallTau).toBeGreaterThan(segments.worst.kendallTau + 0.004);
  expect(wide.worst.maxAbsDelta).toBeLessThan(segments.worst.maxAbsDelta * 0.75);
  // Narrowing to u8 happens only where it is faster (VNNI), within narrowLoss (0.002) of the 16-bit τ on
  // the samples; held out it stays near the 16-bit model (measured 0.9988 / 0.984 / 0.0092, 4 layers narrowed).
  expect(calibration16.narrow.length > 0).toBe(path === "avx512");
  for (const n of calibration16.narrow) expect(n.reason).toMatch(/^calibration: u8 activations alone keep Kendall τ at 0\.\d{4} on 2 sample requests$/);
  expect(calibration16.tauAfter).toBeGreaterThanOrEqual(calibration16.tauBefore - 0.002 - 1e-9);
  expect(calibrated16.worst.kendallTau).toBeGreaterThan(wide.worst.kendallTau - 0.006);
  expect(calibrated16.worst.ndcg10).toBeGreaterThanOrEqual(0.995);
}, 180_000);

test("loadModel(path, { precision: int8, calibration }) compiles with the calibrated layers kept, on any path", () => {
  const requests = rankingRequests(imported, { count: 2, seed: 100 });
  const plain = loadModel(imported, { precision: "int8" });
  const model = loadModel(imported, { precision: "int8", calibration: requests, calibrationTarget: 0.9999 });
  try {
    const line = (m: typeof model) => m.inspect().compiler.find((l) => l.startsWith("quantize:"))!;
    expect(line(plain)).toMatch(/^quantize: 5 GEMM weights -> int8 \(1 kept fp32, 4 with per-segment activation ranges, 5 with 16-bit activations, 0 with 8-bit\)/);
    // A target no int8 model reaches: calibration returns up to half of the 5 quantizable layers.
    expect(line(model)).toMatch(/^quantize: 3 GEMM weights -> int8 \(3 kept fp32, 2 of them by name or calibration, \d with per-segment activation ranges, \d with 16-bit activations, \d with 8-bit\)/);
    const [req] = rankingRequests(imported, { count: 1, seed: 5 });
    expect(model.rankSync(req!).outputs).toHaveProperty(Object.keys(imported.graph.outputs)[0]!);
  } finally {
    plain.dispose();
    model.dispose();
  }
}, 60_000);

test("the quantization report lists the layers left in fp32 and why", () => {
  const r = quantizationReport(imported, { precision: "int8", requests: 2, keep: [{ weight: "deep.0.weight", reason: "kept for the test" }] });
  expect(r.keptFp32).toEqual([
    { weight: "head.weight", reason: "output head: one of the last 3 linear layers before an output (headLayers; their error lands on the scores directly)" },
    { weight: "deep.0.weight", reason: "kept for the test" },
  ]);
  expect(() => loadModel(imported, { precision: "int8", calibration: [] })).toThrow("calibration needs at least one sample request");
}, 60_000);
