// Independent float64 reference implementations of every kernel, written from
// the pseudocode in kernels/include/rankfn.h. The C reference path (isa "ref")
// and every optimised path are checked against these.

export type Act = "none" | "relu" | "gelu" | "silu" | "sigmoid" | "tanh";

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for a reference: use a series / continued fraction.
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let sum = a;
    let term = a;
    for (let n = 1; n < 60; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz), accurate for a >= 2.5
    let f = a;
    for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function act(a: Act, x: number): number {
  switch (a) {
    case "relu": return x > 0 ? x : 0;
    case "gelu": return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "silu": return x / (1 + Math.exp(-x));
    case "sigmoid": return 1 / (1 + Math.exp(-x));
    case "tanh": return Math.tanh(x);
    default: return x;
  }
}

/** y = act(x·wᵀ + b) + r, x [m, k], w [n, k] (already dequantized). */
export function gemmRef(x: ArrayLike<number>, m: number, k: number, w: ArrayLike<number>, n: number, bias: ArrayLike<number> | null, a: Act, residual: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias[j]! : 0;
      for (let l = 0; l < k; l++) acc += x[i * k + l]! * w[j * k + l]!;
      y[i * n + j] = act(a, acc) + (residual ? residual[i * n + j]! : 0);
    }
  }
  return y;
}

/** DCN-v2 cross: y = x0 ⊙ (W x + b) + x with W [d, d] (or U [d, r] · V [r, d]). */
export function crossRef(x0: ArrayLike<number>, x: ArrayLike<number>, m: number, d: number, w: ArrayLike<number>, u: { data: ArrayLike<number>; r: number } | null, bias: ArrayLike<number> | null): Float64Array {
  let t: Float64Array;
  if (u) {
    const v = gemmRef(x, m, d, w, u.r, null, "none", null);
    t = gemmRef(v, m, u.r, u.data, d, bias, "none", null);
  } else {
    t = gemmRef(x, m, d, w, d, bias, "none", null);
  }
  const y = new Float64Array(m * d);
  for (let i = 0; i < m * d; i++) y[i] = x0[i]! * t[i]! + x[i]!;
  return y;
}

/** Pooled bags over an fp32 (already dequantized) table [rows, dim]. */
export function embeddingBagRef(table: ArrayLike<number>, dim: number, ids: ArrayLike<number | bigint>, offsets: ArrayLike<bigint>, weights: ArrayLike<number> | null, mode: "sum" | "mean" | "gather"): Float64Array {
  const bags = offsets.length - 1;
  const out = new Float64Array(bags * dim);
  for (let b = 0; b < bags; b++) {
    const start = Number(offsets[b]!);
    const end = Number(offsets[b + 1]!);
    for (let i = start; i < end; i++) {
      const row = Number(ids[i]!);
      const w = weights ? weights[i]! : 1;
      for (let c = 0; c < dim; c++) out[b * dim + c]! += w * table[row * dim + c]!;
    }
    if (mode === "mean" && end > start) for (let c = 0; c < dim; c++) out[b * dim + c]! /= end - start;
  }
  return out;
}

/** The GRU recurrence in float64, from ONNX's formulas with R untransposed (rt[k·3h + i] = R[i][k]). */
export function gruRef(gx: ArrayLike<number>, m: number, steps: number, h: number, rt: ArrayLike<number>, rb: ArrayLike<number> | null, lbr: boolean): Float64Array {
  const y = new Float64Array(m * steps * h);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const R = (i: number, k: number) => rt[k * 3 * h + i]!;
  const bias = (i: number) => (rb ? rb[i]! : 0);
  for (let b = 0; b < m; b++) {
    let hs = new Float64Array(h);
    for (let t = 0; t < steps; t++) {
      const g = (i: number) => gx[b * steps * 3 * h + t * 3 * h + i]!;
      const proj = (i: number, v: Float64Array) => v.reduce((acc, x, k) => acc + x * R(i, k), 0);
      const r = Float64Array.from({ length: h }, (_, i) => sig(g(h + i) + proj(h + i, hs) + bias(h + i)));
      const rh = hs.map((x, i) => x * r[i]!);
      const next = new Float64Array(h);
      for (let i = 0; i < h; i++) {
        const z = sig(g(i) + proj(i, hs) + bias(i));
        const n = Math.tanh(g(2 * h + i) + (lbr ? r[i]! * (proj(2 * h + i, hs) + bias(2 * h + i)) : proj(2 * h + i, rh) + bias(2 * h + i)));
        next[i] = (1 - z) * n + z * hs[i]!;
      }
      hs = next;
      y.set(hs, b * steps * h + t * h);
    }
  }
  return y;
}

export function interactionRef(x: ArrayLike<number>, m: number, f: number, d: number, concatDense: boolean, self: boolean): Float64Array {
  const width = (concatDense ? d : 0) + (self ? (f * (f + 1)) / 2 : (f * (f - 1)) / 2);
  const out = new Float64Array(m * width);
  for (let b = 0; b < m; b++) {
    let o = b * width;
    const v = (p: number, c: number) => x[b * f * d + p * d + c]!;
    if (concatDense) for (let c = 0; c < d; c++) out[o++] = v(0, c);
    for (let i = self ? 0 : 1; i < f; i++) {
      for (let j = 0; j < (self ? i + 1 : i); j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += v(i, c) * v(j, c);
        out[o++] = dot;
      }
    }
  }
  return out;
}

export function layerNormRef(x: ArrayLike<number>, m: number, n: number, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, eps: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += x[i * n + j]!;
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[i * n + j]! - mu) ** 2;
    v /= n;
    const inv = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) y[i * n + j] = (x[i * n + j]! - mu) * inv * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0);
  }
  return y;
}

export function rmsNormRef(x: ArrayLike<number>, m: number, n: number, gamma: ArrayLike<number> | null, eps: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += x[i * n + j]! ** 2;
    const inv = 1 / Math.sqrt(s / n + eps);
    for (let j = 0; j < n; j++) y[i * n + j] = x[i * n + j]! * inv * (gamma ? gamma[j]! : 1);
  }
  return y;
}

export function softmaxRef(x: ArrayLike<number>, m: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[i * n + j]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[i * n + j]! - max);
    for (let j = 0; j < n; j++) y[i * n + j] = Math.exp(x[i * n + j]! - max) / s;
  }
  return y;
}

/** Top-k per row: descending, ties to the lower index, NaN below every number. */
export function topkRef(x: ArrayLike<number>, m: number, n: number, k: number): { values: Float64Array; indices: Int32Array } {
  const values = new Float64Array(m * k);
  const indices = new Int32Array(m * k);
  for (let i = 0; i < m; i++) {
    const order = Array.from({ length: n }, (_, j) => j);
    const key = (j: number) => (Number.isNaN(x[i * n + j]!) ? -Infinity : x[i * n + j]!);
    order.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      const nanA = Number.isNaN(x[i * n + a]!);
      const nanB = Number.isNaN(x[i * n + b]!);
      if (nanA !== nanB) return nanA ? 1 : -1;
      return kb - ka || a - b;
    });
    for (let t = 0; t < k; t++) {
      indices[i * k + t] = order[t]!;
      values[i * k + t] = x[i * n + order[t]!]!;
    }
  }
  return { values, indices };
}

export function gatherRowsRef(src: ArrayLike<number>, d: number, idx: ArrayLike<number>, weights: ArrayLike<number> | null): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) for (let c = 0; c < d; c++) out[i * d + c] = (weights ? weights[i]! : 1) * src[idx[i]! * d + c]!;
  return out;
}

export function scatterAddRowsRef(src: ArrayLike<number>, d: number, idx: ArrayLike<number>, weights: ArrayLike<number> | null, dst: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(dst);
  for (let i = 0; i < idx.length; i++) for (let c = 0; c < d; c++) out[idx[i]! * d + c]! += (weights ? weights[i]! : 1) * src[i * d + c]!;
  return out;
}

export type BinaryName = "add" | "sub" | "mul" | "div" | "max" | "min";

export function binaryRef(op: BinaryName, a: number, b: number): number {
  switch (op) {
    case "add": return a + b;
    case "sub": return a - b;
    case "mul": return a * b;
    case "div": return a / b;
    case "max": return Math.max(a, b);
    default: return Math.min(a, b);
  }
}

/** DIN target attention, per candidate (rf_target_attention's pseudocode). */
export function targetAttentionRef(
  a: { n: number; T: number; d: number; h: number; q: ArrayLike<number>; keys: ArrayLike<number>; mask: ArrayLike<number>; req: ArrayLike<number>; qp: ArrayLike<number>; kp: ArrayLike<number>; wqk: ArrayLike<number>; w2: ArrayLike<number>; b2: number },
  actName: Act,
): Float64Array {
  const { n, T, d, h } = a;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const r = a.req[i]!;
    for (let t = 0; t < T; t++) {
      const m = a.mask[r * T + t]!;
      if (m === 0) continue;
      let score = a.b2;
      for (let j = 0; j < h; j++) {
        let acc = a.qp[i * h + j]! + a.kp[(r * T + t) * h + j]!;
        for (let c = 0; c < d; c++) acc += a.wqk[j * d + c]! * a.q[i * d + c]! * a.keys[r * T * d + t * d + c]!;
        score += a.w2[j]! * act(actName, acc);
      }
      for (let c = 0; c < d; c++) out[i * d + c]! += m * score * a.keys[r * T * d + t * d + c]!;
    }
  }
  return out;
}
