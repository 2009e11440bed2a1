// Ranking with tables in Redis (through the hot-row and host caches, or with
// no cache at all) gives exactly the scores of the all-local model: fused
// multi-table bags with padding (DLRM), sequence lookups and a table shared by
// two ops (DIN), hot/cold splits of a table, inline and on a worker thread.
import { expect, test } from "bun:test";
import { loadModel, zoo } from "../../sdk";
import type { BuiltModel } from "../../runtime/graph/builder";
import { sampleRequests } from "../../sdk/sample-requests";
import { embeddingTables } from "../../runtime/embeddings/resolver";
import type { RankRequest } from "../../sdk/request";
import { describeRedis, suiteRedis } from "./redis-server";

const dlrm = zoo.dlrm.build({ scale: 0.00002, multiHot: [3, 1, 4, 2, 5], contextFeatures: 2, bottomMlp: [32, 16], topMlp: [32, 1], crossLayers: 1, crossRank: 8, embeddingDim: 16, tableRows: [500, 40, 900, 70, 1200] });
const din = zoo.din.build({ scale: 0.001 });

async function scores(model: ReturnType<typeof loadModel>, requests: RankRequest[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const r of requests) for (const t of Object.values((await model.rank(r)).outputs)) out.push(t.data);
  out.push(...(await model.rankMany(requests)).flatMap((r) => Object.values(r.outputs).map((t) => t.data)));
  return out;
}

describeRedis("remote embedding tables", () => {
  const redis = suiteRedis([
    { prefix: "rankfn:dlrm", model: dlrm },
    { prefix: "rankfn:din", model: din },
  ]);

  const cases: [string, BuiltModel, Record<string, unknown>][] = [
    ["dlrm, all tables, hot + host caches", dlrm, { tables: "all" }],
    ["dlrm, two tables, no caches", dlrm, { tables: ["emb_2.table", "emb_4.table"], hotCacheBytes: 0, hostCacheBytes: 0 }],
    ["dlrm, all tables, tiny hot cache (evicting within a batch)", dlrm, { tables: "all", hotCacheBytes: 6000, hostCacheBytes: 0, ways: 2 }],
    ["dlrm, all tables, worker thread", dlrm, { tables: "all", worker: true }],
    ["din, all tables (sequences, shared table)", din, { tables: "all" }],
    ["dlrm, hot/cold splits (30% and 5 rows local) + hot cache, worker thread", dlrm, { tables: { "emb_0.table": { local: "hot", hotRows: 0.3 }, "emb_4.table": { local: "hot", hotRows: 5 }, "emb_2.table": "remote" }, worker: true }],
  ];
  for (const [name, built, opts] of cases) {
    test(name, async () => {
      const { worker, ...embeddings } = opts as { worker?: boolean };
      const requests = sampleRequests(built, { count: 3, candidates: 37, seed: 5 });
      using local = loadModel(built);
      using remote = loadModel(built, { worker, embeddings: { redis: redis.url, subscribe: false, ...embeddings } as never });
      await remote.ready();
      const want = await scores(local, requests);
      // Twice: first through Redis, then (with caches) from the caches.
      for (let pass = 0; pass < 2; pass++) {
        const got = await scores(remote, requests);
        expect(got.length).toBe(want.length);
        got.forEach((g, i) => expect(g).toEqual(want[i]!));
      }
      const s = remote.stats().embeddings!;
      const named = (embeddings as { tables: unknown }).tables;
      const names = embeddingTables(built.graph).filter((t) => named === "all" || (Array.isArray(named) ? named.includes(t) : t in (named as object)));
      expect(Object.keys(s.tables).sort()).toEqual(names.sort());
      expect(s.redis.fetches).toBeGreaterThan(0);
      expect(Object.values(s.tables).reduce((a, t) => a + t.remote.fetches, 0)).toBe(s.redis.fetches);
      expect(Object.values(s.tables).reduce((a, t) => a + t.remote.bytes, 0)).toBe(s.redis.bytesFetched);
      expect(s.degradedBatches + s.failedBatches).toBe(0);
      const hot = Object.values(s.tables).map((t) => t.hot?.hits ?? 0).reduce((a, b) => a + b, 0);
      if ((embeddings as { hotCacheBytes?: number }).hotCacheBytes === 0) expect(hot).toBe(0);
      else expect(hot).toBeGreaterThan(0);
    }, 30_000);
  }

  test("ids outside a remote table are the caller's error (400 naming the input)", async () => {
    using remote = loadModel(dlrm, { embeddings: { redis: redis.url, tables: "all", subscribe: false } });
    const [req] = sampleRequests(dlrm, { count: 1, candidates: 4 }) as unknown as [{ context: Record<string, { data: BigInt64Array }>; candidates: Record<string, { data: BigInt64Array }> }];
    req.candidates.cat_4!.data[1] = 5000n;
    const err = await remote.rank(req as never).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`candidates.cat_4: id 5000 at row 0, position 1 is outside table "emb_4.table" (1200 rows)`);
  });
});
