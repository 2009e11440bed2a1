// The tiers that pay: a batch's misses travel as a few binary MGETs in one
// round trip (counted by us and by redis-server's own command stats), missed
// rows enter the hot cache only once recent batches used them and only after
// the batch is scored, a hot/cold split keeps its hot rows local (only the cold
// ones are pushed) with scores equal to the all-local model, and rankSync
// serves a remote model from its local tiers or says why it cannot.
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import { loadModel } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { pushTables } from "../../runtime/embeddings/push";
import { hotRowIds } from "../../runtime/embeddings/hot-rows";
import type { RankingRequest } from "../../sdk/request";
import { smallDlrm, withRows } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = smallDlrm();
const ctr = async (m: ReturnType<typeof loadModel>, r: RankingRequest) => (await m.rank(r)).outputs.ctr!.data;

/** redis-server's own count of calls per command (INFO commandstats). */
async function commandCalls(url: string): Promise<Record<string, number>> {
  const c = new RedisClient(url);
  const info = String(await c.send("INFO", ["commandstats"]));
  c.close();
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** 10% of each table hot (by these counts: rows with an odd id are the frequent ones). */
const counts = (rows: number) => Float64Array.from({ length: rows }, (_, i) => (i % 2 === 1 ? 1000 - i / rows : 0));
const split = Object.fromEntries(["emb_0.table", "emb_1.table", "emb_2.table", "emb_3.table", "emb_4.table"].map((t) => [t, { hotRows: 0.1, counts: counts(dlrm.weights.get(t)!.shape[0]!) }]));

describeRedis("embedding tiers", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm }]);

  test("a batch's misses are a few MGETs in one round trip, never one GET per row", async () => {
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", hotCacheBytes: 0, hostCacheBytes: 0, subscribe: false } });
    const requests = sampleRequests(dlrm, { count: 3, candidates: 200, seed: 11 }) as RankingRequest[];
    using local = loadModel(dlrm);
    const before = await commandCalls(redis.url);
    const got = (await m.rankMany(requests)).map((r) => r.outputs.ctr!.data);
    const want = (await local.rankMany(requests)).map((r) => r.outputs.ctr!.data);
    expect(got).toEqual(want);
    const after = await commandCalls(redis.url);
    const s = m.stats().embeddings!.redis;
    expect(s.batches).toBe(1);
    expect(s.roundTrips).toBe(1); // one node
    expect(s.rowsFetched).toBeGreaterThan(1000);
    expect(s.commands).toBe(Math.ceil(s.rowsFetched / 1024));
    expect(s.commands * 64).toBeLessThanOrEqual(s.rowsFetched);
    expect((after.mget ?? 0) - (before.mget ?? 0)).toBe(s.commands);
    expect((after.get ?? 0) - (before.get ?? 0)).toBe(5); // the five tables' metadata, read once
  }, 30_000);

  test("admission: rows one batch uses stay out of the hot cache; rows used again enter it after the batch is scored", async () => {
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: ["emb_4.table"], hostCacheBytes: 0, subscribe: false } });
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 50, seed: 12 }) as RankingRequest[];
    const hot = () => m.stats().embeddings!.tables["emb_4.table"]!;
    await m.rank(req!);
    await Bun.sleep(1); // past the queued inserts
    expect(hot().hot!.usedRows).toBe(0); // used by one batch: not admitted
    expect(hot().admission.rejected).toBeGreaterThan(0);
    await m.rank(req!); // second batch using the same rows: admitted, but queued
    expect(hot().hot!.usedRows).toBe(0); // not inserted while the batch was on its way
    await Bun.sleep(1);
    const used = hot().hot!.usedRows;
    expect(used).toBe(hot().admission.admitted);
    expect(used).toBeGreaterThan(0);
    const misses = hot().hot!.misses;
    await m.rank(req!);
    expect(hot().hot!.misses).toBe(misses); // every row now hit
  }, 30_000);

  test("hot/cold split: only the cold rows are pushed, hot rows are served locally, scores equal the local model", async () => {
    const store = new RedisEmbeddingStore({ url: redis.url, prefix: "rankfn:split" });
    await pushTables(dlrm, store, { split });
    store.close();
    const c = new RedisClient(redis.url);
    const keys = ((await c.send("KEYS", ["rankfn:split:emb_2.table:*"])) as string[]).filter((k) => !k.endsWith(":meta"));
    c.close();
    const hotIds = hotRowIds("emb_2.table", 900, 90, split["emb_2.table"]!.counts);
    expect(keys.length).toBe(900 - 90);
    expect(keys).not.toContain(`rankfn:split:emb_2.table:{${hotIds[0]! % 64}}:${hotIds[0]}`);
    expect(Array.from(hotIds.subarray(0, 3))).toEqual([1, 3, 5]);

    const tables = Object.fromEntries(Object.entries(split).map(([t, o]) => [t, { local: "hot" as const, ...o }]));
    using local = loadModel(dlrm);
    using remote = loadModel(dlrm, { embeddings: { redis: redis.url, prefix: "rankfn:split", tables, subscribe: false } });
    const requests = sampleRequests(dlrm, { count: 3, candidates: 40, seed: 13 }) as RankingRequest[];
    for (let pass = 0; pass < 2; pass++) for (const r of requests) expect(await ctr(remote, r)).toEqual(await ctr(local, r));
    const s = remote.stats().embeddings!.tables["emb_2.table"]!;
    expect(s.local!.rows).toBe(90);
    expect(s.local!.hits).toBeGreaterThan(0);
    expect(s.remote.rows).toBeGreaterThan(0);
  }, 30_000);

  test("hot/cold split: an online update of a hot row updates the local copy, in the writer and in a subscriber", async () => {
    const store = new RedisEmbeddingStore({ url: redis.url, prefix: "rankfn:split2" });
    await pushTables(dlrm, store, { split });
    store.close();
    const tables = Object.fromEntries(Object.entries(split).map(([t, o]) => [t, { local: "hot" as const, ...o }]));
    using writer = loadModel(dlrm, { embeddings: { redis: redis.url, prefix: "rankfn:split2", tables } });
    using server = loadModel(dlrm, { embeddings: { redis: redis.url, prefix: "rankfn:split2", tables } });
    await Promise.all([writer.ready(), server.ready()]);
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 8, seed: 14 }) as RankingRequest[];
    const ids = [1, 3, 5, 2]; // hot (odd) and cold
    (req!.candidates.cat_2!.data as BigInt64Array).set(ids.map(BigInt), 0);
    await ctr(server, req!);
    const rows = Float32Array.from({ length: ids.length * 16 }, (_, i) => Math.cos(i) / 3);
    const applied = server.stats().embeddings!.updates;
    await writer.updateEmbeddings("emb_2.table", ids, rows);
    while (server.stats().embeddings!.updates === applied) await Bun.sleep(5);
    using twin = loadModel(withRows(dlrm, "emb_2.table", ids, rows));
    const want = await ctr(twin, req!);
    expect(await ctr(writer, req!)).toEqual(want);
    expect(await ctr(server, req!)).toEqual(want); // read through Redis until the local copy is refreshed
    const hits = server.stats().embeddings!.tables["emb_2.table"]!.local!.hits;
    for (let i = 0; i < 200 && server.stats().embeddings!.tables["emb_2.table"]!.local!.hits < hits + 3; i++) {
      await Bun.sleep(5);
      expect(await ctr(server, req!)).toEqual(want);
    }
    expect(server.stats().embeddings!.tables["emb_2.table"]!.local!.hits).toBeGreaterThanOrEqual(hits + 3); // served locally again
  }, 30_000);

  test("rankSync: served from the local tiers; otherwise a typed error naming the tables, with nothing sent to Redis", async () => {
    using local = loadModel(dlrm);
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: ["emb_4.table"], subscribe: false } });
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 12, seed: 15 }) as RankingRequest[];
    const before = await commandCalls(redis.url);
    const err = (() => {
      try {
        m.rankSync(req!);
      } catch (e) {
        return e as { code: string; status: number; message: string };
      }
    })();
    expect(err?.code).toBe("remote_rows_not_local");
    expect(err?.status).toBe(503);
    expect(err?.message).toMatch(/^rankSync: \d+ of "emb_4\.table" rows are not in this process's tiers/);
    expect((await commandCalls(redis.url)).mget ?? 0).toBe(before.mget ?? 0);
    await m.rank(req!); // the rows now sit in the host cache
    expect(m.rankSync(req!).outputs.ctr!.data).toEqual((await local.rank(req!)).outputs.ctr!.data);
    // A table kept wholly local by its split needs no Redis at all.
    using all = loadModel(dlrm, { embeddings: { redis: redis.url, tables: { "emb_1.table": { local: "hot", hotRows: 40 } }, subscribe: false } });
    expect(all.rankSync(req!).outputs.ctr!.data).toEqual((await local.rank(req!)).outputs.ctr!.data);
    expect(() => loadModel(dlrm, { embeddings: { redis: redis.url, tables: { "emb_1.table": { local: "hot", hotRows: -1 } } } })).toThrow(/hotRows: -1 must be a row count >= 1 or a fraction in \(0, 1\)/);
  }, 30_000);
});
