// HSTU section of `bun run bench sequence`: rf_hstu_attention alone (one causal
// sequence with the log-bucketed relative bias), against the same math written
// as ONNX ops and run in onnxruntime-node:
//   S = Q·Kᵀ · scale + rab[h, bucket(|i - j|)]    (bucket = #{k < nb - 1 : |i - j| >= 2^k},
//                                                  the bit width clamped: rankfn.h's rule, exact)
//   out = (SiLU(S) / n ⊙ causal) · V
// The positions are a graph input, so ORT computes the bias per call as a
// practitioner's graph does; outputs are compared within 1e-4.
import * as ort from "onnxruntime-node";
import * as k from "../runtime/ffi";
import type { Rng } from "../runtime/tensor/random";
import { tensor } from "../runtime/tensor/tensor";
import { F32, I64, OnnxGraph } from "./onnx-graph";
import type { Report } from "./report";
import { progress, time } from "./timing";

const BUCKETS = 12;

/** HSTU pointwise attention over [1, H, L, d] with the bias table as a weight and positions [L] as an input. */
function hstuAttentionModel(table: Float32Array, heads: number, d: number, normLen: number): Uint8Array {
  const g = new OnnxGraph("h");
  const q = g.input("q", F32, [1, heads, "L", d]);
  const kk = g.input("k", F32, [1, heads, "L", d]);
  const v = g.input("v", F32, [1, heads, "L", d]);
  const pos = g.input("pos", I64, ["L"]);
  const rab = g.floats("rab", [heads, BUCKETS], table);
  const s = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [kk], { perm: { ints: [0, 1, 3, 2] } })]), g.scalar(1 / Math.sqrt(d))]);
  const qp = g.op("Unsqueeze", [pos, g.ints([1])]);
  const kp = g.op("Unsqueeze", [pos, g.ints([0])]);
  const delta = g.op("Cast", [g.op("Abs", [g.op("Sub", [qp, kp])])], { to: F32 });
  const steps = Array.from({ length: BUCKETS - 1 }, (_, e) => g.op("Cast", [g.op("GreaterOrEqual", [delta, g.scalar(2 ** e)])], { to: F32 }));
  const bucket = g.op("Cast", [g.op("Sum", steps)], { to: I64 });
  const bias = g.op("Unsqueeze", [g.op("Gather", [rab, bucket], { axis: 1 }), g.ints([0])]); // [1, H, L, L]
  const x = g.op("Add", [s, bias]);
  const causal = g.op("Cast", [g.op("LessOrEqual", [kp, qp])], { to: F32 });
  const a = g.op("Mul", [g.op("Mul", [g.op("Mul", [x, g.op("Sigmoid", [x])]), g.scalar(1 / normLen)]), causal]);
  g.nodes.push({ opType: "MatMul", name: "out", input: [a, v], output: ["out"] });
  g.output("out", F32, [1, heads, "L", d]);
  return g.encode("hstu_attention");
}

/** Token-major [L, H·d] (the kernel's layout) -> head-major [1, H, L, d] (ORT's). */
function headMajor(x: Float32Array, L: number, heads: number, d: number): Float32Array {
  const out = new Float32Array(L * heads * d);
  for (let t = 0; t < L; t++) for (let h = 0; h < heads; h++) out.set(x.subarray((t * heads + h) * d, (t * heads + h + 1) * d), (h * L + t) * d);
  return out;
}

/** Adds the HSTU attention section (rankfn vs ORT) to `report`. */
export async function hstuAttentionSection(report: Report, rng: Rng, peak: number, threads: number, quick: boolean): Promise<void> {
  const heads = 4, d = 64;
  const section = report.section(`HSTU pointwise attention (rf_hstu_attention), one sequence, H = ${heads}, d = ${d}, causal, rab with ${BUCKETS} log buckets`);
  section.note("GFLOP/s counts 4·H·d per visible (query, key) pair; % peak: of the fp32 peak above; speed-up: ORT ms / rankfn ms");
  section.note("ORT: MatMul, Mul, bucketised |i - j| (Abs, GreaterOrEqual, Sum, Gather), Add, SiLU, causal Mul, MatMul over [1, H, L, d], same threads");
  const table = rng.floats(heads * BUCKETS, -0.2, 0.2);
  const budget = { warmup: 1, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 };
  for (const L of quick ? [1024] : [512, 1024, 4096]) {
    const [q, kk, v] = [0, 1, 2].map(() => rng.floats(L * heads * d));
    const qo = tensor("i64", [2], BigInt64Array.from([0n, BigInt(L)]));
    const mk = (x: Float32Array) => tensor("f32", [L, heads * d], x);
    const args = { q: mk(q!), k: mk(kk!), v: mk(v!), qOffsets: qo, kvOffsets: qo, heads, mask: "causal" as const, rab: { table: tensor("f32", [heads, BUCKETS], table) }, normLen: L };
    progress(`hstu attention L=${L}`);
    const ours = await time(() => k.hstuAttention(args), budget);
    const session = await ort.InferenceSession.create(hstuAttentionModel(table, heads, d, L), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
    const dims = [1, heads, L, d];
    const feeds = {
      q: new ort.Tensor("float32", headMajor(q!, L, heads, d), dims),
      k: new ort.Tensor("float32", headMajor(kk!, L, heads, d), dims),
      v: new ort.Tensor("float32", headMajor(v!, L, heads, d), dims),
      pos: new ort.Tensor("int64", BigInt64Array.from({ length: L }, (_, i) => BigInt(i)), [L]),
    };
    const theirs = await time(() => session.run(feeds), budget);
    const want = (await session.run(feeds)).out!.data as Float32Array;
    const got = headMajor(k.hstuAttention(args).data as Float32Array, L, heads, d);
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    await session.release();
    const f = 4 * heads * d * ((L * (L + 1)) / 2);
    section.add({
      L, "rankfn ms": ours.median * 1e3, "GFLOP/s": f / ours.median / 1e9, "% peak": (100 * f) / ours.median / 1e9 / peak,
      "ORT ms": theirs.median * 1e3, "ORT GFLOP/s": f / theirs.median / 1e9, "speed-up": theirs.median / ours.median,
      "max |Δ| vs ORT": diff.toExponential(1), "within 1e-4": diff <= 1e-4 ? "yes" : "NO",
    });
  }
}
