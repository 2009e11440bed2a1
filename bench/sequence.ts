// `bun run bench sequence [--json] [--quick]`: the fused jagged attention kernel
// (rf_seq_attention, flash-style) alone at L = 256, 1024, 4096 (H = 4, and 8 at
// L = 1024; d = 64)
// as GFLOP/s and % of the fp32 FMA peak measured in this run, against the same
// math as ONNX ops (MatMul, Mul, Add mask, Softmax, MatMul) in onnxruntime-node;
// a jagged batch of mixed lengths vs its sequences run one by one (and vs ORT on
// the batch padded to its longest sequence); HSTU pointwise attention with its
// relative bias against the same math as ONNX ops (bench/sequence-hstu-attention.ts);
// the zoo hstu model ranking one batch of mixed history lengths vs each request alone
// and vs the batch padded to its longest (bench/sequence-jagged.ts);
// the zoo hstu and bst end to end at L = 256, 1024 (and 4096 without --quick) with 64, 512
// candidates, each against onnxruntime-node on the same model (bench/sequence-zoo.ts, bench/sequence-bst.ts).
// the zoo hstu with sequence parallelism over CPU core groups at L = 8192 (2048 with --quick):
// 1 device × 1 core vs 2 devices × 1 core, and the attention kernel split in 2 (bench/sequence-parallel.ts).
// `--kv`: the user-history KV cache over a stream of returning users instead (bench/sequence-kv.ts);
// `--sp`: the sequence-parallel sections alone; `--jagged`: the zoo jagged-batch sections alone.
import * as ort from "onnxruntime-node";
import * as k from "../runtime/ffi";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import { F32, OnnxGraph } from "./onnx-graph";
import { Report } from "./report";
import { zooBstSection } from "./sequence-bst";
import { hstuAttentionSection } from "./sequence-hstu-attention";
import { jaggedBstSection, jaggedHstuSection } from "./sequence-jagged";
import { zooHstuSection } from "./sequence-zoo";
import { sequenceParallelSection } from "./sequence-parallel";
import { progress, time } from "./timing";

const D = 64;
const THREADS = 2;

const i64 = (xs: number[]) => tensor("i64", [xs.length], BigInt64Array.from(xs, BigInt));
const offsets = (lens: number[]) => lens.reduce<number[]>((o, n) => [...o, o.at(-1)! + n], [0]);

/** softmax(Q·Kᵀ · scale + mask) · V over [B, H, L, d], the unfused way an exporter writes attention. */
function attentionModel(heads: number, d: number): Uint8Array {
  const g = new OnnxGraph("a");
  const q = g.input("q", F32, ["B", heads, "L", d]);
  const kk = g.input("k", F32, ["B", heads, "L", d]);
  const v = g.input("v", F32, ["B", heads, "L", d]);
  const mask = g.input("mask", F32, ["B", 1, "L", "L"]);
  const s = g.op("MatMul", [q, g.op("Transpose", [kk], { perm: { ints: [0, 1, 3, 2] } })]);
  const p = g.op("Softmax", [g.op("Add", [g.op("Mul", [s, g.scalar(1 / Math.sqrt(d))]), mask])], { axis: -1 });
  g.nodes.push({ opType: "MatMul", name: "out", input: [p, v], output: ["out"] });
  g.output("out", F32, ["B", heads, "L", d]);
  return g.encode("attention");
}

/** [rows, H·d] token-major (the kernel's layout) -> [B, H, Lmax, d] padded (ORT's), item b's rows from off[b]. */
function toHeadMajor(x: Float32Array, lens: number[], heads: number, d: number, lmax: number): Float32Array {
  const out = new Float32Array(lens.length * heads * lmax * d);
  const off = offsets(lens);
  lens.forEach((n, b) => {
    for (let t = 0; t < n; t++)
      for (let h = 0; h < heads; h++) out.set(x.subarray((off[b]! + t) * heads * d + h * d, (off[b]! + t) * heads * d + (h + 1) * d), ((b * heads + h) * lmax + t) * d);
  });
  return out;
}

/** Additive mask [B, 1, Lmax, Lmax]: 0 where item b's key exists (and, causal, j <= i), else -1e9. */
function additiveMask(lens: number[], lmax: number, causal: boolean): Float32Array {
  const m = new Float32Array(lens.length * lmax * lmax);
  lens.forEach((n, b) => {
    for (let i = 0; i < lmax; i++) for (let j = 0; j < lmax; j++) if (j >= n || (causal && j > i)) m[(b * lmax + i) * lmax + j] = -1e9;
  });
  return m;
}

interface Problem {
  lens: number[];
  heads: number;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  qo: Tensor;
}

function problem(rng: Rng, lens: number[], heads: number): Problem {
  const rows = lens.reduce((a, b) => a + b, 0);
  const mk = () => tensor("f32", [rows, heads * D], rng.floats(rows * heads * D));
  return { lens, heads, q: mk(), k: mk(), v: mk(), qo: i64(offsets(lens)) };
}

const flops = (lens: number[], heads: number, causal: boolean) => lens.reduce((s, n) => s + 4 * heads * D * (causal ? (n * (n + 1)) / 2 : n * n), 0);
const fused = (p: Problem, mask: "none" | "causal") => k.seqAttention({ q: p.q, k: p.k, v: p.v, qOffsets: p.qo, kvOffsets: p.qo, heads: p.heads, mask });

async function ortRun(session: ort.InferenceSession, p: Problem, causal: boolean) {
  const lmax = Math.max(...p.lens);
  const dims = [p.lens.length, p.heads, lmax, D];
  const feeds = {
    q: new ort.Tensor("float32", toHeadMajor(p.q.data as Float32Array, p.lens, p.heads, D, lmax), dims),
    k: new ort.Tensor("float32", toHeadMajor(p.k.data as Float32Array, p.lens, p.heads, D, lmax), dims),
    v: new ort.Tensor("float32", toHeadMajor(p.v.data as Float32Array, p.lens, p.heads, D, lmax), dims),
    mask: new ort.Tensor("float32", additiveMask(p.lens, lmax, causal), [p.lens.length, 1, lmax, lmax]),
  };
  const once = async () => (await session.run(feeds)).out!.data as Float32Array;
  return { once, lmax };
}

/** Max |rankfn - ORT| over the real (unpadded) rows. */
function maxDiff(ours: Float32Array, theirs: Float32Array, p: Problem, lmax: number): number {
  const mine = toHeadMajor(ours, p.lens, p.heads, D, lmax);
  let worst = 0;
  p.lens.forEach((n, b) => {
    for (let h = 0; h < p.heads; h++)
      for (let t = 0; t < n; t++)
        for (let c = 0; c < D; c++) {
          const i = ((b * p.heads + h) * lmax + t) * D + c;
          worst = Math.max(worst, Math.abs(mine[i]! - theirs[i]!));
        }
  });
  return worst;
}

export async function main(args: string[]): Promise<void> {
  // The user-history KV cache's end-to-end section runs on its own (bench/sequence-kv.ts).
  if (args.includes("--kv")) return (await import("./sequence-kv")).main(args);
  if (args.includes("--sp")) return (await import("./sequence-parallel")).main(args);
  if (args.includes("--jagged")) return (await import("./sequence-jagged")).main(args);
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const report = new Report("sequence");
  const rng = new Rng(7);
  k.setNumThreads(THREADS);
  progress("probing the fp32 FMA peak");
  const peak = k.probePeakGflops(THREADS, "f32");
  report.fact("backend", k.loadLibrary().backend);
  report.fact("threads", THREADS);
  report.fact(`fp32 peak GFLOP/s (${THREADS} threads, measured now)`, peak);
  const sessions = new Map<number, ort.InferenceSession>();
  for (const heads of [4, 8]) {
    sessions.set(heads, await ort.InferenceSession.create(attentionModel(heads, D), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" }));
  }
  const session = sessions.get(4)!;
  const budget = { warmup: 1, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 };

  const single = report.section(`fused attention, one sequence, d = ${D}`);
  single.note("GFLOP/s counts 4·H·d per visible (query, key) pair (Q·Kᵀ and P·V); % peak: of the fp32 peak above");
  single.note("ORT: MatMul, Mul, Add mask, Softmax, MatMul over [1, H, L, d] in onnxruntime-node, same threads; its inputs are pre-laid-out head-major");
  single.note("target: fused attention at L >= 512 >= 50% of the measured fp32 peak");
  const singles: [number, number][] = quick ? [[256, 4], [1024, 4]] : [[256, 4], [1024, 4], [1024, 8], [4096, 4]];
  for (const [L, heads] of singles) {
    const p = problem(rng, [L], heads);
    for (const mask of ["none", "causal"] as const) {
      if (mask === "causal" && (L === 256 || heads === 8)) continue;
      progress(`fused attention L=${L} H=${heads} ${mask}`);
      const f = flops([L], heads, mask === "causal");
      const ours = await time(() => fused(p, mask), budget);
      const o = await ortRun(sessions.get(heads)!, p, mask === "causal");
      const theirs = await time(o.once, budget);
      const diff = maxDiff(fused(p, mask).data as Float32Array, await o.once(), p, o.lmax);
      single.add({
        L, H: heads, mask, "rankfn ms": ours.median * 1e3, "GFLOP/s": f / ours.median / 1e9, "% peak": (100 * f) / ours.median / 1e9 / peak,
        "ORT ms": theirs.median * 1e3, "ORT GFLOP/s": f / theirs.median / 1e9, "speed-up": theirs.median / ours.median, "max |Δ| vs ORT": diff.toExponential(1),
      });
    }
  }

  const lens = quick ? [700, 300, 129, 64, 17, 1] : [1500, 1024, 600, 333, 200, 77, 31, 1];
  const jag = report.section(`jagged batch, H = 4, d = ${D}, lengths [${lens.join(", ")}], causal`);
  jag.note("alone: the sum of each sequence timed by itself (same kernel); target: batch / alone <= 1.1");
  jag.note(`ORT padded: the same batch padded to ${Math.max(...lens)} with an additive mask (the work a padded layout pays for)`);
  {
    const p = problem(rng, lens, 4);
    const f = flops(lens, 4, true);
    progress("jagged batch");
    const batch = await time(() => fused(p, "causal"), budget);
    let alone = 0;
    const rows = offsets(lens);
    for (let b = 0; b < lens.length; b++) {
      const slice = (t: Tensor) => tensor("f32", [lens[b]!, 4 * D], (t.data as Float32Array).slice(rows[b]! * 4 * D, rows[b + 1]! * 4 * D));
      const one: Problem = { lens: [lens[b]!], heads: 4, q: slice(p.q), k: slice(p.k), v: slice(p.v), qo: i64([0, lens[b]!]) };
      alone += (await time(() => fused(one, "causal"), { ...budget, minSeconds: 0.1 })).median;
    }
    const o = await ortRun(session, p, true);
    const padded = await time(o.once, budget);
    const diff = maxDiff(fused(p, "causal").data as Float32Array, await o.once(), p, o.lmax);
    jag.add({
      tokens: lens.reduce((a, b) => a + b, 0), "batch ms": batch.median * 1e3, "alone ms": alone * 1e3, "batch / alone": batch.median / alone,
      "GFLOP/s": f / batch.median / 1e9, "% peak": (100 * f) / batch.median / 1e9 / peak, "ORT padded ms": padded.median * 1e3,
      "speed-up vs ORT": padded.median / batch.median, "max |Δ| vs ORT": diff.toExponential(1),
    });
  }

  await hstuAttentionSection(report, rng, peak, THREADS, quick);
  await jaggedHstuSection(report, THREADS, quick);
  await jaggedBstSection(report, THREADS, quick);
  await zooHstuSection(report, peak, THREADS, quick);
  await zooBstSection(report, peak, THREADS, quick);
  await sequenceParallelSection(report, quick);
  report.print(json);
}
