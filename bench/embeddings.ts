// `bun run bench embeddings [--json] [--quick] [--only=cache|dlrm|rule]`: the embedding tiers.
//  1. The native hot-row cache on a 10M x 128 fp32 table under a Zipf(1.05)
//     id stream, at budgets of 1%, 5% and 20% of the table: hit rate (misses
//     filled as a server fills them), lookups/s of the whole-batch call, and
//     lookups/s of the hit path alone — 2 threads.
//  2. DLRM end to end (Zipf ids): every table local, every table in Redis with
//     no cache, behind a hot cache of 1/5/20% of the tables, and with hot/cold
//     splits keeping 1% and 10% of each table local: samples/s and ratios to
//     all-local, hit rate by tier, Redis commands / round trips / bytes per
//     batch, p99 — measured in this run against a redis-server this benchmark
//     starts on loopback.
//  3. The rule that a cache never makes the remote tier slower (embeddings-rule.ts):
//     1%, 5% and 20% budgets vs no cache, the tier alone, interleaved rounds;
//     a violation is marked in the table and in the facts, and exits with status 1.
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
import { checkRule } from "./embeddings-rule";

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
  // --only=cache / --only=dlrm runs one of the two sections.
  const only = args.find((a) => a.startsWith("--only="))?.slice(7);
  if (!only || only === "cache") hotCache(report, quick);
  const failed = !only || only === "dlrm" || only === "rule" ? await endToEnd(report, quick, only !== "rule", only !== "dlrm") : [];
  report.print(json);
  if (failed.length > 0) {
    console.error(`bench embeddings: RULE VIOLATED: the remote tier with a hot cache of ${failed.map((p) => `${p}%`).join(", ")} was slower than without one`);
    process.exitCode = 1;
  }
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
  const bandwidth = k.probeMemBandwidth(2);
  section.note(`hit path % bw: bytes of rows copied (read + written) over the read bandwidth probe, ${bandwidth.toFixed(1)} GB/s (2 threads), measured now; target >= 50%`);
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
      "hit path % bw": (100 * (2 * n * DIM * 4)) / hitPath / 1e9 / bandwidth,
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

type EmbStats = NonNullable<ReturnType<ReturnType<typeof loadModel>["stats"]>["embeddings"]>;
type TierStats = EmbStats["tables"][string];

/** DLRM against a redis-server of its own: the end-to-end variants and/or the rule check; returns the budgets where the rule failed. */
async function endToEnd(report: Report, quick: boolean, variantsToo: boolean, rule: boolean): Promise<number[]> {
  const redisPath = Bun.which("redis-server");
  if (!redisPath) {
    report.section("DLRM with remote tables").note("skipped: redis-server is not installed (apt-get install redis-server)");
    return [];
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
    // The frequency file a user would pass for a hot/cold split: here the generator's own popularity ranks.
    const counts = (t: string) => {
      const rows = built.weights.get(t)!.shape[0]!;
      const z = new Zipf(rows, ALPHA, rows);
      const c = new Float64Array(rows);
      if (rows >= 2) for (let r = 0; r < rows; r++) c[z.idOf(r)] = rows - r;
      return c;
    };
    const splitOf = (fraction: number) => Object.fromEntries(tables.map((t) => [t, { local: "hot" as const, hotRows: fraction, counts: counts(t) }]));
    progress(`pushing ${tables.length} tables (${(tableBytes / 2 ** 20).toFixed(0)} MiB) to ${url}, and the cold parts of two splits`);
    for (const [prefix, split] of [["rankfn:dlrm", undefined], ["rankfn:split1", splitOf(0.01)], ["rankfn:split10", splitOf(0.1)]] as const) {
      if (prefix !== "rankfn:dlrm" && !variantsToo) continue;
      const store = new RedisEmbeddingStore({ url, prefix });
      await pushTables(built, store, split ? { split } : {});
      store.close();
    }
    if (!variantsToo) return await checkRule(report, built, url, "rankfn:dlrm", { quick, alpha: ALPHA });
    const section = report.section("DLRM end to end (DLRM-v2 shape, tables scaled), Zipf ids, 2 threads");
    // A stream of distinct batches (cycled), so caches see a Zipf stream, not one repeated batch.
    progress("drawing Zipf requests");
    const batches = Array.from({ length: quick ? 16 : 48 }, (_, i) => zipfRequests(built, 4, 128, i + 1));
    const rows = batches[0]!.reduce((a, r) => a + r.candidates.dense!.shape[0]!, 0);
    const layout = layoutCost(batches);
    const remote = (extra: Record<string, unknown>) => ({ embeddings: { redis: url, tables: "all" as const, hotCacheBytes: 0, hostCacheBytes: 0, timeoutMs: 5000, subscribe: false, ...extra } as never });
    const cache = (pct: number) => remote({ hotCacheBytes: Math.floor((tableBytes * pct) / 100) });
    // "+ prefetch": each batch names the next one (rankMany's `next`, as the server passes its coalescer's queue),
    // whose missed rows are fetched while this one computes.
    const variants: [string, object, boolean?][] = [
      ["all tables local", {}],
      ["Redis, no cache", remote({})],
      ["Redis, no cache + prefetch", remote({}), true],
      ["Redis + hot cache 1%", cache(1)],
      ["Redis + hot cache 5%", cache(5)],
      ["Redis + hot cache 5% + prefetch", cache(5), true],
      ["Redis + hot cache 20%", cache(20)],
      ["hot/cold split 1% local", remote({ prefix: "rankfn:split1", tables: splitOf(0.01) })],
      ["hot/cold split 10% local", remote({ prefix: "rankfn:split10", tables: splitOf(0.1) })],
      ["hot/cold split 10% local + prefetch", remote({ prefix: "rankfn:split10", tables: splitOf(0.1) }), true],
    ];
    section.note(`one batch = 4 requests x ${rows / 4} candidates, ${batches.length} distinct batches cycled; tables ${(tableBytes / 2 ** 20).toFixed(1)} MiB; hot cache budgets are % of the tables' bytes; no host cache`);
    section.note("hit % columns: of each batch's distinct ids, by the tier that served them (local: the split's hot rows; hot: the native cache)");
    section.note("cmds, round trips, KiB: Redis commands (MGETs), round trips (one per node) and row bytes per batch");
    section.note(`layout: a batch has ${layout.distinct.toFixed(0)} distinct ids; as MGETs of <= 1024 keys per table that is ${layout.mget.toFixed(1)} commands, as HMGETs over 64-row hash buckets ${layout.buckets.toFixed(0)} (one per distinct bucket), hence MGET`);
    section.note("prefetch used %: of the rows fetched from Redis, those a batch took from the prefetch issued while the previous batch ran (round trips then overlap compute)");
    section.note("tier ms/batch: time the embedding tier spent per batch (gathering rows: lookups, Redis, decoding; plus the hot-cache inserts queued after the batch)");
    section.note("targets: Redis + hot cache 5% >= 0.70x local; tier x no cache: this variant's tier ms over the no-cache one's (sequential variants, so noisy: the rule's verdict is the interleaved check below)");
    let base = 0;
    let noCacheTier = 0;
    const want = (await scoresOf(built, {}, batches[0]!));
    for (const [name, options, prefetch] of variants) {
      progress(`DLRM ${name}`);
      using model = loadModel(built, options);
      await model.ready();
      // One pass over the stream warms the caches before timing; counters are read for the timed part only.
      let next = 0;
      const step = () => {
        const i = next++ % batches.length;
        return model.rankMany(batches[i]!, [], prefetch ? { next: batches[(i + 1) % batches.length] } : {});
      };
      for (let i = 0; i < batches.length; i++) await step();
      const same = equalScores(await model.rankMany(batches[0]!), want);
      next = 1;
      const before = model.stats().embeddings;
      const t = await time(step, { warmup: 0, minCalls: batches.length, minSeconds: quick ? 0.5 : 2 });
      const sps = rows / t.median;
      if (!base) base = sps;
      const emb = model.stats().embeddings;
      // The tier's own cost per batch (gather + queued inserts): what a cache must not raise; less noisy than samples/s on a shared machine.
      const tierMs = emb ? (emb.cost.gatherMs + emb.cost.insertMs - before!.cost.gatherMs - before!.cost.insertMs) / (emb.cost.batches - before!.cost.batches) : 0;
      if (name === "Redis, no cache") noCacheTier = tierMs;
      const d = (f: (x: TierStats) => number) => sum(emb, f) - sum(before, f);
      const r = (f: (x: EmbStats["redis"]) => number) => (emb ? f(emb.redis) - f(before!.redis) : 0);
      const localHits = d((x) => x.local?.hits ?? 0);
      const hotHits = d((x) => x.hot?.hits ?? 0);
      const fetched = d((x) => x.remote.rows);
      const distinct = localHits + hotHits + d((x) => x.host.hits) + fetched;
      const pct = (v: number) => (emb && distinct > 0 ? (100 * v) / distinct : "-");
      section.add({
        variant: name,
        "samples/s": sps,
        "x local": sps / base,
        "p99 ms": t.p99 * 1e3,
        "local hit %": pct(localHits),
        "hot hit %": pct(hotHits),
        "Redis %": pct(fetched),
        "cmds/batch": r((x) => x.commands) / t.calls,
        "round trips/batch": r((x) => x.roundTrips) / t.calls,
        "KiB/batch": r((x) => x.bytesFetched) / t.calls / 1024,
        "prefetch used %": emb && fetched > 0 ? (100 * (emb.prefetch.used - before!.prefetch.used)) / fetched : "-",
        "tier ms/batch": emb ? tierMs : "-",
        "tier x no cache": name.startsWith("Redis +") ? tierMs / noCacheTier : "-",
        "scores = local": same ? "yes" : "NO",
      });
    }
    return rule ? await checkRule(report, built, url, "rankfn:dlrm", { quick, alpha: ALPHA }) : [];
  } finally {
    server.kill();
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per batch (mean): distinct (input, id) pairs, MGET commands of <= 1024 keys per input, distinct 64-row buckets. */
function layoutCost(batches: RankingRequest[][]): { distinct: number; mget: number; buckets: number } {
  let distinct = 0;
  let mget = 0;
  let buckets = 0;
  for (const batch of batches) {
    const ids = new Map<string, Set<number>>();
    for (const req of batch) {
      for (const group of [req.context ?? {}, req.candidates]) {
        for (const [name, t] of Object.entries(group)) {
          if (!(t.data instanceof BigInt64Array)) continue;
          let set = ids.get(name);
          if (!set) ids.set(name, (set = new Set()));
          for (const v of t.data) if (v >= 0n) set.add(Number(v));
        }
      }
    }
    for (const set of ids.values()) {
      distinct += set.size;
      mget += Math.ceil(set.size / 1024);
      buckets += new Set([...set].map((v) => Math.floor(v / 64))).size;
    }
  }
  return { distinct: distinct / batches.length, mget: mget / batches.length, buckets: buckets / batches.length };
}

function sum(s: EmbStats | undefined, f: (x: TierStats) => number): number {
  return s ? Object.values(s.tables).reduce((a, x) => a + f(x), 0) : 0;
}

async function scoresOf(built: BuiltModel, options: object, batch: RankingRequest[]): Promise<Float32Array[]> {
  using m = loadModel(built, options);
  return (await m.rankMany(batch)).map((r) => r.outputs.ctr!.data);
}

function equalScores(got: { outputs: Record<string, { data: Float32Array }> }[], want: Float32Array[]): boolean {
  return got.length === want.length && got.every((r, i) => {
    const a = r.outputs.ctr!.data;
    const b = want[i]!;
    return a.length === b.length && a.every((v, j) => Object.is(v, b[j]));
  });
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
