// Remote tables behind the HTTP server, one fault policy per model: with Redis
// killed, the "default" model answers 200 flagged degraded, the "fail" model
// 503 with Retry-After; both recover when Redis returns; /metrics reports the
// tiers per model and table.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, writeModel } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { encodeTensor, packr, MSGPACK } from "../../runtime/server/wire";
import { sampleRequests } from "../../sdk/sample-requests";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { pushTables } from "../../runtime/embeddings/push";
import type { RankingRequest } from "../../sdk/request";
import { type LoopbackServer, startServer } from "../server/loopback";
import { hasPromtool, promtool } from "../server/promtool";
import { smallDlrm } from "./fixtures/models";
import { type RedisProcess, describeRedis, startRedis } from "./redis-server";

const dlrm = smallDlrm();
const root = mkdtempSync(join(tmpdir(), "rankfn-emb-server-"));
writeModel(join(root, "dlrm.safetensors"), dlrm);
const [request] = sampleRequests(dlrm, { count: 1, candidates: 9, seed: 21 }) as RankingRequest[];

describeRedis("remote tables behind the server", () => {
  let redis: RedisProcess;
  let served: LoopbackServer;
  beforeAll(async () => {
    redis = await startRedis();
    const store = new RedisEmbeddingStore({ url: redis.url, prefix: "rankfn:dlrm" });
    await pushTables(dlrm, store);
    store.close();
    const common = { redis: redis.url, tables: "all" as const, timeoutMs: 200, hotCacheBytes: 0, hostCacheBytes: 0 };
    served = await startServer({
      models: { lenient: "dlrm.safetensors", strict: "dlrm.safetensors", patient: "dlrm.safetensors" },
      modelRoot: root,
      embeddings: { lenient: { ...common, onFailure: "default" }, strict: { ...common, onFailure: "fail" }, patient: { ...common, timeoutMs: 10_000, onFailure: "fail" } },
    });
  });
  afterAll(async () => {
    await served?.stop();
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const rawRank = (model: string, deadlineMs?: number) => {
    const group = (g: Record<string, never> | undefined) => g && Object.fromEntries(Object.entries(g).map(([k, t]) => [k, encodeTensor(t)]));
    const body = { context: group(request!.context as never), candidates: group(request!.candidates as never), ...(deadlineMs ? { deadline_ms: deadlineMs } : {}) };
    return fetch(`${served.url}/v1/models/${model}/rank`, { method: "POST", headers: { "Content-Type": MSGPACK }, body: packr.pack(body) });
  };

  test("per-model fault policy over HTTP, recovery, and /metrics", async () => {
    using local = loadModel(dlrm);
    const want = Array.from((await local.rank(request!)).outputs.ctr!.data);
    const client = new RankingClient({ url: served.url, deadlineMs: 5000 });
    for (const model of ["lenient", "strict"]) {
      const res = await client.rank(model, request!);
      expect(Array.from(res.outputs.ctr!.data)).toEqual(want);
      expect(res.degraded).toBeUndefined();
    }
    await redis.kill();
    const degraded = await client.rank("lenient", request!);
    expect(degraded.degraded).toBe(true);
    expect(Array.from(degraded.outputs.ctr!.data)).not.toEqual(want);
    const failed = await rawRank("strict");
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).not.toBeNull();
    expect(((await failed.json()) as { error: { code: string } }).error.code).toMatch(/^embeddings_/);
    const health = await fetch(`${served.url}/healthz`);
    expect(health.status).toBe(200);

    await redis.start();
    for (const model of ["lenient", "strict"]) {
      let res = await client.rank(model, request!); // the client retries the strict model's 503s
      while (res.degraded) res = await client.rank(model, request!);
      expect(Array.from(res.outputs.ctr!.data)).toEqual(want);
    }

    const metrics = await (await fetch(`${served.url}/metrics`)).text();
    expect(metrics).toMatch(/^rankfn_embedding_lookups_total\{model="strict",table="emb_0\.table",tier="host",result="miss"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_remote_rows_total\{model="lenient",table="emb_4\.table"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_table_fetches_total\{model="strict",table="emb_2\.table"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_table_fetch_seconds_total\{model="strict",table="emb_2\.table"\} \d/m);
    expect(metrics).toMatch(/^rankfn_embedding_degraded_batches_total\{model="lenient"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_failed_batches_total\{model="strict"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_redis_connected\{model="strict"\} 1$/m);
    expect(metrics).toMatch(/^rankfn_embedding_remote_failures_total\{model="strict",kind="error"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rankfn_embedding_remote_seconds_total\{model="strict"\} \d/m);
    expect(metrics).toMatch(/^rankfn_embedding_prefetch_rows_total\{model="strict",result="used"\} \d+$/m);
    if (hasPromtool) expect(await promtool(metrics)).toEqual({ code: 0, output: "" });
  }, 30_000);

  test("a slow Redis cannot hold a request past its own deadline, even under a longer model timeout", async () => {
    const admin = new RedisClient(redis.url);
    await admin.send("CLIENT", ["PAUSE", "1500", "ALL"]); // ends on its own
    admin.close();
    // "patient" waits up to 10 s for Redis, but this request's deadline is 150 ms.
    const res = await rawRank("patient", 150);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("embeddings_timeout");
  }, 30_000);
});
