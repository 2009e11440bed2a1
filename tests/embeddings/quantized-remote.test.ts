// Tables stored quantized in the model file (fp16, int8 row-wise) travel to
// Redis as stored and come back dequantized through the hot cache: the scores
// equal the local model's, which dequantizes the same rows inside its kernels.
import { expect, test } from "bun:test";
import { loadModel } from "../../sdk";
import { compile } from "../../runtime/compiler/compile";
import { sampleRequests } from "../../sdk/sample-requests";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { pushTables } from "../../runtime/embeddings/push";
import { smallDlrm } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

describeRedis("quantized remote tables", () => {
  const redis = suiteRedis();

  for (const tables of ["f16", "u8q"] as const) {
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
});
