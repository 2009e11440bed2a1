// Float64 references of the sequence kernels, written from rankfn.h's sequence
// section: jagged softmax / HSTU attention (masks, log-bucketed bias), the norm
// gate, RankMixer token mixing and grouped GEMM.

export type SeqMaskName = "none" | "causal" | "falcon";

/** A jagged attention problem in plain arrays (rows of every head side by side). */
export interface SeqProblem {
  heads: number;
  d: number;
  dv: number;
  /** q [totalQ][ldq], k [totalKv][ldk], v [totalKv][ldv]; head h at column h·d (h·dv). */
  q: Float32Array;
  ldq: number;
  k: Float32Array;
  ldk: number;
  v: Float32Array;
  ldv: number;
  qOffsets: number[];
  kvOffsets: number[];
  mask: SeqMaskName;
  numCandidates?: number[];
  scale: number;
  rab?: { table: Float32Array; buckets: number; qPos?: number[]; kvPos?: number[] };
}

/** The bucket of rankfn.h: the bit width of |qp - kp|, clamped to buckets - 1. */
export function seqBucket(qp: number, kp: number, buckets: number): number {
  const delta = Math.abs(qp - kp); // exact: positions stay below 2^53
  const b = delta === 0 ? 0 : delta.toString(2).length; // the bit width, exact where log2 rounds up near 2^k
  return Math.min(b, buckets - 1);
}

/** Whether query position p of an item (nk kv, nh history) sees kv j. */
export function seqVisible(mask: SeqMaskName, p: number, j: number, nh: number): boolean {
  if (mask === "none") return true;
  if (p < 0) return false;
  if (mask === "causal") return j <= p;
  return p < nh ? j <= p : j < nh || j === p;
}

/** out [totalQ][heads·dv]: softmax attention, or HSTU's SiLU(s)/n when `pointwise` (n = normLen || nk). */
export function seqAttentionRef(pr: SeqProblem, pointwise: boolean, normLen = 0): Float64Array {
  const { heads, d, dv } = pr;
  const totalQ = pr.qOffsets.at(-1)!;
  const out = new Float64Array(totalQ * heads * dv);
  for (let b = 0; b + 1 < pr.qOffsets.length; b++) {
    const q0 = pr.qOffsets[b]!, nq = pr.qOffsets[b + 1]! - q0;
    const k0 = pr.kvOffsets[b]!, nk = pr.kvOffsets[b + 1]! - k0;
    const nh = pr.mask === "falcon" ? nk - pr.numCandidates![b]! : nk;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const p = i + nk - nq;
        const scores: number[] = [];
        const js: number[] = [];
        for (let j = 0; j < nk; j++) {
          if (!seqVisible(pr.mask, p, j, nh)) continue;
          let s = 0;
          for (let c = 0; c < d; c++) s += pr.q[(q0 + i) * pr.ldq + h * d + c]! * pr.k[(k0 + j) * pr.ldk + h * d + c]!;
          s *= pr.scale;
          if (pr.rab) {
            const qp = pr.rab.qPos ? pr.rab.qPos[q0 + i]! : p;
            const kp = pr.rab.kvPos ? pr.rab.kvPos[k0 + j]! : j;
            s += pr.rab.table[h * pr.rab.buckets + seqBucket(qp, kp, pr.rab.buckets)]!;
          }
          scores.push(s);
          js.push(j);
        }
        if (scores.length === 0) continue;
        let w: number[];
        if (pointwise) {
          const n = normLen > 0 ? normLen : nk;
          w = scores.map((s) => s / (1 + Math.exp(-s)) / n);
        } else {
          const mx = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - mx));
          const sum = e.reduce((x, y) => x + y, 0);
          w = e.map((x) => x / sum);
        }
        const o = (q0 + i) * heads * dv + h * dv;
        js.forEach((j, t) => {
          for (let c = 0; c < dv; c++) out[o + c]! += w[t]! * pr.v[(k0 + j) * pr.ldv + h * dv + c]!;
        });
      }
    }
  }
  return out;
}

/** y = LayerNorm(x) ⊙ u per row of n. */
export function normGateRef(x: Float32Array, u: Float32Array, m: number, n: number, gamma: Float32Array | null, beta: Float32Array | null, eps: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += x[i * n + j]!;
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[i * n + j]! - mu) ** 2;
    v /= n;
    const sd = Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) y[i * n + j] = ((x[i * n + j]! - mu) / sd * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0)) * u[i * n + j]!;
  }
  return y;
}

/** RankMixer token mixing: y[i][h·T·dh + t·dh + c] = x[i][t·D + h·dh + c]. */
export function tokenMixRef(x: Float32Array, m: number, T: number, D: number, H: number): Float64Array {
  const dh = D / H;
  const y = new Float64Array(m * T * D);
  for (let i = 0; i < m; i++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let c = 0; c < dh; c++) y[i * T * D + h * T * dh + t * dh + c] = x[i * T * D + t * D + h * dh + c]!;
  return y;
}

const actFns: Record<string, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => (x > 0 ? x : 0),
  silu: (x) => x / (1 + Math.exp(-x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
};

/** y [m][G·n] = act(x_g · W_gᵀ + bias_g) for x [m][G·k], weights W_g [n][k] (already dequantized). */
export function groupedGemmRef(x: Float32Array, m: number, k: number, ws: Float32Array[], n: number, bias: Float32Array | null, act: string): Float64Array {
  const G = ws.length;
  const f = actFns[act]!;
  const y = new Float64Array(m * G * n);
  for (let g = 0; g < G; g++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = bias ? bias[g * n + j]! : 0;
        for (let l = 0; l < k; l++) acc += x[i * G * k + g * k + l]! * ws[g]![j * k + l]!;
        y[i * G * n + g * n + j] = f(acc);
      }
  return y;
}
