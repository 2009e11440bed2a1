// A request's arrays are read by the kernels in place (a batch of one) and
// outputs written into the batch's own arrays: no step may keep a pointer to
// a previous run's storage, and no run may write into the caller's arrays.
// Every zoo model (and a flat, an i32-id and a nonFinite: "zero" case) is run
// alternating alone and batched, on requests with different values, and each
// result is compared with the same request scored in a batch of several
// (staged into the plan's own slots), and again after the others ran.
import { expect, test } from "bun:test";
import { loadModel, zoo, zooNames } from "../../sdk";
import type { RankingRequest, RankResponse } from "../../sdk/request";
import { sampleFlatRequest, sampleRequests } from "../../sdk/sample-requests";
import type { Tensor } from "../../runtime/tensor/tensor";

/** Relative tolerance: a batch of one takes the small-M GEMM kernels, a larger batch the blocked ones. */
const TOL = 1e-5;

function expectClose(got: RankResponse, want: RankResponse, what: string): void {
  for (const [name, t] of Object.entries(want.outputs)) {
    const g = got.outputs[name]!.data;
    expect(g.length).toBe(t.data.length);
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - t.data[i]!) / Math.max(1e-3, Math.abs(t.data[i]!)));
    if (worst > TOL) throw new Error(`${what}: output ${name} differs by ${worst} (relative)`);
  }
}

const snapshot = (req: RankingRequest) => [...Object.values(req.context ?? {}), ...Object.values(req.candidates)].map((t: Tensor) => t.data.slice());
const unchanged = (req: RankingRequest, before: ReturnType<typeof snapshot>) =>
  [...Object.values(req.context ?? {}), ...Object.values(req.candidates)].every((t: Tensor, i) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(before[i]!.buffer)));

for (const name of zooNames) {
  test(`${name}: alone (read in place) and batched (staged into the plan) agree, run after run; the caller's arrays are never written`, async () => {
    const built = zoo[name].build({ seed: 9, scale: 0.0005 } as never);
    const model = loadModel(built);
    const reqs = sampleRequests(built, { count: 4, candidates: 23, seed: 12 });
    const before = reqs.map(snapshot);
    const batched = await model.rankMany(reqs);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < reqs.length; i++) expectClose(await model.rank(reqs[i]!), batched[i]!, `${name} request ${i} alone, round ${round}`);
      // A batch in between: the plan's slots hold other rows again.
      const again = await model.rankMany([reqs[2]!, reqs[0]!]);
      expectClose(again[0]!, batched[2]!, `${name} request 2 re-batched`);
      expectClose(again[1]!, batched[0]!, `${name} request 0 re-batched`);
    }
    expect(reqs.every((r, i) => unchanged(r, before[i]!))).toBe(true);
    // Responses are views of their batch's own outputs: a later run never changes an earlier response.
    const kept = Array.from(batched[1]!.outputs[Object.keys(batched[1]!.outputs)[0]!]!.data);
    await model.rank(reqs[3]!);
    expect(Array.from(batched[1]!.outputs[Object.keys(batched[1]!.outputs)[0]!]!.data)).toEqual(kept);
    model.dispose();
  });
}

test("flat rows, i32 ids into an i64 model and non-finite dense values under nonFinite: zero are copied (converted), not read in place, and score the same", async () => {
  const built = zoo.dcnv2.build({ seed: 2 });
  built.graph.inputs = built.graph.inputs.map((i) => (i.dtype === "f32" ? { ...i, nonFinite: "zero" as const } : i));
  const model = loadModel(built);
  const flat = sampleFlatRequest(built, 7, 5);
  const alone = await model.rank(flat);
  const converted = Object.fromEntries(
    Object.entries(flat.rows).map(([k, t]) => [k, t.dtype === "i64" ? { dtype: "i32" as const, shape: t.shape, data: Int32Array.from(t.data as BigInt64Array, Number) } : t]),
  );
  const before = model.stats().copies.staging;
  expectClose(await model.rank({ rows: converted }), alone, "i32 ids");
  const after = model.stats().copies.staging;
  const ids = built.graph.inputs.filter((i) => i.dtype !== "f32").length;
  expect(after.copied - before.copied).toBe(ids);
  const dense = Object.entries(flat.rows).find(([, t]) => t.dtype === "f32")!;
  const poisoned = dense[1].data.slice() as Float32Array;
  const zeroed = poisoned.slice();
  poisoned[3] = Number.NaN;
  zeroed[3] = 0;
  const withNaN = await model.rank({ rows: { ...flat.rows, [dense[0]]: { ...dense[1], data: poisoned } } });
  const withZero = await model.rank({ rows: { ...flat.rows, [dense[0]]: { ...dense[1], data: zeroed } } });
  expectClose(withNaN, withZero, "NaN zeroed");
  expect(Number.isNaN(poisoned[3]!)).toBe(true); // the caller's array is not written
  model.dispose();
});
