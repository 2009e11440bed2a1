// Scores as the accuracy harness compares them: per output column (`ctr`, or
// `name[c]` for outputs wider than one), per request, the candidates' scores —
// and the comparison of two such sets (NDCG@k, Kendall's τ, max |Δscore|),
// shared by rankfn models (ranking-accuracy.ts) and peer engines scored on the
// same requests (peer-accuracy.ts).
import { kendallTau, maxAbsDelta, ndcgAtK } from "./ranking-metrics";

export interface OutputAccuracy {
  /** Mean over requests of NDCG@10 of the candidate order against the fp32 order. */
  ndcg10: number;
  /** Mean over requests of Kendall's τ-b between the two score vectors. */
  kendallTau: number;
  /** Largest |score − score_fp32| over every request and candidate. */
  maxAbsDelta: number;
}

/** Per output column, per request: the candidates' scores. */
export type ScoreColumns = Record<string, Float32Array[]>;

/** One request's outputs, as any engine returns them: [rows] or [rows, width] row-major. */
export type RequestOutputs = Record<string, { dims: readonly number[]; data: ArrayLike<number> }>;

/** Append one request's outputs to `into`, split into one column per output width. */
export function addColumns(into: ScoreColumns, outputs: RequestOutputs): void {
  for (const [name, t] of Object.entries(outputs)) {
    const rows = t.dims[0] ?? 1;
    const width = t.dims.slice(1).reduce((a, b) => a * b, 1);
    for (let c = 0; c < width; c++) {
      const col = width === 1 ? name : `${name}[${c}]`;
      const v = new Float32Array(rows);
      for (let r = 0; r < rows; r++) v[r] = t.data[r * width + c]!;
      (into[col] ??= []).push(v);
    }
  }
}

/** Per column of `want`: mean NDCG@k and τ over requests, and the largest |Δ|, of `got` against it. */
export function compareColumns(got: ScoreColumns, want: ScoreColumns, k: number): Record<string, OutputAccuracy> {
  const result: Record<string, OutputAccuracy> = {};
  for (const [col, reqs] of Object.entries(want)) {
    const mine = got[col];
    if (!mine || mine.length !== reqs.length) throw new RangeError(`compareColumns: output ${col} has ${mine?.length ?? 0} requests scored, the reference ${reqs.length}`);
    let ndcg = 0;
    let tau = 0;
    let delta = 0;
    reqs.forEach((ref, i) => {
      const q = mine[i]!;
      ndcg += ndcgAtK(q, ref, k);
      tau += kendallTau(q, ref);
      delta = Math.max(delta, maxAbsDelta(q, ref));
    });
    result[col] = { ndcg10: ndcg / reqs.length, kendallTau: tau / reqs.length, maxAbsDelta: delta };
  }
  return result;
}

/** The worst of the outputs: lowest NDCG@10 and τ, largest |Δscore|. */
export function worstOf(outputs: Record<string, OutputAccuracy>): OutputAccuracy {
  const all = Object.values(outputs);
  return {
    ndcg10: Math.min(...all.map((o) => o.ndcg10)),
    kendallTau: Math.min(...all.map((o) => o.kendallTau)),
    maxAbsDelta: Math.max(...all.map((o) => o.maxAbsDelta)),
  };
}
