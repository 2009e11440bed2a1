// How much quantization costs: the quantized model and the fp32 model score
// the same generated requests; we report the largest score difference and
// NDCG@10 of the quantized candidate order against the fp32 order (gains:
// the fp32 top 10 graded 10..1, everything else 0).
import type { BuiltModel } from "../runtime/graph/builder";
import type { TablePrecision, WeightPrecision } from "../runtime/compiler/quantize";
import { Model } from "./model";
import { sampleRequests } from "./sample-requests";

export interface QuantizationReport {
  precision: WeightPrecision;
  tables: TablePrecision;
  requests: number;
  candidates: number;
  /** max |score_quantized − score_fp32| over every output and candidate. */
  maxAbsDelta: number;
  /** Mean NDCG@10 of the quantized ranking, per output. */
  ndcg10: Record<string, number>;
}

/** NDCG@k of `order` (candidate indices, best first) when `reference` scores define the ideal. */
export function ndcgAtK(scores: ArrayLike<number>, reference: ArrayLike<number>, k = 10): number {
  const byRef = Array.from({ length: reference.length }, (_, i) => i).sort((a, b) => reference[b]! - reference[a]! || a - b);
  const gain = new Float64Array(reference.length);
  byRef.slice(0, k).forEach((c, rank) => (gain[c] = k - rank));
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const dcg = (list: number[]) => list.slice(0, k).reduce((acc, c, i) => acc + (2 ** gain[c]! - 1) / Math.log2(i + 2), 0);
  const ideal = dcg(byRef);
  return ideal > 0 ? dcg(order) / ideal : 1;
}

export function quantizationReport(built: BuiltModel, { precision, tables = "f32", requests = 8, candidates = 200, seed = 1 }: { precision: WeightPrecision; tables?: TablePrecision; requests?: number; candidates?: number; seed?: number }): QuantizationReport {
  const sample = sampleRequests(built, { count: requests, candidates, seed });
  const fp32 = new Model(built);
  const quant = new Model(built, { precision, tables });
  let maxAbsDelta = 0;
  const ndcg: Record<string, number> = {};
  try {
    for (const req of sample) {
      const want = fp32.rankSync(req).outputs;
      const got = quant.rankSync(req).outputs;
      for (const [name, t] of Object.entries(want)) {
        const q = got[name]!.data;
        for (let i = 0; i < t.data.length; i++) maxAbsDelta = Math.max(maxAbsDelta, Math.abs(q[i]! - t.data[i]!));
        ndcg[name] = (ndcg[name] ?? 0) + ndcgAtK(q, t.data) / sample.length;
      }
    }
  } finally {
    fp32.dispose();
    quant.dispose();
  }
  return { precision, tables, requests, candidates, maxAbsDelta, ndcg10: ndcg };
}
