// int4 row-wise embedding tables (u4q, FBGEMM's fused 4-bit rows): the byte layout on a row
// computed by hand, the size saving, and what they cost the ranking in the accuracy harness.
import { expect, test } from "bun:test";
import { f16ToF32, f32ToF16, dequantizeRowsU4, quantizeRowsU4 } from "../../runtime/tensor/quantize";
import { compile } from "../../runtime/compiler/compile";
import { rankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import { zoo } from "../../sdk";

test("a u4q row: nibbles with even columns low, then fp16 scale (range / 15) and fp16 bias (min)", () => {
  const row = quantizeRowsU4(new Float32Array([0, 1.5, 3, 4.5, 6]), 1, 5);
  // (5 + 1) / 2 = 3 bytes of nibbles + 4 bytes of scale and bias.
  expect(row.length).toBe(7);
  const scale = f16ToF32(f32ToF16(6 / 15)); // 0.39990234375
  // q = round(v / scale): 0, 3.75 -> 4, 7.50 -> 8, 11.25 -> 11, 15.004 -> 15.
  expect(Array.from(row.subarray(0, 3))).toEqual([0x40, 0xb8, 0x0f]);
  const view = new DataView(row.buffer);
  expect(f16ToF32(view.getUint16(3, true))).toBe(scale);
  expect(f16ToF32(view.getUint16(5, true))).toBe(0);
  expect(Array.from(dequantizeRowsU4(row, 1, 5))).toEqual([0, 4, 8, 11, 15].map((q) => Math.fround(scale * q)));
});

test("DLRM with u4q tables: 7.5x smaller tables than fp32, NDCG@10 ≥ 0.95 and τ ≥ 0.95 against fp32", () => {
  const dlrm = zoo.dlrm.build({ scale: 0.0001, seed: 3 });
  // The tables as the compiled model holds them, fp32 vs u4q.
  const tableBytes = (tables: "f32" | "u4q") => {
    const { model } = compile(dlrm, { tables });
    return [...model.weights].filter(([name]) => model.graph.weights[name]!.dtype === tables && name.includes("emb")).reduce((a, [, t]) => a + t.data.byteLength, 0);
  };
  const f32 = tableBytes("f32");
  const u4q = tableBytes("u4q");
  // Dim 128: 512 bytes per fp32 row vs 64 + 4.
  expect(f32 / u4q).toBeCloseTo(512 / 68, 6);
  // Measured (16 requests, seeds 1 / 2): NDCG@10 0.976 / 0.984, τ 0.974 / 0.982, max |Δscore| 0.014 (u8q:
  // 0.9986, τ 0.998). The zoo's tables are uniform random, the hardest rows for 16 levels; the issue's
  // target (NDCG ≥ 0.995) is not met on them. The DLRM-v2-shaped zoo model of `bench model` / `bench onnx`
  // (zoo.dlrm.build({}), 49.9 MiB of fp32 tables → 6.6 MiB u4q, 7.53x) measured NDCG@10 0.9973, τ 0.979,
  // max |Δscore| 0.011 (8 × 200, seed 1, avx2; int8 GEMMs + u4q tables: 0.9977).
  const [r] = rankingAccuracy(dlrm, { tables: "u4q" }, { count: 8, seed: 1 });
  expect(r!.tables).toBe("u4q");
  expect(r!.worst.ndcg10).toBeGreaterThanOrEqual(0.95);
  expect(r!.worst.kendallTau).toBeGreaterThanOrEqual(0.95);
  expect(r!.worst.maxAbsDelta).toBeGreaterThan(0);
}, 60_000);
