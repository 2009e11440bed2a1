// How close one candidate ranking is to a reference ranking (the fp32 scores):
// NDCG@k, Kendall's τ-b of the whole order, and the largest score difference.
//
// NDCG relevance: the reference's top k graded k, k−1, …, 1, every other
// candidate 0, gains 2^rel − 1. Using the fp32 scores themselves as graded
// relevance was rejected: CTR scores of one request sit in a narrow band
// (0.02–0.05 is typical), so any permutation would score NDCG ≈ 1 and the metric
// could not fail. Top-k grading asks what a ranking service cares about —
// whether the items it would show, in that order, survive quantization.
// Orders break score ties by candidate index, so equal scores rank stably.

/** Candidate indices best first (ties: lower index first). */
export function rankOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * NDCG@k of the order `scores` induce, with the reference's top k as graded relevance (see the top of the file).
 * @example ndcgAtK([0.3, 0.2, 0.1], [0.3, 0.2, 0.1], 2) // 1
 */
export function ndcgAtK(scores: ArrayLike<number>, reference: ArrayLike<number>, k = 10): number {
  if (scores.length !== reference.length) throw new RangeError(`ndcgAtK: ${scores.length} scores vs ${reference.length} reference scores`);
  const ideal = rankOrder(reference);
  const top = Math.min(k, ideal.length);
  const gain = new Float64Array(reference.length);
  ideal.slice(0, top).forEach((c, rank) => (gain[c] = 2 ** (top - rank) - 1));
  const dcg = (order: number[]) => order.slice(0, top).reduce((acc, c, i) => acc + gain[c]! / Math.log2(i + 2), 0);
  const best = dcg(ideal);
  return best > 0 ? dcg(rankOrder(scores)) / best : 1;
}

/**
 * Kendall's τ-b between two score vectors: (concordant − discordant) / √((pairs − ties_a)(pairs − ties_b)).
 * 1 for the same order, −1 for the reversed one; 1 when either has all scores tied (nothing to disagree on).
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`kendallTau: ${a.length} vs ${b.length} scores`);
  const n = a.length;
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0) tiesA++;
      if (db === 0) tiesB++;
      if (da * db > 0) concordant++;
      else if (da * db < 0) discordant++;
    }
  }
  const pairs = (n * (n - 1)) / 2;
  const denom = Math.sqrt((pairs - tiesA) * (pairs - tiesB));
  return denom > 0 ? (concordant - discordant) / denom : 1;
}

/** max_i |a[i] − b[i]| (0 for empty vectors; NaN anywhere gives NaN). */
export function maxAbsDelta(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDelta: ${a.length} vs ${b.length} scores`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = d;
  }
  return max;
}
