// Float64 reference of the general tensor kernels (rf_unary_nd .. rf_topk_axis),
// written from rankfn.h's pseudocode over logical row-major number arrays.
// Integer ops assume values small enough that no wrap-around happens.
import type { NdArray } from "../../runtime/ffi";
import { contiguous, numelOf, stridesOf } from "../../runtime/ffi";

/** The logical elements of a strided view, row-major, as numbers. */
export function dense(t: NdArray): number[] {
  const st = stridesOf(t);
  const n = numelOf(t.shape);
  const out = new Array<number>(n);
  const cs = contiguous(t.shape);
  for (let f = 0; f < n; f++) {
    let off = t.offset ?? 0;
    for (let d = 0; d < t.shape.length; d++) off += Math.floor(f / cs[d]!) % t.shape[d]! * st[d]!;
    out[f] = Number(t.data[off]!);
  }
  return out;
}

/** t read over the broadcast shape `to` (numpy rules). */
export function broadcastDense(t: NdArray, to: number[]): number[] {
  const v = dense(t);
  const lead = to.length - t.shape.length;
  const src = contiguous(t.shape);
  const cs = contiguous(to);
  return Array.from({ length: numelOf(to) }, (_, f) => {
    let off = 0;
    for (let d = 0; d < t.shape.length; d++) if (t.shape[d] !== 1) off += (Math.floor(f / cs[d + lead]!) % to[d + lead]!) * src[d]!;
    return v[off]!;
  });
}

export function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
    if (Math.abs(term) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const roundEven = (x: number) => {
  const r = Math.floor(x);
  const d = x - r;
  return d > 0.5 || (d === 0.5 && r % 2 !== 0) ? r + 1 : r;
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const truncDiv = (a: number, b: number) => Math.trunc(a / b);
const pyMod = (a: number, b: number) => {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
};

export function unaryRef(op: string, x: number, isInt: boolean, alpha: number, beta: number): number {
  const lo = isInt ? Math.round(alpha) : alpha;
  const hi = isInt ? Math.round(beta) : beta;
  switch (op) {
    case "neg": return -x;
    case "abs": return Math.abs(x);
    case "sqrt": return Math.sqrt(x);
    case "exp": return Math.exp(x);
    case "log": return Math.log(x);
    case "erf": return erf(x);
    case "relu": return x < 0 ? 0 : x;
    case "sigmoid": return sigmoid(x);
    case "tanh": return Math.tanh(x);
    case "not": return x ? 0 : 1;
    case "reciprocal": return 1 / x;
    case "floor": return Math.floor(x);
    case "ceil": return Math.ceil(x);
    case "sign": return x > 0 ? 1 : x < 0 ? -1 : x;
    case "clip": return Math.min(Math.max(x, lo), hi);
    case "leaky_relu": return x < 0 ? alpha * x : x;
    case "sin": return Math.sin(x);
    case "cos": return Math.cos(x);
    case "gelu": return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "silu": return x * sigmoid(x);
    case "round": return roundEven(x);
    case "isnan": return Number.isNaN(x) ? 1 : 0;
    case "softplus": return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    case "hardsigmoid": return Math.max(0, Math.min(1, alpha * x + beta));
    default: throw new Error(`unaryRef: ${op}`);
  }
}

function intPow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 ? -1 : 1) : 0;
  return a ** b;
}

const maxNan = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const minNan = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

export function binaryRef(op: string, a: number, b: number, isInt: boolean): number {
  switch (op) {
    case "add": return a + b;
    case "sub": return a - b;
    case "mul": return a * b;
    case "div": return isInt ? truncDiv(a, b) : a / b;
    case "pow": return isInt ? intPow(a, b) : a ** b;
    case "max": return maxNan(a, b);
    case "min": return minNan(a, b);
    case "mod": return pyMod(a, b);
    case "fmod": return a % b;
    case "eq": return a === b ? 1 : 0;
    case "lt": return a < b ? 1 : 0;
    case "le": return a <= b ? 1 : 0;
    case "gt": return a > b ? 1 : 0;
    case "ge": return a >= b ? 1 : 0;
    case "and": return a && b ? 1 : 0;
    case "or": return a || b ? 1 : 0;
    case "xor": return (a !== 0) !== (b !== 0) ? 1 : 0;
    default: throw new Error(`binaryRef: ${op}`);
  }
}

/** (to) x per rf_cast_nd: truncation toward zero, != 0 for bool, f32 rounding. */
export function castRef(x: number, to: string): number {
  if (to === "bool") return x !== 0 ? 1 : 0;
  if (to === "f32") return Math.fround(x);
  return Math.trunc(x);
}

/** rf_reduce over [outer, n, inner]. */
export function reduceRef(op: string, x: number[], outer: number, n: number, inner: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const v = Array.from({ length: n }, (_, j) => x[(o * n + j) * inner + i]!);
      const sum = (f: (t: number) => number) => v.reduce((s, t) => s + f(t), 0);
      const first = (better: (a: number, b: number) => boolean) => v.reduce((best, t, j) => (!Number.isNaN(v[best]!) && (Number.isNaN(t) || better(t, v[best]!)) ? j : best), 0);
      switch (op) {
        case "sum": out.push(sum((t) => t)); break;
        case "mean": out.push(sum((t) => t) / n); break;
        case "max": out.push(v.reduce(maxNan)); break;
        case "min": out.push(v.reduce(minNan)); break;
        case "prod": out.push(v.reduce((s, t) => s * t, 1)); break;
        case "l1": out.push(sum(Math.abs)); break;
        case "l2": out.push(Math.sqrt(sum((t) => t * t))); break;
        case "sum_square": out.push(sum((t) => t * t)); break;
        case "log_sum": out.push(Math.log(sum((t) => t))); break;
        case "log_sum_exp": {
          const mx = n ? v.reduce(maxNan) : -Infinity;
          out.push(Number.isFinite(mx) ? mx + Math.log(sum((t) => Math.exp(t - mx))) : mx);
          break;
        }
        case "argmax": out.push(first((a, b) => a > b)); break;
        case "argmin": out.push(first((a, b) => a < b)); break;
        default: throw new Error(`reduceRef: ${op}`);
      }
    }
  }
  return out;
}

export function softmaxRef(x: number[], outer: number, n: number, inner: number, log: boolean): number[] {
  const y = new Array<number>(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => (o * n + j) * inner + i;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, x[at(j)]!);
      let z = 0;
      for (let j = 0; j < n; j++) z += Math.exp(x[at(j)]! - mx);
      for (let j = 0; j < n; j++) y[at(j)] = log ? x[at(j)]! - mx - Math.log(z) : Math.exp(x[at(j)]! - mx) / z;
    }
  }
  return y;
}

/** Batched matmul of logical [batch, m, k] · [batch, k, n] (a batch of 1 broadcasts), + beta·y0. */
export function matmulRef(a: number[], ab: number, b: number[], bb: number, batch: number, m: number, n: number, k: number, beta: number, y0: number[] | null): number[] {
  const y = new Array<number>(batch * m * n).fill(0);
  for (let p = 0; p < batch; p++) {
    const pa = ab === 1 ? 0 : p;
    const pb = bb === 1 ? 0 : p;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) acc += a[(pa * m + i) * k + l]! * b[(pb * k + l) * n + j]!;
        const at = (p * m + i) * n + j;
        y[at] = acc + (beta !== 0 && y0 ? beta * y0[at]! : 0);
      }
    }
  }
  return y;
}

const wrapIndex = (t: number, len: number) => (t < 0 ? t + len : t);

export function gatherRef(x: number[], outer: number, len: number, inner: number, idx: number[], perOuter: boolean, numIdx: number): number[] {
  const y: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < numIdx; j++) {
      const t = wrapIndex(idx[(perOuter ? o * numIdx : 0) + j]!, len);
      for (let i = 0; i < inner; i++) y.push(x[(o * len + t) * inner + i]!);
    }
  }
  return y;
}

export function gatherElementsRef(x: number[], outer: number, nIn: number, nOut: number, inner: number, idx: number[]): number[] {
  return idx.map((t, at) => {
    const o = Math.floor(at / (nOut * inner));
    const i = at % inner;
    return x[(o * nIn + wrapIndex(t, nIn)) * inner + i]!;
  });
}

export function scatterNdRef(data: number[], shape: number[], idx: number[], depth: number, updates: number[], reduction: string): number[] {
  const y = data.slice();
  const slice = numelOf(shape.slice(depth));
  const count = idx.length / depth;
  for (let u = 0; u < count; u++) {
    let base = 0;
    for (let d = 0; d < depth; d++) base = base * shape[d]! + wrapIndex(idx[u * depth + d]!, shape[d]!);
    base *= slice;
    for (let e = 0; e < slice; e++) {
      const old = y[base + e]!;
      const v = updates[u * slice + e]!;
      y[base + e] = reduction === "add" ? old + v : reduction === "mul" ? old * v : reduction === "max" ? maxNan(old, v) : reduction === "min" ? minNan(old, v) : v;
    }
  }
  return y;
}

export function cumsumRef(x: number[], outer: number, n: number, inner: number, exclusive: boolean, reverse: boolean): number[] {
  const y = new Array<number>(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let s = 0; s < n; s++) {
        const at = (o * n + (reverse ? n - 1 - s : s)) * inner + i;
        if (exclusive) y[at] = acc;
        acc += x[at]!;
        if (!exclusive) y[at] = acc;
      }
    }
  }
  return y;
}

/** TopK along the middle axis: NaN ranks above every number, ties to the lower index. */
export function topkRef(x: number[], outer: number, n: number, inner: number, k: number, largest: boolean): { values: number[]; indices: number[] } {
  const values = new Array<number>(outer * k * inner);
  const indices = new Array<number>(outer * k * inner);
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const order = Array.from({ length: n }, (_, j) => j).sort((p, q) => {
        const vp = x[(o * n + p) * inner + i]!;
        const vq = x[(o * n + q) * inner + i]!;
        const np = Number.isNaN(vp);
        const nq = Number.isNaN(vq);
        if (np !== nq) return largest ? (np ? -1 : 1) : (np ? 1 : -1);
        const d = largest ? key(vq) - key(vp) : key(vp) - key(vq);
        return d !== 0 && !Number.isNaN(d) ? d : p - q;
      });
      for (let t = 0; t < k; t++) {
        values[(o * k + t) * inner + i] = x[(o * n + order[t]!) * inner + i]!;
        indices[(o * k + t) * inner + i] = order[t]!;
      }
    }
  }
  return { values, indices };
}
