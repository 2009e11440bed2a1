// Prefetch of the next batch's remote rows against a real redis-server: the
// rows batch i+1 misses are fetched while batch i runs (rankMany's `next`, the
// server's coalescer queue), scores stay bit-equal to the all-local model, an
// update between prefetch and use is honoured, and a prefetch that fails
// (Redis killed) fails no batch by itself.
import { expect, test } from "bun:test";
import { loadModel } from "../../sdk";
import { Coalescer } from "../../runtime/serving/coalescer";
import type { ValidRequest } from "../../runtime/engine/validate";
import type { RankResponse } from "../../runtime/engine/request";
import type { RankfnError } from "../../runtime/errors";
import { sampleRequests } from "../../sdk/sample-requests";
import type { RankingRequest } from "../../sdk/request";
import { smallDlrm, withRows } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = smallDlrm();
const batchOf = (seed: number) => sampleRequests(dlrm, { count: 3, candidates: 24, seed }) as RankingRequest[];
const scores = async (m: ReturnType<typeof loadModel>, batch: RankingRequest[], next?: RankingRequest[]) => (await m.rankMany(batch, [], { next })).map((r) => r.outputs.ctr!.data);
const remoteRows = (m: ReturnType<typeof loadModel>) => Object.values(m.stats().embeddings!.tables).reduce((a, t) => a + t.remote.rows, 0);

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await Bun.sleep(5);
}

describeRedis("prefetch of the next batch's remote rows", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm }]);

  test("the next batch's misses come from the prefetch: one round trip per batch, scores bit-equal to all-local", async () => {
    using local = loadModel(dlrm);
    // No caches: every distinct id of every batch is a miss, so each batch needs all its rows from Redis.
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", hotCacheBytes: 0, hostCacheBytes: 0, subscribe: false, timeoutMs: 5000 } });
    await m.ready();
    const batches = [1, 2, 3, 4, 5].map(batchOf);
    for (let i = 0; i < batches.length; i++) {
      const before = m.stats().embeddings!;
      const rowsBefore = remoteRows(m);
      const got = await scores(m, batches[i]!, batches[i + 1]);
      expect(got).toEqual(await scores(local, batches[i]!));
      const after = m.stats().embeddings!;
      const fetched = remoteRows(m) - rowsBefore;
      expect(fetched).toBeGreaterThan(0);
      // After the first batch, every row a batch needed was staged by the previous batch's prefetch.
      if (i > 0) expect(after.prefetch.used - before.prefetch.used).toBe(fetched);
      // Its own fetch (batch 0 only), then the prefetch issued for the next batch (all but the last).
      expect(after.redis.roundTrips - before.redis.roundTrips).toBe((i === 0 ? 1 : 0) + (i < batches.length - 1 ? 1 : 0));
    }
    const p = m.stats().embeddings!.prefetch;
    expect(p.fetches).toBe(batches.length - 1);
    expect(p.used).toBe(p.rows);
    expect(p.failed).toBe(0);
    expect(p.staged).toBe(0);
  }, 20_000);

  test("behind a coalescer (as the server runs it): requests queued behind the running batch are prefetched while it runs", async () => {
    using local = loadModel(dlrm);
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", hotCacheBytes: 0, hostCacheBytes: 0, subscribe: false, timeoutMs: 5000 } });
    await m.ready();
    const co: Coalescer<ValidRequest, RankResponse | RankfnError> = new Coalescer((requests, queueMs, budgetMs) => m.run(requests, queueMs, { timeoutMs: budgetMs, next: () => co.peekNext() }), {
      policy: "static", maxBatchRows: 2048, maxQueueDelayUs: 0, maxQueueRows: 4096, defaultDeadlineMs: 10_000,
    });
    const requests = batchOf(41);
    const extra = batchOf(42);
    // The first request starts at once (the coalescer is idle); the rest queue behind it while it waits for Redis.
    const all = [...requests, ...extra].map((r) => m.validate(r));
    const got = await Promise.all(all.map((v) => co.submit(v, { rows: v.rows })));
    for (let i = 0; i < all.length; i++) expect((got[i] as RankResponse).outputs.ctr!.data).toEqual((await local.rank([...requests, ...extra][i]!)).outputs.ctr!.data);
    expect(co.stats().batches).toBe(2);
    const p = m.stats().embeddings!.prefetch;
    expect(p.fetches).toBe(1);
    expect(p.rows).toBeGreaterThan(0);
    expect(p.used).toBe(p.rows); // the second batch is exactly what was queued when the first computed
    expect(m.stats().embeddings!.redis.roundTrips).toBe(2);
    await co.close();
  }, 20_000);

  test("prefetch off: the same batches fetch their own rows", async () => {
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", hotCacheBytes: 0, hostCacheBytes: 0, subscribe: false, prefetch: false } });
    await m.ready();
    await scores(m, batchOf(1), batchOf(2));
    await scores(m, batchOf(2));
    const s = m.stats().embeddings!;
    expect(s.prefetch.fetches).toBe(0);
    expect(s.redis.roundTrips).toBe(2);
  }, 20_000);

  test("an update between prefetch and use is honoured: the batch scores with the new row", async () => {
    const options = { embeddings: { redis: redis.url, tables: "all" as const, hotCacheBytes: 0, hostCacheBytes: 0, timeoutMs: 5000 } };
    using writer = loadModel(dlrm, options);
    using server = loadModel(dlrm, options);
    await Promise.all([writer.ready(), server.ready()]);
    const a = batchOf(21);
    const b = batchOf(22);
    await scores(server, a, b); // b's rows are staged
    const staged = server.stats().embeddings!.prefetch;
    expect(staged.staged).toBeGreaterThan(0);
    // Wait until the prefetch has landed, so the update really comes between a finished prefetch and its use.
    await until(() => server.stats().embeddings!.redis.batches >= 2);
    const ids = [...new Set(Array.from(b[0]!.candidates.cat_4!.data as BigInt64Array, Number).filter((v) => v >= 0))].slice(0, 3);
    const rows = Float32Array.from({ length: ids.length * 16 }, (_, i) => Math.cos(i) * 3);
    const applied = server.stats().embeddings!.updates;
    await writer.updateEmbeddings("emb_4.table", ids, rows);
    await until(() => server.stats().embeddings!.updates > applied);
    using updated = loadModel(withRows(dlrm, "emb_4.table", ids, rows));
    using original = loadModel(dlrm);
    const got = await scores(server, b);
    expect(got).toEqual(await scores(updated, b));
    expect(got).not.toEqual(await scores(original, b));
    const p = server.stats().embeddings!.prefetch;
    expect(p.invalidated).toBe(ids.length);
    expect(p.used).toBe(staged.rows - ids.length); // the other staged rows were still used
    expect(server.stats().embeddings!.failedBatches).toBe(0);
    // The suite's Redis is shared: put the rows back.
    const table = dlrm.weights.get("emb_4.table")!.data as Float32Array;
    await writer.updateEmbeddings("emb_4.table", ids, Float32Array.from(ids.flatMap((id) => Array.from(table.subarray(id * 16, (id + 1) * 16)))));
  }, 20_000);

  test("Redis killed under a prefetch fails no batch by itself; the next batch fetches its rows once Redis is back", async () => {
    using local = loadModel(dlrm);
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", onFailure: "fail", subscribe: false, timeoutMs: 300 } });
    await m.ready();
    const a = batchOf(31);
    const b = batchOf(32);
    await scores(m, a);
    await scores(m, a); // every row of a is in the host cache now
    await redis.kill();
    // a needs nothing from Redis; the prefetch of b's rows fails.
    expect(await scores(m, a, b)).toEqual(await scores(local, a));
    await until(() => m.stats().embeddings!.redis.errors > 0);
    expect(m.stats().embeddings!.failedBatches).toBe(0);
    await redis.start();
    let got: Float32Array[] | undefined;
    while (!got) got = await scores(m, b).catch(() => undefined); // backoff, then reconnect
    expect(got).toEqual(await scores(local, b));
    const s = m.stats().embeddings!;
    expect(s.prefetch.used).toBe(0);
    expect(s.prefetch.failed).toBe(s.prefetch.rows); // the first try of b took the failed staging and fetched itself
  }, 30_000);
});
