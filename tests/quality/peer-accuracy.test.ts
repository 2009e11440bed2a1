// The harness's side for peer engines (runtime/quality/peer-accuracy.ts): a
// ranking request as flat rows (the user's features repeated per candidate), and
// a peer's outputs compared per column with the harness's metrics.
import { expect, test } from "bun:test";
import { flatRows, peerAccuracy } from "../../runtime/quality/peer-accuracy";
import { tensor } from "../../runtime/tensor/tensor";

test("flatRows repeats each context row once per candidate and keeps the candidate inputs", () => {
  const rows = flatRows({
    context: { user: tensor("i64", [1, 2], BigInt64Array.of(7n, 9n)), age: tensor("f32", [1, 1], Float32Array.of(0.5)) },
    candidates: { item: tensor("i64", [3, 1], BigInt64Array.of(1n, 2n, 3n)) },
  });
  expect(rows.user!.shape).toEqual([3, 2]);
  expect(Array.from(rows.user!.data as BigInt64Array)).toEqual([7n, 9n, 7n, 9n, 7n, 9n]);
  expect(Array.from(rows.age!.data as Float32Array)).toEqual([0.5, 0.5, 0.5]);
  expect(Array.from(rows.item!.data as BigInt64Array)).toEqual([1n, 2n, 3n]);
  expect(() => flatRows({ candidates: {} })).toThrow(/no candidate inputs/);
});

test("peerAccuracy: same scores give NDCG 1, τ 1, |Δ| 0; a reversed order τ −1; columns of wide outputs apart; bad counts are errors", () => {
  const out = (v: number[], width = 1) => ({ y: { dims: [v.length / width, width], data: Float32Array.from(v) } });
  const same = peerAccuracy([out([0.1, 0.3, 0.2])], [out([0.1, 0.3, 0.2])]);
  expect(same.worst).toEqual({ ndcg10: 1, kendallTau: 1, maxAbsDelta: 0 });
  const reversed = peerAccuracy([out([0.3, 0.2, 0.1])], [out([0.1, 0.2, 0.3])]);
  expect(reversed.worst.kendallTau).toBe(-1);
  expect(reversed.worst.maxAbsDelta).toBeCloseTo(0.2, 6);
  expect(reversed.worst.ndcg10).toBeLessThan(1);
  const wide = peerAccuracy([out([1, 5, 2, 6], 2)], [out([1, 6, 2, 5], 2)]);
  expect(Object.keys(wide.outputs)).toEqual(["y[0]", "y[1]"]);
  expect(wide.outputs["y[0]"]!.kendallTau).toBe(1);
  expect(wide.outputs["y[1]"]!.kendallTau).toBe(-1);
  expect(() => peerAccuracy([], [out([1])])).toThrow(/0 scored requests against 1/);
});
