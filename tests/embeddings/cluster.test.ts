// The remote tier on a Redis Cluster (three masters on loopback): the store
// detects cluster mode, rows spread over every node by hash slot, each batch
// fetches from each node in its own pipelined round trip, and scores equal the
// all-local model; an update reaches a running model through the cluster.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { loadModel } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { keySlot } from "../../runtime/embeddings/redis-cluster";
import { pushTables } from "../../runtime/embeddings/push";
import type { RankingRequest } from "../../sdk/request";
import { smallDlrm, withRows } from "./fixtures/models";
import { type RedisProcess, describeRedis, startRedisCluster } from "./redis-server";

const dlrm = smallDlrm();

test("key slots follow the Redis Cluster spec (CRC16-XMODEM mod 16384, hash tags)", () => {
  expect(keySlot("foo")).toBe(12182); // the slot redis-server reports for "foo"
  expect(keySlot("123456789")).toBe(0x31c3 % 16384); // CRC16-XMODEM check value
  expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
});

describeRedis("remote tables on a Redis Cluster", () => {
  let nodes: RedisProcess[];
  beforeAll(async () => {
    nodes = await startRedisCluster(3);
  }, 30_000);
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.stop()));
  });

  test("our key slots are the cluster's", async () => {
    const c = new RedisClient(nodes[0]!.url);
    for (const key of ["rankfn:dlrm:emb_0.table:17", "{a}b", "foo{}bar", "x{y}z{w}", "{}", "ü:42"]) expect(keySlot(key)).toBe((await c.send("CLUSTER", ["KEYSLOT", key])) as number);
    c.close();
  });

  test("push spreads rows over every node; a model reading through any node scores exactly", async () => {
    const store = new RedisEmbeddingStore({ url: nodes[0]!.url, prefix: "rankfn:dlrm" });
    await pushTables(dlrm, store);
    expect(store.cluster).toBe(true);
    store.close();
    const sizes = await Promise.all(
      nodes.map(async (n) => {
        const c = new RedisClient(n.url);
        const size = (await c.send("DBSIZE", [])) as number;
        c.close();
        return size;
      }),
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(500 + 40 + 900 + 70 + 1200 + 5);
    for (const size of sizes) expect(size).toBeGreaterThan(500);

    using local = loadModel(dlrm);
    using remote = loadModel(dlrm, { embeddings: { redis: nodes[1]!.url, tables: "all" } });
    await remote.ready();
    const requests = sampleRequests(dlrm, { count: 3, candidates: 30, seed: 2 }) as RankingRequest[];
    for (const r of requests) expect((await remote.rank(r)).outputs.ctr!.data).toEqual((await local.rank(r)).outputs.ctr!.data);
    const s = remote.stats().embeddings!;
    expect(s.redis.cluster).toBe(true);
    expect(s.failedBatches).toBe(0);
    // Each batch: at most one round trip per node, one MGET per hash tag at most (keys of one MGET share a slot).
    expect(s.redis.batches).toBe(requests.length);
    expect(s.redis.roundTrips).toBeLessThanOrEqual(3 * s.redis.batches);
    expect(s.redis.roundTrips).toBeGreaterThan(s.redis.batches); // rows of a batch live on several nodes
    expect(s.redis.commands).toBeLessThanOrEqual(64 * s.redis.batches);
    expect(s.redis.commands).toBeLessThan(s.redis.rowsFetched);
    const mgets = await Promise.all(
      nodes.map(async (n) => {
        const c = new RedisClient(n.url);
        const info = String(await c.send("INFO", ["commandstats"]));
        c.close();
        return Number(/^cmdstat_mget:calls=(\d+)/m.exec(info)?.[1] ?? 0);
      }),
    );
    expect(mgets.reduce((a, b) => a + b, 0)).toBe(s.redis.commands);

    // An update written through another node reaches the running model.
    using writer = loadModel(dlrm, { embeddings: { redis: nodes[2]!.url, tables: "all", subscribe: false } });
    const ids = [1, 2, 3];
    const rows = Float32Array.from({ length: 3 * 16 }, (_, i) => i / 7);
    const applied = s.updates;
    await writer.updateEmbeddings("emb_2.table", ids, rows);
    while (remote.stats().embeddings!.updates === applied) await Bun.sleep(5);
    using twin = loadModel(withRows(dlrm, "emb_2.table", ids, rows));
    const req = requests[0]!;
    (req.candidates.cat_2!.data as BigInt64Array).set([1n, 2n, 3n], 0);
    expect((await remote.rank(req)).outputs.ctr!.data).toEqual((await twin.rank(req)).outputs.ctr!.data);
  }, 30_000);
});
