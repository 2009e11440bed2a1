// Dense parallelism with the embedding tables in Redis (a real redis-server): the
// rows gathered from the remote tier feed the same lookups, and the linear chains
// split over two core groups (tensor-parallel and replicated) score as the
// all-local single-device model within 1e-5, inline and on a worker.
import { expect, test } from "bun:test";
import { loadModel, zoo } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import { describeRedis, suiteRedis } from "../embeddings/redis-server";

const dlrm = zoo.dlrm.build({ scale: 0.00002, multiHot: [3, 1, 4, 2, 5], contextFeatures: 2, bottomMlp: [48, 32, 16], topMlp: [64, 40, 24, 1], crossLayers: 1, crossRank: 8, embeddingDim: 16, tableRows: [500, 40, 900, 70, 1200] });

describeRedis("dense parallelism with remote embedding tables", () => {
  const redis = suiteRedis([{ prefix: "rankfn:dlrm", model: dlrm }]);
  test.each([["tensor", false], ["replicate", false], ["tensor", true]] as const)("%s (worker: %p)", async (dense, worker) => {
    const requests = sampleRequests(dlrm, { count: 3, candidates: 29, seed: 7 });
    using local = loadModel(dlrm);
    using remote = loadModel(dlrm, { worker, devices: "cpu:2x1", parallel: { dense }, embeddings: { redis: redis.url, subscribe: false, tables: "all" } as never });
    await remote.ready();
    for (const r of requests) {
      const want = (await local.rank(r)).outputs.ctr!.data;
      const got = (await remote.rank(r)).outputs.ctr!.data;
      const scale = Math.max(...Array.from(want, Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!))) / scale).toBeLessThan(1e-5);
    }
    expect(remote.stats().embeddings!.redis.fetches).toBeGreaterThan(0);
    if (!worker) expect(remote.stats().parallel!.dense!.batches).toBeGreaterThan(0);
  });
});
