// The hot cache's admission rule: a batch that misses more distinct rows than
// the cache holds must not flush the rows every batch uses (LRU thrash). A row
// enters only once recent batches used it (the frequency sketch), at most an
// eighth of the cache per batch, most used rows first.
import { expect, test } from "bun:test";
import { loadModel } from "../../sdk";
import { cacheSetBytes } from "../../runtime/ffi/emb-cache";
import { FrequencySketch } from "../../runtime/embeddings/admission";
import { sampleRequests } from "../../sdk/sample-requests";
import type { RankingRequest } from "../../sdk/request";
import { smallDlrm } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = smallDlrm();

/** A request whose emb_4 ids (input cat_4) are `ids`, cycled over its slots. */
function withIds(ids: number[], seed: number): RankingRequest {
  const [req] = sampleRequests(dlrm, { count: 1, candidates: 200, seed }) as RankingRequest[];
  const data = req!.candidates.cat_4!.data as BigInt64Array;
  for (let i = 0; i < data.length; i++) data[i] = BigInt(ids[i % ids.length]!);
  return req!;
}

test("the frequency sketch never undercounts, caps at 15, and halves its counts as it ages", () => {
  const sketch = new FrequencySketch(100); // width 1024: ages after 10,240 additions
  const truth = new Map<number, number>();
  let added = 0;
  for (let i = 0; i < 5000; i++) {
    const id = (i * 7919) % 600;
    truth.set(id, (truth.get(id) ?? 0) + 1);
    const est = sketch.add(id);
    added++;
    expect(est).toBeGreaterThanOrEqual(Math.min(15, truth.get(id)!));
  }
  for (const [id, n] of truth) expect(sketch.estimate(id)).toBeGreaterThanOrEqual(Math.min(15, n));
  expect(sketch.estimate(123_456_789)).toBeLessThan(3); // never added: only collisions count
  for (let i = 0; i < 40; i++) sketch.add(5), added++;
  expect(sketch.estimate(5)).toBe(15);
  // Age it: additions of other ids up to the reset point halve every counter.
  while (added < 10_240) sketch.add(1_000_000 + added++);
  expect(sketch.estimate(5)).toBeLessThanOrEqual(8);
  expect(sketch.estimate(5)).toBeGreaterThanOrEqual(7);
});

test("addAll counts a batch exactly as add() id by id (same estimates, same counters, same aging)", () => {
  const one = new FrequencySketch(300);
  const all = new FrequencySketch(300);
  for (let b = 0; b < 30; b++) {
    const ids = Int32Array.from({ length: 700 }, (_, i) => (b * 131 + i * 2654435761) % 2_000_000_000 >>> 0);
    const est = new Uint8Array(ids.length);
    all.addAll(ids, est);
    ids.forEach((id, i) => expect(est[i]).toBe(one.add(id)));
  }
  for (let id = 0; id < 5000; id += 7) expect(all.estimate(id)).toBe(one.estimate(id));
});

describeRedis("hot cache admission", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm, tables: ["emb_4.table"] }]);

  test("one batch of a thousand cold ids does not evict the hot rows", async () => {
    // 25 sets x 8 ways of 16-float rows: 200 rows.
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: ["emb_4.table"], hotCacheBytes: 25 * cacheSetBytes(16, 8), hostCacheBytes: 0, subscribe: false } });
    const hot = withIds([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 1);
    const hotMisses = () => m.stats().embeddings!.tables["emb_4.table"]!.hot!.misses;
    await m.rank(hot);
    await m.rank(hot);
    expect(m.stats().embeddings!.tables["emb_4.table"]!.hot!.capacityRows).toBe(200);
    const before = hotMisses();
    await m.rank(hot);
    expect(hotMisses()).toBe(before); // cached
    await m.rank(withIds(Array.from({ length: 1000 }, (_, i) => 200 + i), 2)); // 1000 distinct cold ids, 5x the cache
    const afterCold = hotMisses();
    await m.rank(hot);
    expect(hotMisses()).toBe(afterCold); // the hot rows survived
  });
});
