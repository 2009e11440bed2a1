// Shared pieces of the MoE tests: random experts (W1 → relu → W2), native
// buffers (queued commands need addresses that never move), and a float64
// reference of a mixture over explicit routing.
import * as k from "../../runtime/ffi";
import type { ExpertLinear } from "../../runtime/moe/expert-layer";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";

export const D = 24;
export const H = 40;
export const OUT = 20;

export function randomExperts(count: number, seed = 3): ExpertLinear[][] {
  const rng = new Rng(seed);
  const t = (shape: number[], scale: number) => tensor("f32", shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-scale, scale)));
  return Array.from({ length: count }, () => [
    { w: t([H, D], 0.4), b: t([H], 0.1), act: 1 }, // relu
    { w: t([OUT, H], 0.3), b: t([OUT], 0.1), act: 0 },
  ]);
}

const owned: k.DeviceBuffer[] = [];
export function nativeF32(n: number, fill?: (i: number) => number): Float32Array {
  const b = new k.DeviceBuffer(0, Math.max(4, n * 4));
  owned.push(b);
  const a = new Float32Array(b.view(), 0, n).fill(0);
  if (fill) for (let i = 0; i < n; i++) a[i] = fill(i);
  return a;
}
export function freeNative(): void {
  for (const b of owned.splice(0)) b.dispose();
}

/** Float64 expert(x) for one row. */
export function expertRow(layers: ExpertLinear[], x: ArrayLike<number>): Float64Array {
  let v = Float64Array.from(x);
  for (const l of layers) {
    const [n, kk] = l.w.shape as [number, number];
    const w = l.w.data as Float32Array;
    const out = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let acc = l.b.data[j]!;
      for (let c = 0; c < kk; c++) acc += v[c]! * w[j * kk + c]!;
      out[j] = l.act === 1 ? Math.max(0, acc) : acc;
    }
    v = out;
  }
  return v;
}

/** y_i = Σ_j keep(i, j) · vals[i,j] · expert_{idx[i,j]}(x_i) in float64. */
export function referenceMixture(experts: ExpertLinear[][], x: Float32Array, rows: number, kk: number, idx: Int32Array, vals: Float32Array, keep: (i: number, j: number) => boolean = () => true): Float64Array {
  const y = new Float64Array(rows * OUT);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < kk; j++) {
      if (!keep(i, j)) continue;
      const e = expertRow(experts[idx[i * kk + j]!]!, x.subarray(i * D, (i + 1) * D));
      for (let c = 0; c < OUT; c++) y[i * OUT + c]! += vals[i * kk + j]! * e[c]!;
    }
  }
  return y;
}

/** max |a − b| / max |b| (the normalised error every parity test uses). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / scale;
}

/** Routing of `rows` rows to k distinct experts each, by `pick`, with softmax-like positive weights. */
export function routing(rows: number, kk: number, pick: (i: number, j: number) => number, seed = 9): { idx: Int32Array; vals: Float32Array } {
  const rng = new Rng(seed);
  const idx = new Int32Array(rows * kk);
  const vals = new Float32Array(rows * kk);
  for (let i = 0; i < rows; i++) {
    let total = 0;
    for (let j = 0; j < kk; j++) {
      idx[i * kk + j] = pick(i, j);
      vals[i * kk + j] = 0.1 + rng.next();
      total += vals[i * kk + j]!;
    }
    for (let j = 0; j < kk; j++) vals[i * kk + j]! /= total;
  }
  return { idx, vals };
}
