// Online updates: a row written through one model's update API reaches another
// running model (same tables in Redis) over pub/sub; its next batch scores with
// the new row — exactly the scores of a local model holding that row — with no
// restart and no failed request.
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import { loadModel, updateEmbeddingRows } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import type { RankingRequest } from "../../sdk/request";
import { smallDlrm, withRows } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = smallDlrm();
const score = async (m: ReturnType<typeof loadModel>, r: RankingRequest) => (await m.rank(r)).outputs.ctr!.data;

/** Wait for `cond` (an event, not a time bound: the test's own timeout is the limit). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await Bun.sleep(5);
}

describeRedis("online embedding updates", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm }]);

  test("an update through one model is seen by another running model without a restart", async () => {
    const options = { embeddings: { redis: redis.url, tables: "all" as const } };
    using writer = loadModel(dlrm, options);
    using server = loadModel(dlrm, options);
    await Promise.all([writer.ready(), server.ready()]);
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 20, seed: 3 }) as RankingRequest[];
    const before = await score(server, req!); // rows now cached in the server's hot and host tiers
    const ids = Array.from((req!.candidates.cat_4!.data as BigInt64Array).subarray(0, 5), Number).filter((v) => v >= 0);
    const rows = Float32Array.from({ length: ids.length * 16 }, (_, i) => Math.sin(i) * 2);
    const applied = server.stats().embeddings!.updates;
    await writer.updateEmbeddings("emb_4.table", ids, rows);
    await until(() => server.stats().embeddings!.updates > applied);
    using updatedLocal = loadModel(withRows(dlrm, "emb_4.table", ids, rows));
    const after = await score(server, req!);
    expect(after).toEqual(await score(updatedLocal, req!));
    expect(after).not.toEqual(before);
    expect(await score(writer, req!)).toEqual(after); // the writer sees its own update at once
    expect(server.stats().embeddings!.failedBatches).toBe(0);
  }, 20_000);

  test("updates are validated: unknown table, ids outside the table", async () => {
    using m = loadModel(dlrm, { embeddings: { redis: redis.url, tables: ["emb_0.table"], subscribe: false } });
    await expect(m.updateEmbeddings("emb_1.table", [1], new Float32Array(16))).rejects.toThrow(/not a remote table/);
    await expect(m.updateEmbeddings("emb_0.table", [500], new Float32Array(16))).rejects.toThrow(/outside the table's 500 rows/);
    using local = loadModel(dlrm);
    await expect(local.updateEmbeddings("emb_0.table", [1], new Float32Array(16))).rejects.toThrow(/no remote embedding tables/);
  });

  test("a writer without a model (updateEmbeddingRows) updates a running model", async () => {
    using server = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all" } });
    await server.ready();
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 8, seed: 4 }) as RankingRequest[];
    await score(server, req!);
    const ids = [Number((req!.context!.cat_0!.data as BigInt64Array).find((v) => v >= 0n))];
    const rows = new Float32Array(16).fill(-0.75);
    const applied = server.stats().embeddings!.updates;
    await updateEmbeddingRows({ redis: redis.url, prefix: "rankfn:dlrm", table: "emb_0.table", ids, rows });
    await until(() => server.stats().embeddings!.updates > applied);
    using twin = loadModel(withRows(dlrm, "emb_0.table", ids, rows));
    expect(await score(server, req!)).toEqual(await score(twin, req!));
    await expect(updateEmbeddingRows({ redis: redis.url, prefix: "rankfn:dlrm", table: "nope", ids, rows })).rejects.toThrow(/no table "nope"/);
    await expect(updateEmbeddingRows({ redis: redis.url, prefix: "rankfn:dlrm", table: "emb_0.table", ids, rows: new Float32Array(3) })).rejects.toThrow(/3 values for 1 rows of dim 16/);
  }, 20_000);

  test("a dropped subscription resyncs: cached rows are dropped, so an update it missed is still seen", async () => {
    using server = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all" } });
    await server.ready();
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 8, seed: 6 }) as RankingRequest[];
    (req!.context!.cat_1!.data as BigInt64Array)[0] = 7n;
    await score(server, req!); // rows cached
    const admin = new RedisClient(redis.url);
    expect(await admin.send("CLIENT", ["KILL", "TYPE", "pubsub"])).toBeGreaterThanOrEqual(1);
    admin.close();
    const ids = [7];
    const rows = new Float32Array(16).fill(1.25);
    await updateEmbeddingRows({ redis: redis.url, prefix: "rankfn:dlrm", table: "emb_1.table", ids, rows }); // maybe missed
    await until(() => server.stats().embeddings!.resyncs >= 1);
    using twin = loadModel(withRows(dlrm, "emb_1.table", ids, rows));
    expect(await score(server, req!)).toEqual(await score(twin, req!));
  }, 20_000);
});
