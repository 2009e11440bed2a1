// `bun run bench embeddings [--json] [--quick]`: the embedding tiers.
//  1. The native hot-row cache on a 10M x 128 fp32 table under a Zipf(1.05)
//     id stream, at budgets of 1%, 5% and 20% of the table: hit rate (misses
//     filled as a server fills them), lookups/s of the whole-batch call, and
//     lookups/s of the hit path alone — 2 threads.
//  2. DLRM end to end (Zipf ids) with (a) every table local, (b) every table
//     in Redis behind a hot cache of 5% of the tables, (c) every table in Redis
//     with no cache: samples/s and ratios to (a), measured in this run against
//     a redis-server this benchmark starts on loopback.
import { RedisClient } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k from "../runtime/ffi";
import { EmbeddingCache } from "../runtime/ffi/emb-cache";
import { RedisEmbeddingStore } from "../runtime/embeddings/redis-store";
import { pushTables } from "../runtime/embeddings/push";
import { embeddingTables } from "../runtime/embeddings/resolver";
import { loadModel, zoo } from "../sdk";
import type { BuiltModel } from "../runtime/graph/builder";
import type { RankingRequest } from "../sdk/request";
import { sampleRequests } from "../sdk/sample-requests";
import { Report } from "./report";
import { progress, time } from "./timing";
import { Zipf } from "./zipf";

const ROWS = 10_000_000;
const DIM = 128;
const ALPHA = 1.05;

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const report = new Report("embeddings");
  k.setNumThreads(2);
  report.fact("table", `${ROWS.toLocaleString("en-US")} x ${DIM} fp32 (${(ROWS * DIM * 4 / 2 ** 30).toFixed(2)} GiB)`);
  report.fact("ids", `Zipf(${ALPHA}) over the table's rows, scattered`);
  report.fact("threads", 2);
  hotCache(report, quick);
  await endToEnd(report, quick);
  report.print(json);
}

function hotCache(report: Report, quick: boolean): void {
  const section = report.section("native hot-row cache (rf_emb_cache_lookup), 2 threads");
  section.note("hit rate: over a measured stream after a warm-up stream, misses inserted after each batch (as a server fills them)");
  section.note("lookups/s: one call per batch of 65,536 ids; hit path: batches of ids all in the cache; targets: hit path >= 50 M/s, hit rate at 5% >= 80%");
  const batch = 65_536;
  const warmIds = quick ? 2_000_000 : 8_000_000;
  const measuredIds = quick ? 1_000_000 : 4_000_000;
  const zipf = new Zipf(ROWS, ALPHA, 7);
  progress(`drawing ${(warmIds + measuredIds).toLocaleString("en-US")} Zipf ids`);
  const stream = zipf.ids(warmIds + measuredIds);
  const fill = new Float32Array(batch * DIM).fill(0.25);
  const out = new Float32Array(batch * DIM);
  for (const pct of [1, 5, 20]) {
    const budget = Math.floor((ROWS * DIM * 4 * pct) / 100);
    progress(`cache at ${pct}% (${(budget / 2 ** 20).toFixed(0)} MiB): warming`);
    using cache = new EmbeddingCache({ rows: ROWS, dim: DIM, budgetBytes: budget, ways: 8 });
    const run = (from: number, to: number) => {
      for (let at = from; at < to; at += batch) {
        const ids = stream.subarray(at, Math.min(to, at + batch));
        const miss = cache.lookup(ids, out);
        if (miss.length === 0) continue;
        const missIds = Int32Array.from(miss, (p) => ids[Number(p)]!);
        cache.insert(missIds, fill.subarray(0, missIds.length * DIM));
      }
    };
    run(0, warmIds);
    cache.stats({ reset: true });
    progress(`cache at ${pct}%: measuring the hit rate`);
    run(warmIds, warmIds + measuredIds);
    const s = cache.stats({ reset: true });
    // Throughput of the whole-batch call on the stream as it comes (hits and misses), no fills.
    const probe = stream.subarray(warmIds, warmIds + batch);
    const mixed = timeSync(() => cache.lookup(probe, out), quick);
    // Hit path: a batch of ids that are all cached.
    const hits = new Int32Array(batch);
    let n = 0;
    for (let at = warmIds; n < batch && at < stream.length; at += batch) {
      const ids = stream.subarray(at, Math.min(stream.length, at + batch));
      const miss = new Set(Array.from(cache.lookup(ids, out), Number));
      for (let i = 0; i < ids.length && n < batch; i++) if (!miss.has(i)) hits[n++] = ids[i]!;
    }
    const hitPath = timeSync(() => cache.lookup(hits.subarray(0, n), out), quick);
    section.add({
      budget: `${pct}%`,
      MiB: budget / 2 ** 20,
      "rows cached": s.capacityRows,
      "hit rate %": (100 * s.hits) / (s.hits + s.misses),
      "evictions": s.evictions,
      "stream Mlookups/s": batch / mixed / 1e6,
      "hit path Mlookups/s": n / hitPath / 1e6,
      "hit path GB/s": (n * DIM * 4) / hitPath / 1e9,
    });
  }
}

/** Median seconds of a synchronous call. */
function timeSync(fn: () => unknown, quick: boolean): number {
  for (let i = 0; i < 3; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 5 || performance.now() - start < (quick ? 200 : 700)) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Requests whose ids follow Zipf(α) within each table (one sampler per table size, shared across calls). */
const samplers = new Map<number, Zipf>();
function zipfRequests(model: BuiltModel, count: number, candidates: number, seed: number): RankingRequest[] {
  const requests = sampleRequests(model, { count, candidates, seed }) as RankingRequest[];
  const rowsOf = new Map<string, number>();
  for (const node of model.graph.nodes) {
    if (node.op === "embedding_bag") rowsOf.set(node.inputs[0]!, model.graph.weights[node.inputs[1]!]!.shape[0]!);
  }
  for (const req of requests) {
    for (const group of [req.context ?? {}, req.candidates]) {
      for (const [name, t] of Object.entries(group)) {
        const rows = rowsOf.get(name);
        if (!rows || !(t.data instanceof BigInt64Array)) continue;
        if (rows < 2) continue;
        let z = samplers.get(rows);
        if (!z) samplers.set(rows, (z = new Zipf(rows, ALPHA, rows)));
        const ids = t.data;
        for (let i = 0; i < ids.length; i++) if (ids[i]! >= 0n) ids[i] = BigInt(z.next());
      }
    }
  }
  return requests;
}

async function endToEnd(report: Report, quick: boolean): Promise<void> {
  const section = report.section("DLRM end to end (DLRM-v2 shape, tables scaled), Zipf ids, 2 threads");
  const redisPath = Bun.which("redis-server");
  if (!redisPath) {
    section.note("skipped: redis-server is not installed (apt-get install redis-server)");
    return;
  }
  const scale = quick ? 0.0002 : 0.001;
  progress(`building DLRM (scale ${scale})`);
  const built = zoo.dlrm.build({ scale });
  const tables = embeddingTables(built.graph);
  const tableBytes = tables.reduce((a, t) => a + built.weights.get(t)!.data.byteLength, 0);
  const dir = mkdtempSync(join(tmpdir(), "rankfn-bench-redis-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = Bun.spawn([redisPath, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitForRedis(url);
    progress(`pushing ${tables.length} tables (${(tableBytes / 2 ** 20).toFixed(0)} MiB) to ${url}`);
    const store = new RedisEmbeddingStore({ url, prefix: "rankfn:dlrm" });
    await pushTables(built, store);
    store.close();
    // A stream of distinct batches (cycled), so caches see a Zipf stream, not one repeated batch.
    progress("drawing Zipf requests");
    const batches = Array.from({ length: quick ? 16 : 48 }, (_, i) => zipfRequests(built, 4, 128, i + 1));
    const rows = batches[0]!.reduce((a, r) => a + r.candidates.dense!.shape[0]!, 0);
    const hot = Math.floor(tableBytes * 0.05);
    const variants = [
      ["(a) all tables local", {}],
      ["(b) Redis + hot cache (5% of tables)", { embeddings: { redis: url, tables: "all" as const, hotCacheBytes: hot, hostCacheBytes: 0, timeoutMs: 5000, subscribe: false } }],
      ["(c) Redis, no cache", { embeddings: { redis: url, tables: "all" as const, hotCacheBytes: 0, hostCacheBytes: 0, timeoutMs: 5000, subscribe: false } }],
    ] as const;
    let base = 0;
    section.note(`one batch = 4 requests x ${rows / 4} candidates, ${batches.length} distinct batches cycled; tables ${(tableBytes / 2 ** 20).toFixed(0)} MiB; hot cache of (b) ${(hot / 2 ** 20).toFixed(1)} MiB (no host cache)`);
    section.note("targets: (b) >= 70% of (a)");
    for (const [name, options] of variants) {
      progress(`DLRM ${name}`);
      using model = loadModel(built, options);
      await model.ready();
      // One pass over the stream warms the caches of (b) before timing; counters are read for the timed part only.
      let next = 0;
      const step = () => model.rankMany(batches[next++ % batches.length]!);
      for (let i = 0; i < batches.length; i++) await step();
      const before = model.stats().embeddings;
      const t = await time(step, { warmup: 0, minCalls: batches.length, minSeconds: quick ? 0.5 : 2 });
      const sps = rows / t.median;
      if (!base) base = sps;
      const emb = model.stats().embeddings;
      const sum = (s: typeof emb, f: (x: NonNullable<typeof emb>["tables"][string]) => number) => (s ? Object.values(s.tables).reduce((a, x) => a + f(x), 0) : 0);
      const hotHits = sum(emb, (x) => x.hot?.hits ?? 0) - sum(before, (x) => x.hot?.hits ?? 0);
      const hotMiss = sum(emb, (x) => x.hot?.misses ?? 0) - sum(before, (x) => x.hot?.misses ?? 0);
      const fetched = sum(emb, (x) => x.remote.rows) - sum(before, (x) => x.remote.rows);
      section.add({
        variant: name,
        "samples/s": sps,
        "p50 ms": t.median * 1e3,
        "p99 ms": t.p99 * 1e3,
        "x local": sps / base,
        "hot hit % (distinct ids)": emb && hotHits + hotMiss > 0 ? (100 * hotHits) / (hotHits + hotMiss) : "-",
        "Redis rows/batch": fetched / t.calls,
      });
    }
  } finally {
    server.kill();
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitForRedis(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const c = new RedisClient(url, { connectionTimeout: 200, autoReconnect: false, enableOfflineQueue: false });
    try {
      await c.connect();
      return;
    } catch {
      await Bun.sleep(25);
    } finally {
      c.close();
    }
  }
  throw new Error(`redis-server at ${url} did not start`);
}
