// The hot cache's adaptive bypass (cache-bypass.ts) and the hot budget's split
// over tables. A table's cache is turned off only once warm and costing more than
// its hits save, re-probed every 16 batches, and turned back on when it pays
// clearly again.
import { expect, test } from "bun:test";
import { CacheBypass } from "../../runtime/embeddings/cache-bypass";
import { splitBudget } from "../../runtime/embeddings/remote-tables";
import { cacheSetBytes } from "../../runtime/ffi/emb-cache";
import { loadModel } from "../../sdk";
import type { RankingRequest } from "../../sdk/request";
import { sampleRequests } from "../../sdk/sample-requests";
import { smallDlrm } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

/** Run `batches` batches; each batch that uses the cache costs `cost` ms and saves `hits` × 0.01 ms. Returns which batches used it. */
function drive(b: CacheBypass, batches: number, cost: number, hits: number): boolean[] {
  return Array.from({ length: batches }, () => {
    const used = b.use();
    b.charge(cost / 2); // the probe ...
    b.credit(hits, 0.01);
    b.charge(cost / 2); // ... and the admission after the batch
    return used;
  });
}

test("a cache that costs more than it saves is bypassed once warm, re-probed every 16 batches, and back on when it pays", () => {
  const b = new CacheBypass(100);
  b.inserted(100); // warm: half its rows or more went in
  // Costs 1 ms, saves 0.5 ms: on for the 8 warm-up batches, then off.
  const first = drive(b, 8, 1, 50);
  expect(first.every(Boolean)).toBe(true);
  const off = drive(b, 48, 1, 50);
  expect(off[0]).toBe(false);
  expect(b.stats().bypassed).toBe(true);
  // Only every 16th batch probes the cache while bypassed.
  expect(off.map((u, i) => (u ? i : -1)).filter((i) => i >= 0)).toEqual([15, 31, 47]);
  // Now it saves 3 ms per batch at the same cost: the probes pull the averages over 1.25 x, and it resumes.
  let batches = 0;
  while (b.stats().bypassed && batches < 400) drive(b, 1, 1, 300), batches++;
  expect(b.stats().bypassed).toBe(false);
  expect(drive(b, 5, 1, 300).every(Boolean)).toBe(true);
  const s = b.stats();
  expect(s.savedMs).toBeGreaterThan(1.25 * s.costMs);
  expect(s.cachedBatches + s.bypassedBatches).toBe(8 + 48 + batches + 5);
});

test("a cold cache is not judged on hits it cannot have yet, and a disabled bypass never turns the cache off", () => {
  const cold = new CacheBypass(1000);
  // No rows inserted: stays on for 64 batches however bad the numbers, then is judged.
  expect(drive(cold, 64, 5, 0).every(Boolean)).toBe(true);
  expect(drive(cold, 2, 5, 0)).toEqual([false, false]);
  const never = new CacheBypass(10, 16, false);
  never.inserted(10);
  expect(drive(never, 100, 5, 0).every(Boolean)).toBe(true);
  expect(never.stats().bypassed).toBe(false);
});

test("the hot budget: in proportion to each table's size, none getting more than twice what all its remote rows take", () => {
  const ways = 8;
  const set = cacheSetBytes(16, ways);
  const specs = [
    { name: "tiny", rows: 40, dim: 16, dtype: "f32" as const }, // 5 sets of rows: capped at 11 sets
    { name: "big", rows: 1_000_000, dim: 16, dtype: "f32" as const },
    { name: "huge", rows: 9_000_000, dim: 16, dtype: "f32" as const },
    { name: "all-local", rows: 50, dim: 16, dtype: "f32" as const, hotIds: Int32Array.from({ length: 50 }, (_, i) => i) },
  ];
  const total = (40 + 1_000_000 + 9_000_000 + 50) * 64;
  const budget = 100_000 * set;
  const shares = splitBudget(specs, budget, ways);
  expect(shares[1]).toBe(Math.floor((budget * 1_000_000 * 64) / total));
  expect(shares[2]).toBe(Math.floor((budget * 9_000_000 * 64) / total));
  expect(shares[3]).toBe(0); // nothing remote to cache
  expect(shares.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(budget);
  expect(splitBudget(specs.slice(0, 1), 1e9, ways)).toEqual([11 * set]);
});

describeRedis("hot cache bypass on a model", () => {
  const dlrm = smallDlrm();
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm, tables: ["emb_4.table"] }]);

  test("a cache that never hits is bypassed after its warm-up; scores stay equal to the local model all along", async () => {
    using local = loadModel(dlrm);
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: ["emb_4.table"], hostCacheBytes: 0, subscribe: false } });
    await m.ready();
    // Every batch draws emb_4 ids no batch drew before: no hits, nothing admitted (a cold cache, judged after 64 batches).
    for (let b = 0; b < 80; b++) {
      const [req] = sampleRequests(dlrm, { count: 1, candidates: 2, seed: 100 + b }) as RankingRequest[];
      const ids = req!.candidates.cat_4!.data as BigInt64Array;
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(b * ids.length + i);
      const [want, got] = [await local.rank(req!), await m.rank(req!)];
      expect(got.outputs.ctr!.data).toEqual(want.outputs.ctr!.data);
    }
    const t = m.stats().embeddings!.tables["emb_4.table"]!;
    expect(t.hot!.hits).toBe(0);
    expect(t.bypass!.bypassed).toBe(true);
    expect(t.bypass!.cachedBatches).toBeGreaterThanOrEqual(64);
    expect(t.bypass!.bypassedBatches).toBeGreaterThan(0);
    expect(t.bypass!.cachedBatches + t.bypass!.bypassedBatches).toBe(80);
    // While bypassed, batches skip the cache: its lookups stopped growing with the batches.
    expect(t.hot!.hits + t.hot!.misses).toBeLessThan(80 * 10);
  }, 30_000);
});
