// Parity cases of sequence parallelism's kernels: rf_seq_attention_lse (the
// log-sum-exp output), rf_attention_merge (random parts, empty parts), and
// attention over a history split into kv shards — unequal, empty, length 1 —
// each shard with its absolute key positions, merged (softmax: LSE rescaling;
// HSTU: a sum under the global normLen) against the unsplit float64
// reference; and causal self-attention split into zig-zag query blocks. On
// every backend (CPU and OpenCL).
import * as k from "../../../runtime/ffi";
import { Rng } from "../../../runtime/tensor/random";
import { tensor } from "../../../runtime/tensor/tensor";
import { type ParityCase, tolerance } from "../parity";
import * as ref from "../sequence-reference";

const i64 = (xs: number[]) => tensor("i64", [xs.length], BigInt64Array.from(xs, BigInt));

/** Per (row, head) log-sum-exp of one item's visible scores (mask none / causal), float64; -inf where nothing is visible. */
function lseRef(pr: ref.SeqProblem): Float64Array {
  const nq = pr.qOffsets[1]!, nk = pr.kvOffsets[1]!;
  const out = new Float64Array(nq * pr.heads).fill(-Infinity);
  for (let h = 0; h < pr.heads; h++)
    for (let i = 0; i < nq; i++) {
      const p = i + nk - nq;
      const s: number[] = [];
      for (let j = 0; j < nk; j++) {
        if (!ref.seqVisible(pr.mask, p, j, nk)) continue;
        let acc = 0;
        for (let c = 0; c < pr.d; c++) acc += pr.q[i * pr.ldq + h * pr.d + c]! * pr.k[j * pr.ldk + h * pr.d + c]!;
        acc *= pr.scale;
        if (pr.rab) acc += pr.rab.table[h * pr.rab.buckets + ref.seqBucket(pr.rab.qPos ? pr.rab.qPos[i]! : p, pr.rab.kvPos ? pr.rab.kvPos[j]! : j, pr.rab.buckets)]!;
        s.push(acc);
      }
      if (s.length === 0) continue;
      const mx = Math.max(...s);
      out[i * pr.heads + h] = mx + Math.log(s.reduce((a, x) => a + Math.exp(x - mx), 0));
    }
  return out;
}

/** -inf as 0 plus a separate 0/1 mask, so the normalised error compares finite numbers only. */
const split = (x: ArrayLike<number>) => [Array.from(x, (v) => (v === -Infinity ? 0 : v)), Array.from(x, (v) => (v === -Infinity ? 1 : 0))];

interface Shard {
  heads: number;
  d: number;
  dv: number;
  nq: number;
  /** kv rows per shard (their sum is the history length). */
  shards: number[];
}

const shardShapes: Shard[] = [
  { heads: 1, d: 1, dv: 1, nq: 1, shards: [1] }, // length 1
  { heads: 2, d: 5, dv: 7, nq: 3, shards: [5, 0, 12] }, // an empty shard in the middle
  { heads: 3, d: 16, dv: 8, nq: 9, shards: [97, 103] }, // unequal, each past one kv tile
  { heads: 2, d: 9, dv: 16, nq: 1, shards: [1, 69] }, // a shard of one key
  { heads: 1, d: 4, dv: 4, nq: 4, shards: [0, 0] }, // no history at all: zeros
  { heads: 2, d: 24, dv: 40, nq: 13, shards: [0, 150, 7] }, // a leading empty shard
];

type ShardRab = "none" | "index" | "positions";

/** One item of nq candidates over the whole history (mask none) and its shards' calls. */
function shardProblem(s: Shard, rab: ShardRab, seed: number) {
  const rng = new Rng(seed);
  const nk = s.shards.reduce((a, b) => a + b, 0);
  const hd = s.heads * s.d, hv = s.heads * s.dv;
  const q = rng.floats(s.nq * hd), kk = rng.floats(nk * hd), v = rng.floats(nk * hv);
  const buckets = 7;
  const table = rng.floats(s.heads * buckets, -0.5, 0.5);
  // Absolute positions: the defaults (queries at nk - nq + i, key j at j) spelled out, or random ones.
  const qPos = rab === "positions" ? Array.from({ length: s.nq }, () => rng.int(500)) : Array.from({ length: s.nq }, (_, i) => nk - s.nq + i);
  const kvPos = rab === "positions" ? Array.from({ length: nk }, () => rng.int(500)) : Array.from({ length: nk }, (_, j) => j);
  const pr: ref.SeqProblem = {
    heads: s.heads, d: s.d, dv: s.dv, q, ldq: hd, k: kk, ldk: hd, v, ldv: hv, qOffsets: [0, s.nq], kvOffsets: [0, nk], mask: "none",
    scale: 1 / Math.sqrt(s.d), rab: rab === "none" ? undefined : { table, buckets, ...(rab === "positions" ? { qPos, kvPos } : {}) },
  };
  let lo = 0;
  const calls = s.shards.map((n) => {
    const args: k.SeqAttentionArgs = {
      q: tensor("f32", [s.nq, hd], q), k: tensor("f32", [n, hd], kk.slice(lo * hd, (lo + n) * hd)), v: tensor("f32", [n, hv], v.slice(lo * hv, (lo + n) * hv)),
      heads: s.heads, qOffsets: i64([0, s.nq]), kvOffsets: i64([0, n]), mask: "none", scale: pr.scale,
      rab: rab === "none" ? undefined : { table: tensor("f32", [s.heads, buckets], table), qPos: i64(qPos), kvPos: i64(kvPos.slice(lo, lo + n)) },
    };
    lo += n;
    return args;
  });
  return { pr, calls, nk };
}

function shardCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  shardShapes.forEach((s, si) => {
    (["none", "index", "positions"] as const).forEach((rab, ri) => {
      const { pr, calls, nk } = shardProblem(s, rab, 9100 + si * 10 + ri);
      const label = `H=${s.heads} d=${s.d} dv=${s.dv} q=${s.nq} shards=[${s.shards}] rab=${rab}`;
      cases.push({
        op: "seq_attention_shards", dtype: "f32", label, tol: tolerance.f32,
        run: () => {
          const parts = calls.map((c) => k.seqAttentionLse(c));
          return [k.attentionMerge({ parts: parts.map((p) => p.out), lse: parts.map((p) => p.lse), heads: s.heads }).data];
        },
        expected: () => [ref.seqAttentionRef(pr, false)],
      });
      const normLen = ri === 2 ? nk + 5 : nk; // the global divisor: every shard divides by the whole history's n
      cases.push({
        op: "hstu_attention_shards", dtype: "f32", label: `${label} normLen=${normLen}`, tol: tolerance.f32,
        run: () => [k.attentionMerge({ parts: calls.map((c) => k.hstuAttention({ ...c, normLen: Math.max(normLen, 1) })), heads: s.heads }).data],
        expected: () => [ref.seqAttentionRef(pr, true, Math.max(normLen, 1))],
      });
      // The lse output itself, unsplit, for mask none and causal (one item, nq == nk for causal).
      for (const mask of ["none", "causal"] as const) {
        const full = { ...pr, mask, ...(mask === "causal" ? { q: pr.k, ldq: pr.ldk, qOffsets: [0, nk] } : {}) };
        const args: k.SeqAttentionArgs = {
          q: tensor("f32", [full.qOffsets[1]!, s.heads * s.d], full.q), k: tensor("f32", [nk, s.heads * s.d], pr.k), v: tensor("f32", [nk, s.heads * s.dv], pr.v),
          heads: s.heads, qOffsets: i64(full.qOffsets), kvOffsets: i64([0, nk]), mask, scale: pr.scale,
          rab: pr.rab && { table: tensor("f32", [s.heads, pr.rab.buckets], pr.rab.table), ...(pr.rab.qPos && mask === "none" ? { qPos: i64(pr.rab.qPos), kvPos: i64(pr.rab.kvPos!) } : {}) },
        };
        if (mask === "causal" && full.rab?.qPos) full.rab = { table: full.rab.table, buckets: full.rab.buckets };
        cases.push({
          op: "seq_attention_lse", dtype: "f32", label: `${label} ${mask} (unsplit)`, tol: tolerance.f32,
          run: () => {
            const r = k.seqAttentionLse(args);
            return [r.out.data, ...split(r.lse.data)];
          },
          expected: () => [ref.seqAttentionRef(full, false), ...split(lseRef(full))],
        });
      }
    });
  });
  return cases;
}

/** Random parts and lse (some parts empty: -inf) merged against the float64 formula of rankfn.h. */
function mergeCases(): ParityCase[] {
  return ([[1, 1, 1, 1], [3, 5, 2, 7], [2, 17, 3, 16], [4, 0, 2, 3], [5, 33, 1, 40]] as const).flatMap(([parts, rows, heads, dv], ci) => {
    const rng = new Rng(9300 + ci);
    const xs = Array.from({ length: parts }, () => rng.floats(rows * heads * dv));
    const lses = Array.from({ length: parts }, (_, p) => Float32Array.from({ length: rows * heads }, (_, i) => ((i + p) % 4 === 3 ? -Infinity : rng.uniform(-20, 20))));
    const expected = (softmax: boolean) => {
      const out = new Float64Array(rows * heads * dv);
      for (let t = 0; t < rows * heads; t++) {
        const m = softmax ? Math.max(...lses.map((l) => l[t]!)) : 0;
        if (m === -Infinity) continue;
        const w = lses.map((l) => (softmax ? Math.exp(l[t]! - m) : 1));
        const sum = softmax ? w.reduce((a, b) => a + b, 0) : 1;
        for (let c = 0; c < dv; c++) out[t * dv + c] = xs.reduce((a, x, p) => a + w[p]! * x[t * dv + c]!, 0) / sum;
      }
      return out;
    };
    const ts = () => xs.map((x) => tensor("f32", [rows, heads * dv], x));
    const label = `parts=${parts} rows=${rows} heads=${heads} dv=${dv}`;
    return [
      { op: "attention_merge", dtype: "f32", label: `${label} lse`, tol: tolerance.f32, run: () => [k.attentionMerge({ parts: ts(), lse: lses.map((l) => tensor("f32", [rows, heads], l)), heads }).data], expected: () => [expected(true)] },
      { op: "attention_merge", dtype: "f32", label: `${label} sum`, tol: tolerance.f32, run: () => [k.attentionMerge({ parts: ts(), heads }).data], expected: () => [expected(false)] },
    ] satisfies ParityCase[];
  });
}

/** Causal self-attention of one history split into 2S query blocks, block i and 2S-1-i on "device" i: each row equals the unsplit reference. */
function zigzagCases(): ParityCase[] {
  return ([[1, 2, 3, 3, 1], [40, 2, 8, 8, 2], [203, 3, 16, 8, 3], [5, 1, 4, 4, 4]] as const).map(([n, heads, d, dv, S], ci) => {
    const rng = new Rng(9400 + ci);
    const q = rng.floats(n * heads * d), kk = rng.floats(n * heads * d), v = rng.floats(n * heads * dv);
    const table = rng.floats(heads * 6, -0.5, 0.5);
    const pr: ref.SeqProblem = { heads, d, dv, q, ldq: heads * d, k: kk, ldk: heads * d, v, ldv: heads * dv, qOffsets: [0, n], kvOffsets: [0, n], mask: "causal", scale: 0.3, rab: { table, buckets: 6 } };
    return {
      op: "hstu_attention_zigzag", dtype: "f32", label: `n=${n} H=${heads} d=${d} dv=${dv} devices=${S}`, tol: tolerance.f32,
      run: () => {
        const out = new Float32Array(n * heads * dv);
        const blocks = 2 * S;
        const bounds = Array.from({ length: blocks + 1 }, (_, b) => Math.round((b * n) / blocks));
        for (let dev = 0; dev < S; dev++) {
          for (const b of [dev, blocks - 1 - dev]) {
            const [i0, i1] = [bounds[b]!, bounds[b + 1]!];
            if (i1 === i0) continue; // an empty block (more blocks than rows)
            // Queries [i0, i1) over kv [0, i1): aligned to the end, so they sit at positions i0.. (causal).
            const r = k.hstuAttention({
              q: tensor("f32", [i1 - i0, heads * d], q.slice(i0 * heads * d, i1 * heads * d)), k: tensor("f32", [i1, heads * d], kk.slice(0, i1 * heads * d)),
              v: tensor("f32", [i1, heads * dv], v.slice(0, i1 * heads * dv)), heads, qOffsets: i64([0, i1 - i0]), kvOffsets: i64([0, i1]), mask: "causal", scale: 0.3, normLen: n,
              rab: { table: tensor("f32", [heads, 6], table) },
            });
            out.set(r.data, i0 * heads * dv);
          }
        }
        return [out];
      },
      expected: () => [ref.seqAttentionRef(pr, true, n)],
    };
  });
}

/** Every parity case of the sequence-parallel kernels. */
export function sequenceShardCases(): ParityCase[] {
  return [...shardCases(), ...mergeCases(), ...zigzagCases()];
}
