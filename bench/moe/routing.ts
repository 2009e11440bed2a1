// Routings for the MoE benchmark: balanced top-k (every expert gets the same
// number of rows) and Zipf-skewed top-k (expert popularity ∝ rank^-α, hot
// experts scattered over the expert ids by a seeded permutation), with
// softmax-like positive gate weights.
import { Rng } from "../../runtime/tensor/random";

export interface Routing {
  topIdx: Int32Array;
  topVals: Float32Array;
}

function weights(rows: number, k: number, rng: Rng): Float32Array {
  const vals = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    let total = 0;
    for (let j = 0; j < k; j++) total += vals[i * k + j] = 0.1 + rng.next();
    for (let j = 0; j < k; j++) vals[i * k + j]! /= total;
  }
  return vals;
}

/** Row i -> experts (i·k + j) mod E: exactly rows·k/E rows per expert when E divides rows·k. */
export function balancedRouting(rows: number, k: number, experts: number, seed = 1): Routing {
  const topIdx = Int32Array.from({ length: rows * k }, (_, t) => t % experts);
  return { topIdx, topVals: weights(rows, k, new Rng(seed)) };
}

/** k distinct experts per row, each draw Zipf(α) over popularity ranks mapped to ids by a seeded permutation. */
export function zipfRouting(rows: number, k: number, experts: number, alpha: number, seed = 1): Routing {
  const rng = new Rng(seed);
  const perm = Array.from({ length: experts }, (_, e) => e);
  for (let t = experts - 1; t > 0; t--) {
    const s = rng.int(t + 1);
    [perm[t], perm[s]] = [perm[s]!, perm[t]!];
  }
  const cdf: number[] = [];
  let acc = 0;
  for (let r = 0; r < experts; r++) cdf.push((acc += 1 / (r + 1) ** alpha));
  const draw = () => {
    const u = rng.next() * acc;
    let r = 0;
    while (cdf[r]! < u) r++;
    return perm[r]!;
  };
  const topIdx = new Int32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < k; j++) {
      let e = draw();
      while (topIdx.subarray(i * k, i * k + j).includes(e)) e = draw();
      topIdx[i * k + j] = e;
    }
  }
  return { topIdx, topVals: weights(rows, k, rng) };
}
