// The accuracy harness on real models and real kernels: bf16 and int8 keep the
// ranking of a zoo DLRM and of an imported (ONNX, PyTorch-style) DCN-v2 within
// stated bounds on the active code path, and the generated requests are what
// the harness promises (deterministic, Zipf-skewed ids, log-count features).
import { expect, test } from "bun:test";
import { dcnV2Onnx } from "../../bench/onnx-models";
import { importOnnx } from "../../runtime/onnx/importer";
import { rankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import { rankingRequests } from "../../runtime/quality/ranking-requests";
import { idRowCounts } from "../../runtime/graph/embedding-lookups";
import { zoo } from "../../sdk";

const dlrm = zoo.dlrm.build({ scale: 0.0001, seed: 3 });
const onnx = dcnV2Onnx(1);
const imported = importOnnx(onnx.bytes, { context: onnx.context });

test("requests: 1 context row × 200 candidates, the same for a seed, Zipf ids and log-count dense values", () => {
  const [a] = rankingRequests(dlrm, { count: 1 });
  const [b] = rankingRequests(dlrm, { count: 1 });
  const [c] = rankingRequests(dlrm, { count: 1, seed: 2 });
  expect(a!.context!.cat_0!.shape[0]).toBe(1);
  expect(a!.candidates.dense!.shape).toEqual([200, 13]);
  expect(Array.from(a!.candidates.dense!.data as Float32Array)).toEqual(Array.from(b!.candidates.dense!.data as Float32Array));
  expect(Array.from(a!.candidates.dense!.data as Float32Array)).not.toEqual(Array.from(c!.candidates.dense!.data as Float32Array));
  const dense = a!.candidates.dense!.data as Float32Array;
  expect(Math.min(...dense)).toBe(0);
  expect(Math.max(...dense)).toBeGreaterThan(3);
  expect(Math.max(...dense)).toBeLessThan(20);
  // The hottest id of a large table appears far more often than uniform sampling would give it.
  const rows = idRowCounts(dlrm.graph).get("cat_20")!;
  const ids = Array.from(a!.candidates.cat_20!.data as BigInt64Array, Number);
  expect(rows).toBeGreaterThan(1000);
  expect(ids.filter((id) => id === 0).length / ids.length).toBeGreaterThan(0.05);
  expect(Math.max(...ids)).toBeGreaterThan(0);
});

// Bounds, from 16 × 200 candidates at seeds 1, 2, 3, 7 (the test runs 8 at seed 1): bf16 NDCG@10 0.992–1.0 on every path; int8
// 0.986–1.0 where activations stay fp32 (ref, portable, Zen 1's FMA path), 0.93–0.996 where the blocked
// kernels quantize them per row to u8 (AVX2 vpmaddwd, AVX-512 VNNI; seed 1: DLRM 0.9875, DCN-v2 0.9836).
const bounds = { bf16: { ndcg: 0.99, tau: 0.98 }, int8: { ndcg: 0.98, tau: 0.9 } } as const;
for (const [name, model] of [["zoo DLRM", dlrm], ["imported ONNX DCN-v2", imported]] as const) {
  for (const precision of ["bf16", "int8"] as const) {
    const b = bounds[precision];
    test(`${name} ${precision}: NDCG@10 ≥ ${b.ndcg}, τ ≥ ${b.tau} and |Δscore| < 0.05 against fp32 on 8 × 200 candidates`, () => {
      const [r] = rankingAccuracy(model, { precision }, { count: 8, candidates: 200, seed: 1 });
      expect(r!.requests).toBe(8);
      expect(r!.candidates).toBe(200);
      expect(Object.keys(r!.outputs)).toEqual(Object.keys(model.graph.outputs));
      expect(r!.worst.ndcg10).toBeGreaterThanOrEqual(b.ndcg);
      expect(r!.worst.kendallTau).toBeGreaterThanOrEqual(b.tau);
      expect(r!.worst.maxAbsDelta).toBeLessThan(0.05);
      // Quantization changed the scores (the harness compared two different models).
      expect(r!.worst.maxAbsDelta).toBeGreaterThan(0);
    }, 60_000);
  }
}

test("fp32 against fp32 is exact: NDCG 1, τ 1, |Δ| 0", () => {
  const [r] = rankingAccuracy(dlrm, { precision: "f32" }, { count: 2 });
  expect(r!.worst).toEqual({ ndcg10: 1, kendallTau: 1, maxAbsDelta: 0 });
}, 60_000);
