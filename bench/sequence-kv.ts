// `bun run bench sequence --kv [--quick] [--json]` (also `bun run bench sequence-kv`):
// the user-history KV cache end to end (issue 16). A stream of ranking requests
// from Zipf(1.1)-distributed users whose histories grow by 1–5 events between
// visits (the shape: L = 2048, 256 candidates; --quick: L = 512, 64),
// scored in process one request at a time by the zoo hstu model:
//   - cache off (no user, the model as before issue 16);
//   - native tier only at 25 / 60 / 80 / 105 % of the working set (hit ratios of
//     about 50 / 80 / 90 / 98-100 % on this stream);
//   - native + host tier (the 50 % native budget and a bf16 host tier);
//   - onnxruntime-node on the same model (the peer: no cache, each request's events);
//   - bf16 and int8 pages at the 98 % budget: NDCG@10 against f32 pages on the
//     same stream, and page memory per cached user;
//   - then the sequence-parallel sections (bench/sequence-parallel.ts: one long
//     history on 1 device × 1 core against 2 devices × 1 core).
// Every configuration warms on the stream's first part; the rest is measured interleaved
// (request i on each configuration in turn, so other load slows them alike):
// throughput, p50 / p99 latency, hit ratio (and the host tier's share of hits),
// history tokens computed per request, and the ratio to cache off.
import * as ort from "onnxruntime-node";
import { Model, tensor } from "../sdk";
import { zoo } from "../sdk/zoo";
import { hstuOptions } from "../sdk/zoo/hstu";
import type { RankingRequest } from "../runtime/engine/request";
import type { KvCacheOptions, KvCacheStats } from "../runtime/engine/kv-cache";
import { kvPageBytes } from "../runtime/ffi/kv-store";
import * as k from "../runtime/ffi";
import { Rng } from "../runtime/tensor/random";
import { hstuOnnxModel } from "./hstu-onnx-model";
import { sequenceParallelSection } from "./sequence-parallel";
import { Report } from "./report";
import { Zipf } from "./zipf";
import { progress } from "./timing";

const THREADS = 2;

interface Shape {
  L: number;
  candidates: number;
  users: number;
  warm: number;
  measured: number;
  model: { embeddingDim: number; heads: number; qkDim: number; vDim: number; layers: number };
}

const full: Shape = { L: 2048, candidates: 256, users: 32, warm: 64, measured: 100, model: { embeddingDim: 128, heads: 4, qkDim: 32, vDim: 32, layers: 2 } };
const quickShape: Shape = { L: 512, candidates: 64, users: 32, warm: 64, measured: 128, model: { embeddingDim: 64, heads: 2, qkDim: 32, vDim: 32, layers: 2 } };

/** The seeded request stream: the same users, visits and candidates for every configuration. */
interface Visit {
  user: string;
  request: RankingRequest;
  events: number;
  /** The same request for onnxruntime: the history's events only (its graph takes any length). */
  feeds: Record<string, ort.Tensor>;
}

function stream(shape: Shape, itemRows: number): Visit[] {
  const rng = new Rng(17);
  const zipf = new Zipf(shape.users, 1.1, 5);
  const hist = new Map<number, { items: number[]; actions: number[]; times: number[] }>();
  const out: Visit[] = [];
  const { L } = shape;
  // The warm part starts with one visit of every user (no first-visit misses are measured), then Zipf visits.
  for (let i = 0; i < shape.users + shape.warm + shape.measured; i++) {
    const u = i < shape.users ? zipf.idOf(i) : zipf.next();
    let h = hist.get(u);
    // A first visit brings a long history (85–93 % of L: the "history length L"); later ones 1–5 events.
    const add = h ? 1 + rng.int(5) : Math.floor(0.85 * L) + rng.int(Math.floor(0.08 * L));
    if (!h) hist.set(u, (h = { items: [], actions: [], times: [] }));
    for (let j = 0; j < add; j++) {
      h.items.push(rng.int(itemRows));
      h.actions.push(rng.int(8));
      h.times.push((h.times.at(-1) ?? 1_700_000_000) + 1 + rng.int(600));
    }
    // Past L the history is cut back to 85 % of L at once (chunked truncation, one miss per cut): a
    // window sliding by one event each visit would change every cached token's context, so every visit would miss.
    if (h.items.length > L) {
      const drop = h.items.length - Math.floor(0.85 * L);
      for (const xs of [h.items, h.actions, h.times]) xs.splice(0, drop);
    }
    const take = (xs: number[]) => {
      const last = xs.slice(-L);
      const a = new BigInt64Array(L).fill(-1n);
      last.forEach((x, t) => (a[L - last.length + t] = BigInt(x)));
      return tensor("i64", [1, L], a);
    };
    const request: RankingRequest = {
      context: { hist_items: take(h.items), hist_actions: take(h.actions), hist_ts: take(h.times), request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt(h.times.at(-1)! + 30))) },
      candidates: { item_id: tensor("i64", [shape.candidates, 1], BigInt64Array.from({ length: shape.candidates }, () => BigInt(rng.int(itemRows)))) },
    };
    const events = Math.min(L, h.items.length);
    const ortEvents = (t: string) => new ort.Tensor("int64", (request.context![t]!.data as BigInt64Array).slice(L - events), [events]);
    const feeds = {
      hist_items: ortEvents("hist_items"), hist_actions: ortEvents("hist_actions"), hist_ts: ortEvents("hist_ts"),
      request_ts: new ort.Tensor("int64", request.context!.request_ts!.data as BigInt64Array, [1]),
      item_id: new ort.Tensor("int64", request.candidates.item_id!.data as BigInt64Array, [shape.candidates, 1]),
    };
    out.push({ user: `u${u}`, request, events, feeds });
  }
  return out;
}

interface RunResult {
  rps: number;
  p50: number;
  p99: number;
  hitRatio: number;
  hostShare: number;
  tokensPerRequest: number;
  scores: Float32Array[];
  bytesPerUser: number;
}

interface Config {
  mode: string;
  budget: string;
  /** rankfn, or onnxruntime-node on the same model (bench/hstu-onnx-model.ts, no cache). */
  model: Model | ort.InferenceSession;
  cached: boolean;
  times: number[];
  scores: Float32Array[];
  before?: KvCacheStats;
}

/**
 * Warm every configuration on the first part of the stream, then measure the rest
 * interleaved — request i on each configuration in turn — so that other processes
 * taking the cores slow every configuration alike (the ratios hold within one run).
 */
async function runAll(configs: Config[], visits: Visit[], shape: Shape): Promise<Map<Config, RunResult>> {
  const warm = shape.users + shape.warm;
  const score = async (c: Config, i: number): Promise<Float32Array> => {
    if (c.model instanceof Model) return c.model.rankSync(c.cached ? { ...visits[i]!.request, user: visits[i]!.user } : visits[i]!.request).outputs.ctr!.data.slice();
    return (await c.model.run(visits[i]!.feeds)).ctr!.data as Float32Array;
  };
  for (const c of configs) {
    progress(`warming ${c.mode} ${c.budget}`);
    for (let i = 0; i < warm; i++) await score(c, i);
    if (c.model instanceof Model) c.before = c.model.stats().kvCache;
  }
  progress(`measuring ${visits.length - warm} requests on ${configs.length} configurations, interleaved`);
  for (let i = warm; i < visits.length; i++) {
    for (const c of configs) {
      const t = performance.now();
      c.scores.push(await score(c, i));
      c.times.push(performance.now() - t);
    }
  }
  const out = new Map<Config, RunResult>();
  for (const c of configs) {
    const n = c.times.length;
    const seconds = c.times.reduce((a, b) => a + b, 0) / 1000;
    const sorted = [...c.times].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    const after = c.model instanceof Model ? c.model.stats().kvCache : undefined;
    const before = c.before;
    let tokens = visits.slice(warm).reduce((a, v) => a + v.events, 0) / n;
    let hitRatio = 0;
    let hostShare = 0;
    let bytesPerUser = 0;
    if (before && after) {
      const hits = after.hits - before.hits;
      const lookups = hits + after.misses - before.misses;
      hitRatio = lookups > 0 ? hits / lookups : 0;
      hostShare = hits > 0 ? (after.hostHits - before.hostHits) / hits : 0;
      tokens = (after.tokensComputed - before.tokensComputed) / n;
      bytesPerUser = after.entries > 0 ? after.bytesUsed / after.entries : 0;
    }
    out.set(c, { rps: n / seconds, p50: at(0.5), p99: at(0.99), hitRatio, hostShare, tokensPerRequest: tokens, scores: c.scores, bytesPerUser });
    if (c.model instanceof Model) c.model.dispose();
    else await c.model.release();
  }
  return out;
}

/** Mean NDCG@10 of each request's ranking by `got` against the gains (and ideal order) of `want`. */
function ndcg10(want: Float32Array[], got: Float32Array[]): number {
  let sum = 0;
  want.forEach((w, r) => {
    const g = got[r]!;
    const order = (xs: Float32Array) => Array.from(xs.keys()).sort((a, b) => xs[b]! - xs[a]!).slice(0, 10);
    const dcg = (idx: number[]) => idx.reduce((acc, i, rank) => acc + w[i]! / Math.log2(rank + 2), 0);
    sum += dcg(order(g)) / dcg(order(w));
  });
  return sum / want.length;
}

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const shape = quick ? quickShape : full;
  const report = new Report("sequence --kv");
  k.setNumThreads(THREADS);
  report.fact("backend", k.loadLibrary().backend);
  report.fact("threads", THREADS);
  const options = { ...shape.model, historyLength: shape.L, rabBuckets: 24, rab: "time" as const, seed: 5 };
  const built = zoo.hstu.build(options);
  const visits = stream(shape, hstuOptions(options).itemTableRows);
  // The working set: every user's entry at its largest (f32 pages; metadata included by the store's budget rule).
  const page = kvPageBytes("f32", shape.model.layers, shape.model.heads, shape.model.qkDim, 16);
  const longest = new Map<string, number>();
  for (const v of visits) longest.set(v.user, Math.max(longest.get(v.user) ?? 0, v.events));
  const working = [...longest.values()].reduce((a, n) => a + Math.ceil(n / 16) * (page + 96), 0);
  const mb = (bytes: number) => bytes / (1 << 20);
  report.fact("history length L", shape.L);
  report.fact("candidates per request", shape.candidates);
  report.fact("users (Zipf 1.1)", shape.users);
  report.fact("requests warm (one per user, then Zipf) + measured", `${shape.users} + ${shape.warm} + ${shape.measured}`);
  report.fact("working set MiB (f32 pages)", mb(working));

  const section = report.section(`zoo hstu (fp32, d = ${shape.model.embeddingDim}, H = ${shape.model.heads}, qk/v ${shape.model.qkDim}/${shape.model.vDim}, ${shape.model.layers} layers, rab by time), one request at a time, rankSync`);
  section.note("x off: throughput ratio; x off (p50): median latency ratio (robust to other processes taking the cores now and then); x ORT: throughput ratio to onnxruntime-node");
  section.note("onnxruntime-node: the same model and weights as plain ONNX ops (bench/hstu-onnx-model.ts, history length dynamic: each request's events only, bias buckets from the timestamps in the graph), nothing cached across requests");
  section.note("budget: the native tier as a share of the stream's working set (every user's largest history in f32 pages)");
  section.note("target (issue 16): >= 4x cache off at a >= 95% hit ratio, >= 1.5x at ~50%; bf16 NDCG@10 >= 0.9995, int8 >= 0.998 vs f32 pages");
  const config = (mode: string, budget: string, kvCache?: KvCacheOptions): Config => ({ mode, budget, model: new Model(built, kvCache ? { kvCache } : {}), cached: kvCache !== undefined, times: [], scores: [] });
  const off = config("off", "-");
  const native = [0.25, 0.6, 0.8, 1.05].map((share) => config("native", `${(100 * share).toFixed(0)}%`, { mb: mb(share * working) }));
  const host = config("native + host bf16", "25%", { mb: mb(0.25 * working), host: { mb: mb(working), dtype: "bf16" } });
  const lowPages = (["bf16", "i8"] as const).map((dtype) => config(`native ${dtype} pages`, "105%", { mb: mb(1.05 * working), dtype }));
  const session = await ort.InferenceSession.create(hstuOnnxModel(built, options, { dynamic: true }), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
  const peer: Config = { mode: "onnxruntime-node", budget: "-", model: session, cached: false, times: [], scores: [] };
  const results = await runAll([off, peer, ...native, host, ...lowPages], visits, shape);
  const o = results.get(off)!;
  const f32 = results.get(native.at(-1)!)!;
  for (const c of [off, peer, ...native, host]) {
    const r = results.get(c)!;
    section.add({
      mode: c.mode, budget: c.budget, "req/s": r.rps, "x off": r.rps / o.rps, "x off (p50)": o.p50 / r.p50, "p50 ms": r.p50, "p99 ms": r.p99, "p99/p50": r.p99 / r.p50,
      "hit %": 100 * r.hitRatio, "host % of hits": 100 * r.hostShare, "tokens computed / req": r.tokensPerRequest, ...(c === off ? {} : { "max |Δ| vs off": maxDiff(r.scores, o.scores).toExponential(1) }),
      "x ORT": r.rps / results.get(peer)!.rps,
    });
  }
  const pages = report.section("page dtypes at the 105% budget (same stream and budget: smaller pages only hold more)");
  for (const [dtype, c] of [["f32", native.at(-1)!], ["bf16", lowPages[0]!], ["i8", lowPages[1]!]] as const) {
    const r = results.get(c)!;
    pages.add({ dtype, "req/s": r.rps, "x off": r.rps / o.rps, "hit %": 100 * r.hitRatio, "NDCG@10 vs f32 pages": ndcg10(f32.scores, r.scores).toFixed(6), "MiB / cached user": mb(r.bytesPerUser), "max |Δ| vs f32 pages": maxDiff(r.scores, f32.scores).toExponential(1) });
  }
  // The SP section (1 device against 2 at L = 8192; --quick 2048), as in bench sequence --sp.
  await sequenceParallelSection(report, quick);
  report.print(json);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, r) => x.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[r]![i]!)))));
  return m;
}
