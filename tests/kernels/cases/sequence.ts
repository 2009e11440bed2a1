// Parity cases of the sequence kernels: jagged softmax and HSTU attention (every
// mask, empty histories and items, length 1, odd head widths, new queries over
// cached K/V, Q/K/V as column slices of one fused buffer, log-bucketed bias with
// and without explicit positions), the norm gate, token mixing, grouped GEMM and
// a whole HSTU layer composed from them.
import * as k from "../../../runtime/ffi";
import { Rng } from "../../../runtime/tensor/random";
import { type Tensor, columnSlice, tensor } from "../../../runtime/tensor/tensor";
import { type ParityCase, tolerance } from "../parity";
import * as ref from "../sequence-reference";
import { sequenceShardCases } from "./sequence-shards";

const i64 = (xs: number[]) => tensor("i64", [xs.length], BigInt64Array.from(xs, BigInt));
const offsets = (lens: number[]) => lens.reduce<number[]>((o, n) => [...o, o.at(-1)! + n], [0]);

interface Shape {
  heads: number;
  d: number;
  dv: number;
  qLens: number[];
  kvLens: number[];
  /** M-FALCON candidates per item (mask falcon). */
  cands?: number[];
  /** Q, K, V as column slices of one [rows, heads·(2d + dv)] buffer (self-attention: qLens == kvLens). */
  fused?: boolean;
}

const shapes: Shape[] = [
  { heads: 1, d: 1, dv: 1, qLens: [1], kvLens: [1] },
  { heads: 3, d: 5, dv: 7, qLens: [0, 5, 1, 17, 70], kvLens: [0, 5, 1, 17, 70] },
  { heads: 2, d: 16, dv: 8, qLens: [3, 0, 1, 50], kvLens: [10, 4, 1, 130] }, // new queries over cached K/V
  { heads: 2, d: 64, dv: 64, qLens: [97, 2], kvLens: [97, 2], fused: true },
  { heads: 2, d: 9, dv: 16, qLens: [6, 3, 1, 0], kvLens: [6, 3, 1, 0] },
  { heads: 1, d: 3, dv: 2, qLens: [4, 2], kvLens: [2, 0] }, // more queries than kv: the first see nothing (zeros)
];

// Many short items (the direct path, several tasks of them) beside long ones (the tiled path).
const manyLens = Array.from({ length: 300 }, (_, i) => (i * 7) % 10);
const manyShapes: Shape[] = [{ heads: 2, d: 24, dv: 40, qLens: [...manyLens, 150], kvLens: [...manyLens, 150] }];

const falconShapes: Shape[] = [
  // Full sequences (history queries causal, candidates see history + self), empty history, all candidates.
  { heads: 2, d: 7, dv: 5, qLens: [9, 4, 3, 1, 75], kvLens: [9, 4, 3, 1, 75], cands: [4, 4, 0, 1, 11] },
  // Candidates only, over cached history K/V (the M-FALCON microbatch).
  { heads: 3, d: 16, dv: 16, qLens: [5, 1, 3, 20], kvLens: [25, 1, 70, 20], cands: [5, 1, 3, 20] },
];

/**
 * Bias modes: none; index (default positions); positions (random, per token); shared (every query of an
 * item at one position, as M-FALCON candidates at the request's time: the kernel's per-column path);
 * wide (per token, 44 buckets, deltas of 2^e - 1, 2^e, 2^e + 1 up to 2^41: every bucket boundary, exactly).
 */
type RabMode = "none" | "index" | "positions" | "shared" | "wide";

function positionsOf(rab: RabMode, rng: Rng, s: Shape, totalQ: number, totalKv: number): { qPos?: number[]; kvPos?: number[] } {
  if (rab === "positions") return { qPos: Array.from({ length: totalQ }, () => rng.int(1000)), kvPos: Array.from({ length: totalKv }, () => rng.int(1000)) };
  if (rab !== "shared" && rab !== "wide") return {};
  const top = 2 ** 41;
  const qPos = s.qLens.flatMap((n) => {
    const at = rng.int(1000);
    return Array.from({ length: n }, () => (rab === "wide" ? top + rng.int(3) : at));
  });
  const kvPos = Array.from({ length: totalKv }, () => (rab === "wide" ? top - (2 ** rng.int(42) + rng.int(3) - 1) : rng.int(1000)));
  return { qPos, kvPos };
}

function problem(s: Shape, mask: ref.SeqMaskName, rab: RabMode, seed: number) {
  const rng = new Rng(seed);
  const totalQ = s.qLens.reduce((a, b) => a + b, 0);
  const totalKv = s.kvLens.reduce((a, b) => a + b, 0);
  const hd = s.heads * s.d, hv = s.heads * s.dv;
  let q: Float32Array, kk: Float32Array, v: Float32Array, ldq: number, ldk: number, ldv: number;
  let tensors: { q: Tensor; k: Tensor; v: Tensor };
  if (s.fused) {
    const ld = 2 * hd + hv;
    const qkv = tensor("f32", [totalQ, ld], rng.floats(totalQ * ld));
    q = qkv.data as Float32Array;
    kk = q.subarray(hd);
    v = q.subarray(2 * hd);
    ldq = ldk = ldv = ld;
    tensors = { q: columnSlice(qkv, 0, hd), k: columnSlice(qkv, hd, hd), v: columnSlice(qkv, 2 * hd, hv) };
  } else {
    q = rng.floats(totalQ * hd);
    kk = rng.floats(totalKv * hd);
    v = rng.floats(totalKv * hv);
    ldq = ldk = hd;
    ldv = hv;
    tensors = { q: tensor("f32", [totalQ, hd], q), k: tensor("f32", [totalKv, hd], kk), v: tensor("f32", [totalKv, hv], v) };
  }
  const buckets = rab === "wide" ? 44 : 6;
  const table = rng.floats(s.heads * buckets, -0.5, 0.5);
  const { qPos, kvPos } = positionsOf(rab, rng, s, totalQ, totalKv);
  const pr: ref.SeqProblem = {
    heads: s.heads, d: s.d, dv: s.dv, q, ldq, k: kk, ldk, v, ldv,
    qOffsets: offsets(s.qLens), kvOffsets: offsets(s.kvLens), mask, numCandidates: s.cands,
    scale: 1 / Math.sqrt(s.d), rab: rab === "none" ? undefined : { table, buckets, qPos, kvPos },
  };
  const args: k.SeqAttentionArgs = {
    ...tensors, heads: s.heads, qOffsets: i64(pr.qOffsets), kvOffsets: i64(pr.kvOffsets), mask,
    numCandidates: s.cands ? i64(s.cands) : undefined, scale: pr.scale,
    rab: rab === "none" ? undefined : { table: tensor("f32", [s.heads, buckets], table), qPos: qPos && i64(qPos), kvPos: kvPos && i64(kvPos) },
  };
  return { pr, args };
}

// Shapes with items past one kv tile, where the shared and wide bias modes reach the tiled paths.
const tiledShapes = new Set<Shape>([shapes[1]!, shapes[2]!, shapes[3]!, falconShapes[0]!, falconShapes[1]!, manyShapes[0]!]);

function attentionCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const configs: [Shape, ref.SeqMaskName][] = [
    ...shapes.flatMap((s) => [[s, "none"], [s, "causal"]] as [Shape, ref.SeqMaskName][]),
    ...falconShapes.map((s) => [s, "falcon"] as [Shape, ref.SeqMaskName]),
    ...manyShapes.flatMap((s) => [[s, "none"], [s, "causal"]] as [Shape, ref.SeqMaskName][]),
  ];
  configs.forEach(([s, mask], ci) => {
    (["none", "index", "positions", "shared", "wide"] as const).forEach((rab, ri) => {
      if (ri >= 3 && !tiledShapes.has(s)) return;
      const { pr, args } = problem(s, mask, rab, 7000 + ci * 10 + ri);
      const label = `H=${s.heads} d=${s.d} dv=${s.dv} q=[${s.qLens}] kv=[${s.kvLens}]${s.cands ? ` cands=[${s.cands}]` : ""} ${mask} rab=${rab}${s.fused ? " fused qkv" : ""}`;
      cases.push({ op: "seq_attention", dtype: "f32", label, tol: tolerance.f32, run: () => [k.seqAttention(args).data], expected: () => [ref.seqAttentionRef(pr, false)] });
      const normLen = ri === 2 ? Math.max(...s.kvLens) : 0;
      cases.push({
        op: "hstu_attention", dtype: "f32", label: `${label} normLen=${normLen}`, tol: tolerance.f32,
        run: () => [k.hstuAttention({ ...args, normLen }).data],
        expected: () => [ref.seqAttentionRef(pr, true, normLen)],
      });
    });
  });
  return cases;
}

function normGateCases(): ParityCase[] {
  return ([[1, 1], [3, 7], [17, 64], [5, 130], [0, 4]] as const).flatMap(([m, n], i) => {
    const rng = new Rng(8100 + i);
    const x = rng.floats(m * n, -2, 2), u = rng.floats(m * n);
    const gamma = i % 2 === 0 ? rng.floats(n) : null, beta = i % 3 === 0 ? rng.floats(n) : null;
    return [{
      op: "norm_gate", dtype: "f32", label: `m=${m} n=${n}${gamma ? " +gamma" : ""}${beta ? " +beta" : ""}`, tol: tolerance.f32,
      run: () => [k.normGate({ x: tensor("f32", [m, n], x), u: tensor("f32", [m, n], u), gamma: gamma ? tensor("f32", [n], gamma) : undefined, beta: beta ? tensor("f32", [n], beta) : undefined, eps: 1e-5 }).data],
      expected: () => [ref.normGateRef(x, u, m, n, gamma, beta, 1e-5)],
    } satisfies ParityCase];
  });
}

function tokenMixCases(): ParityCase[] {
  return ([[1, 1, 1, 1], [3, 4, 8, 4], [5, 3, 12, 4], [2, 16, 64, 16], [7, 5, 6, 1], [0, 2, 4, 2]] as const).map(([m, T, D, H], i) => {
    const x = new Rng(8200 + i).floats(m * T * D);
    return {
      op: "token_mix", dtype: "f32", label: `m=${m} T=${T} D=${D} H=${H}`, tol: 0,
      run: () => [k.tokenMix({ x: tensor("f32", [m, T * D], x), tokens: T, heads: H }).data],
      expected: () => [ref.tokenMixRef(x, m, T, D, H)],
    };
  });
}

function groupedGemmCases(): ParityCase[] {
  return ([[1, 1, 1, 1, "none"], [5, 3, 7, 9, "relu"], [33, 4, 16, 40, "silu"], [2, 16, 24, 24, "none"], [0, 2, 3, 4, "relu"]] as const).map(([m, G, kk, n, act], i) => {
    const rng = new Rng(8300 + i);
    const raw = Array.from({ length: G }, () => rng.floats(n * kk, -0.5, 0.5));
    const x = rng.floats(m * G * kk);
    const bias = i % 2 === 0 ? rng.floats(G * n) : null;
    return {
      op: "grouped_gemm", dtype: "f32", label: `m=${m} groups=${G} k=${kk} n=${n} act=${act}${bias ? " +bias" : ""}`, tol: tolerance.f32,
      run: () => {
        const ws = raw.map((w) => k.PackedWeight.pack(tensor("f32", [n, kk], w)));
        try {
          return [k.groupedGemm({ x: tensor("f32", [m, G * kk], x), w: ws, bias: bias ? tensor("f32", [G * n], bias) : undefined, act }).data];
        } finally {
          for (const w of ws) w.dispose();
        }
      },
      expected: () => [ref.groupedGemmRef(x, m, kk, raw, n, bias, act)],
    };
  });
}

/**
 * A whole HSTU layer from the kernels (existing GEMM + the new attention and norm gate):
 *   U, V, Q, K = split(SiLU(X·W1ᵀ)); Y = (LayerNorm(HSTU(Q, K, V)) ⊙ U)·W2ᵀ + X
 * with Q, K, V, U read in place as column slices of the one projection output.
 */
function hstuLayerCases(): ParityCase[] {
  const heads = 2, dh = 8, D = 12, lens = [5, 0, 1, 23];
  const n = lens.reduce((a, b) => a + b, 0);
  const rng = new Rng(8400);
  const w1 = rng.floats(4 * heads * dh * D, -0.3, 0.3), w2 = rng.floats(D * heads * dh, -0.3, 0.3), x = rng.floats(n * D);
  const hd = heads * dh, width = 4 * hd;
  const run = () => {
    const p1 = k.PackedWeight.pack(tensor("f32", [width, D], w1));
    const p2 = k.PackedWeight.pack(tensor("f32", [D, hd], w2));
    try {
      const X = tensor("f32", [n, D], x);
      const uvqk = k.gemm({ x: X, w: p1, act: "silu" });
      const o = i64(offsets(lens));
      const av = k.hstuAttention({ q: columnSlice(uvqk, 2 * hd, hd), k: columnSlice(uvqk, 3 * hd, hd), v: columnSlice(uvqk, hd, hd), qOffsets: o, kvOffsets: o, heads, mask: "causal" });
      const y = k.normGate({ x: av, u: columnSlice(uvqk, 0, hd) });
      return [k.gemm({ x: y, w: p2, residual: X }).data];
    } finally {
      p1.dispose();
      p2.dispose();
    }
  };
  const expected = () => {
    const uvqk = new Float32Array(n * width);
    const silu = (v: number) => v / (1 + Math.exp(-v));
    for (let i = 0; i < n; i++)
      for (let j = 0; j < width; j++) {
        let acc = 0;
        for (let c = 0; c < D; c++) acc += x[i * D + c]! * w1[j * D + c]!;
        uvqk[i * width + j] = silu(acc);
      }
    const pr: ref.SeqProblem = {
      heads, d: dh, dv: dh, q: uvqk.subarray(2 * hd), ldq: width, k: uvqk.subarray(3 * hd), ldk: width, v: uvqk.subarray(hd), ldv: width,
      qOffsets: offsets(lens), kvOffsets: offsets(lens), mask: "causal", scale: 1 / Math.sqrt(dh),
    };
    const av = ref.seqAttentionRef(pr, true);
    const u = new Float32Array(n * hd);
    for (let i = 0; i < n; i++) u.set(uvqk.subarray(i * width, i * width + hd), i * hd);
    const y = ref.normGateRef(Float32Array.from(av), u, n, hd, null, null, 1e-5);
    const out = new Float64Array(n * D);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < D; j++) {
        let acc = x[i * D + j]!;
        for (let c = 0; c < hd; c++) acc += y[i * hd + c]! * w2[j * hd + c]!;
        out[i * D + j] = acc;
      }
    return [out];
  };
  // The reference rounds the projection and attention outputs to f32 where the kernels store them.
  return [{ op: "hstu_layer", dtype: "f32", label: `H=${heads} dh=${dh} D=${D} lens=[${lens}] causal`, tol: tolerance.f32, run, expected }];
}

/** Every parity case of the sequence section. */
export function sequenceCases(): ParityCase[] {
  return [...attentionCases(), ...normGateCases(), ...tokenMixCases(), ...groupedGemmCases(), ...hstuLayerCases(), ...sequenceShardCases()];
}
