// The accuracy metrics on cases small enough to compute by hand.
import { expect, test } from "bun:test";
import { kendallTau, maxAbsDelta, ndcgAtK, rankOrder } from "../../runtime/quality/ranking-metrics";

const ref = [0.5, 0.4, 0.3, 0.2, 0.1];

test("the same order is NDCG 1 and τ 1, whatever the scores' scale", () => {
  expect(ndcgAtK([50, 40, 30, 20, 10], ref)).toBe(1);
  expect(kendallTau([50, 40, 30, 20, 10], ref)).toBe(1);
});

test("the reversed order is τ −1; its NDCG@2 over 3 items is 1/log2(3) of 3 + 1/log2(3)", () => {
  expect(kendallTau([0.1, 0.2, 0.3, 0.4, 0.5], ref)).toBe(-1);
  // Reference top 2: item 0 (gain 2^2 − 1 = 3), item 1 (gain 1). Reversed order shows items 2, 1.
  const want = (0 / 1 + 1 / Math.log2(3)) / (3 / 1 + 1 / Math.log2(3));
  expect(ndcgAtK([1, 2, 3], [3, 2, 1], 2)).toBeCloseTo(want, 12);
  expect(want).toBeCloseTo(0.173765, 5);
});

test("swapping the 2nd and 3rd candidates costs NDCG what the graded gains say", () => {
  // k = 10 over 5 items: the gains are 2^5 − 1 … 2^1 − 1 = 31, 15, 7, 3, 1.
  const swapped = [0.5, 0.3, 0.4, 0.2, 0.1];
  const dcg = 31 + 7 / Math.log2(3) + 15 / 2 + 3 / Math.log2(5) + 1 / Math.log2(6);
  const ideal = 31 + 15 / Math.log2(3) + 7 / 2 + 3 / Math.log2(5) + 1 / Math.log2(6);
  expect(ndcgAtK(swapped, ref)).toBeCloseTo(dcg / ideal, 12);
  // One discordant pair of 10: τ = (9 − 1) / 10.
  expect(kendallTau(swapped, ref)).toBeCloseTo(0.8, 12);
});

test("only the reference's top k matter to NDCG@k; τ sees the whole order", () => {
  // Items 3 and 4 swap below the cut-off of 2.
  const tail = [0.5, 0.4, 0.3, 0.1, 0.2];
  expect(ndcgAtK(tail, ref, 2)).toBe(1);
  expect(kendallTau(tail, ref)).toBeCloseTo(0.8, 12);
});

test("τ-b corrects for ties: one tied pair of three", () => {
  // Pairs (0,1) tied in a, (0,2) and (1,2) concordant: 2 / √((3 − 1)(3 − 0)).
  expect(kendallTau([1, 1, 2], [1, 2, 3])).toBeCloseTo(2 / Math.sqrt(6), 12);
  expect(kendallTau([1, 1, 1], [1, 2, 3])).toBe(1);
});

test("ties rank by candidate index; max |Δ| is the largest difference, NaN stays visible", () => {
  expect(rankOrder([0.2, 0.5, 0.2, 0.5])).toEqual([1, 3, 0, 2]);
  expect(maxAbsDelta([1, 2, 3], [1.5, 1, 3])).toBe(1);
  expect(maxAbsDelta([1, NaN], [1, 2])).toBeNaN();
  expect(() => ndcgAtK([1, 2], [1, 2, 3])).toThrow("ndcgAtK: 2 scores vs 3 reference scores");
});
