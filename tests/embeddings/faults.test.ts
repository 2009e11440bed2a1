// The fault policy against a real redis-server that is killed, paused and
// restarted mid-run: "fail" answers 503 (never hangs: a paused server runs
// into the deadline), rows in the hot cache keep serving while Redis is down,
// "default" scores with zeros or the table's mean row and flags the response
// degraded, and everything recovers on its own once Redis is back.
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import { loadModel } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import type { TableMeta } from "../../runtime/embeddings/redis-store";
import type { RankingRequest } from "../../sdk/request";
import type { RemoteEmbeddingOptions } from "../../runtime/embeddings/remote-tables";
import { smallDlrm, withRows } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = smallDlrm();
const requests = sampleRequests(dlrm, { count: 4, candidates: 16, seed: 11 }) as RankingRequest[];
const ctr = async (m: ReturnType<typeof loadModel>, r: RankingRequest) => (await m.rank(r)).outputs.ctr!.data;

describeRedis("remote tier faults", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm }]);
  const remote = (o: Partial<RemoteEmbeddingOptions>) => loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", timeoutMs: 300, ...o } });

  test('"fail": 503 while Redis is down, cached rows keep serving, recovery when it returns', async () => {
    using local = loadModel(dlrm);
    using m = remote({ onFailure: "fail" });
    await m.ready();
    const warm = await ctr(m, requests[0]!);
    await redis.kill();
    expect(await ctr(m, requests[0]!)).toEqual(warm); // every row in the hot cache: no Redis needed
    const err = await m.rank(requests[1]!).catch((e) => e);
    expect(err.status).toBe(503);
    expect(err.code).toMatch(/^embeddings_/);
    expect(m.stats().embeddings!.failedBatches).toBeGreaterThan(0);
    await redis.start();
    let recovered: Float32Array | undefined;
    while (!recovered) recovered = await ctr(m, requests[1]!).catch(() => undefined); // backoff, then reconnect
    expect(recovered).toEqual(await ctr(local, requests[1]!));
    const s = m.stats().embeddings!;
    expect(s.redis.reconnects).toBeGreaterThanOrEqual(1);
    expect(s.redis.connected).toBe(true);
  }, 30_000);

  test("a paused Redis runs into the deadline instead of hanging the request", async () => {
    using m = remote({ onFailure: "fail", timeoutMs: 100, subscribe: false });
    await ctr(m, requests[0]!);
    const admin = new RedisClient(redis.url);
    await admin.send("CLIENT", ["PAUSE", "400", "ALL"]);
    const err = await m.rank(requests[2]!).catch((e) => e);
    expect(err.status).toBe(503);
    expect(err.code).toBe("embeddings_timeout");
    expect(m.stats().embeddings!.redis.timeouts).toBe(1);
    admin.close();
    // Once the pause ends, the same connection serves again (late replies of the timed-out fetch are dropped).
    using local = loadModel(dlrm);
    let scores: Float32Array | undefined;
    while (!scores) scores = await ctr(m, requests[2]!).catch(() => undefined);
    expect(scores).toEqual(await ctr(local, requests[2]!));
    expect(m.stats().embeddings!.redis.reconnects).toBe(0);
  }, 30_000);

  for (const defaultRow of ["zeros", "mean"] as const) {
    test(`"default" with ${defaultRow} rows: degraded responses equal to the model with default rows`, async () => {
      using m = remote({ onFailure: "default", defaultRow, tables: ["emb_2.table"], hotCacheBytes: 0, hostCacheBytes: 0 });
      await m.ready();
      const ok = await m.rank(requests[3]!); // Redis up: loads the table metadata (mean row)
      expect(ok.degraded).toBeUndefined();
      const admin = new RedisClient(redis.url);
      const meta = JSON.parse((await admin.get("rankfn:dlrm:emb_2.table:meta"))!) as TableMeta;
      admin.close();
      await redis.kill();
      const res = await m.rank(requests[3]!);
      expect(res.degraded).toBe(true);
      const row = defaultRow === "mean" ? Float32Array.from(meta.mean!) : new Float32Array(16);
      using twin = loadModel(withRows(dlrm, "emb_2.table", "all", row));
      expect(res.outputs.ctr!.data).toEqual(await ctr(twin, requests[3]!));
      const s = m.stats().embeddings!;
      expect(s.degradedBatches).toBe(1);
      expect(s.tables["emb_2.table"]!.defaultedRows).toBeGreaterThan(0);
      await redis.start();
      let back: Awaited<ReturnType<typeof m.rank>> | undefined;
      while (!back || back.degraded) back = await m.rank(requests[3]!);
      expect(back.outputs.ctr!.data).toEqual(ok.outputs.ctr!.data);
    }, 30_000);
  }
});
