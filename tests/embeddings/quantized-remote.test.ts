// Tables stored quantized in the model file (fp16, int8 and int4 row-wise) travel
// to Redis as stored and come back dequantized through the hot cache: the scores
// equal the local model's, which dequantizes the same rows inside its kernels.
import { expect, test } from "bun:test";
import { loadModel } from "../../sdk";
import { compile } from "../../runtime/compiler/compile";
import { sampleRequests } from "../../sdk/sample-requests";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { pushTables } from "../../runtime/embeddings/push";
import { smallDlrm } from "./fixtures/models";
import { zoo } from "../../sdk";
import { quantizeRowsU4 } from "../../runtime/tensor/quantize";
import { tensor } from "../../runtime/tensor/tensor";
import type { RankingRequest } from "../../sdk/request";
import { describeRedis, suiteRedis } from "./redis-server";

describeRedis("quantized remote tables", () => {
  const redis = suiteRedis();

  for (const tables of ["f16", "u8q", "u4q"] as const) {
    test(`${tables} tables: remote scores equal local scores`, async () => {
      const { model } = compile(smallDlrm(), { tables });
      expect(model.weights.get("emb_4.table")!.dtype).toBe(tables);
      const store = new RedisEmbeddingStore({ url: redis.url, prefix: `rankfn:q${tables}` });
      await pushTables(model, store);
      store.close();
      using local = loadModel(model);
      using remote = loadModel(model, { embeddings: { redis: redis.url, prefix: `rankfn:q${tables}`, tables: "all", subscribe: false } });
      for (const req of sampleRequests(model, { count: 3, candidates: 25, seed: 8 })) {
        for (let pass = 0; pass < 2; pass++) expect((await remote.rank(req)).outputs.ctr!.data).toEqual((await local.rank(req)).outputs.ctr!.data);
      }
    });
  }

  test("u4q tables of odd dim 15 (12-byte rows): hot/cold split, hot cache and Redis rows score as the all-local u4q model", async () => {
    const dlrm = zoo.dlrm.build({ scale: 0.00002, multiHot: [3, 1, 4, 2, 5], contextFeatures: 2, bottomMlp: [32, 15], topMlp: [32, 1], crossLayers: 1, crossRank: 8, embeddingDim: 15, tableRows: [500, 40, 900, 70, 1200], seed: 4 });
    const { model } = compile(dlrm, { tables: "u4q" });
    expect(model.weights.get("emb_0.table")!.dtype).toBe("u4q");
    const prefix = "rankfn:qu4q-odd";
    const store = new RedisEmbeddingStore({ url: redis.url, prefix });
    await pushTables(model, store);
    store.close();
    using local = loadModel(model);
    using remote = loadModel(model, { embeddings: { redis: redis.url, prefix, tables: { "emb_0.table": { local: "hot", hotRows: 0.3 }, "emb_2.table": "remote", "emb_4.table": { local: "hot", hotRows: 5 } }, subscribe: false } });
    // Few candidates over few distinct ids, so rows recur across batches and earn a hot-cache slot.
    const requests = sampleRequests(model, { count: 4, candidates: 40, seed: 11 });
    for (let pass = 0; pass < 3; pass++) {
      for (const req of requests) expect((await remote.rank(req)).outputs.ctr!.data).toEqual((await local.rank(req)).outputs.ctr!.data);
    }
    const t = remote.stats().embeddings!.tables;
    for (const name of ["emb_0.table", "emb_2.table", "emb_4.table"]) {
      expect(t[name]!.remote.rows).toBeGreaterThan(0);
      expect(t[name]!.remote.bytes).toBe(t[name]!.remote.rows * (Math.ceil(15 / 2) + 4));
    }
    expect(t["emb_0.table"]!.local!.hits).toBeGreaterThan(0);
    expect(Object.values(t).reduce((a, x) => a + (x.hot?.hits ?? 0), 0)).toBeGreaterThan(0);
  });

  test("a row update to a u4q table is stored as u4q rows: cached and hot-split copies are replaced, scores equal a local model holding those rows", async () => {
    const { model } = compile(smallDlrm(), { tables: "u4q" });
    const prefix = "rankfn:qu4q-update";
    const store = new RedisEmbeddingStore({ url: redis.url, prefix });
    await pushTables(model, store);
    store.close();
    using remote = loadModel(model, { embeddings: { redis: redis.url, prefix, tables: { "emb_4.table": { local: "hot", hotRows: 0.5 }, "emb_2.table": "remote" }, subscribe: false } });
    const [req] = sampleRequests(model, { count: 1, candidates: 30, seed: 5 }) as RankingRequest[];
    const before = (await remote.rank(req!)).outputs.ctr!.data;
    await remote.rank(req!); // the rows are in the hot cache now
    const ids = [...new Set(Array.from(req!.candidates.cat_4!.data as BigInt64Array, Number).filter((v) => v >= 0))].slice(0, 6);
    const dim = 16;
    const rows = Float32Array.from({ length: ids.length * dim }, (_, i) => Math.sin(i) * 0.3);
    await remote.updateEmbeddings("emb_4.table", ids, rows);
    const table = model.weights.get("emb_4.table")!;
    const bytes = (table.data as Uint8Array).slice();
    const encoded = quantizeRowsU4(rows, ids.length, dim);
    const rb = dim / 2 + 4;
    ids.forEach((id, i) => bytes.set(encoded.subarray(i * rb, (i + 1) * rb), id * rb));
    const weights = new Map(model.weights);
    weights.set("emb_4.table", tensor("u4q", [...table.shape], bytes));
    using updatedLocal = loadModel({ graph: model.graph, weights });
    const after = (await remote.rank(req!)).outputs.ctr!.data;
    expect(after).toEqual((await updatedLocal.rank(req!)).outputs.ctr!.data);
    expect(after).not.toEqual(before);
  });
});
