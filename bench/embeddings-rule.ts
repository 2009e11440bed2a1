// The rule of issue 19, checked by `bench embeddings`: at hot-cache budgets of
// 1%, 5% and 20%, the remote tier with the cache is never slower than without
// it. Measured on the tier alone (RemoteEmbeddings.gatherMany on DLRM's tables,
// against the bench's redis-server), so model compute does not drown the
// difference: the variants are interleaved round by round (a busy neighbour
// slows them all alike: batch by batch, each variant in turn) and the verdict is the median, over rounds, of each
// round's cached/uncached ratio of tier ms per batch (gathering + the queued
// admission work after it). Per-stage times say where the time goes.
import type { BuiltModel } from "../runtime/graph/builder";
import { RemoteEmbeddings, type GatherItem, type RemoteEmbeddingStats } from "../runtime/embeddings/remote-tables";
import { embeddingTables } from "../runtime/embeddings/resolver";
import type { RowDType } from "../runtime/embeddings/row-codec";
import { DLRM_V2 } from "../sdk/zoo/dlrm-v2-shape";
import type { Report } from "./report";
import { progress } from "./timing";
import { Zipf } from "./zipf";

export const RULE_BUDGETS = [1, 5, 20];
const CONTROL = -1;

/** Per batch: each table's distinct ids of `candidates` samples of Zipf(α) multi-hot bags (DLRM-v2's bag sizes). */
function tierBatches(built: BuiltModel, count: number, candidates: number, alpha: number): GatherItem[][] {
  const tables = embeddingTables(built.graph);
  const samplers = tables.map((t) => {
    const rows = built.weights.get(t)!.shape[0]!;
    return rows >= 2 ? new Zipf(rows, alpha, rows + 17) : undefined;
  });
  return Array.from({ length: count }, () =>
    tables.map((table, ti) => {
      const seen = new Set<number>();
      const draws = candidates * (DLRM_V2.multiHot[ti] ?? 1);
      for (let i = 0; i < draws; i++) seen.add(samplers[ti]?.next() ?? 0);
      const ids = Int32Array.from(seen);
      return { table, ids, n: ids.length, out: new Float32Array(ids.length * built.weights.get(table)!.shape[1]!) };
    }),
  );
}

type Cost = RemoteEmbeddingStats["cost"];
const tierMs = (c: Cost) => c.gatherMs + c.insertMs;

/** Run the interleaved rule check; returns the budgets at which the rule failed. */
export async function checkRule(report: Report, built: BuiltModel, url: string, prefix: string, { quick, alpha }: { quick: boolean; alpha: number }): Promise<number[]> {
  const section = report.section("the rule: remote tier with a hot cache vs without (tier alone, interleaved rounds)");
  const tables = embeddingTables(built.graph);
  const specs = tables.map((name) => {
    const w = built.weights.get(name)!;
    return { name, rows: w.shape[0]!, dim: w.shape[1]!, dtype: w.dtype as RowDType };
  });
  const tableBytes = tables.reduce((a, t) => a + built.weights.get(t)!.data.byteLength, 0);
  const batches = tierBatches(built, quick ? 24 : 48, 512, alpha);
  const distinct = batches.reduce((a, b) => a + b.reduce((x, i) => x + i.n, 0), 0) / batches.length;
  const rounds = quick ? 4 : 8;
  // -1: a second tier without a cache, the A/A control: how far apart two identical tiers measure (the noise floor).
  const variants = [0, CONTROL, ...RULE_BUDGETS];
  const tiers = new Map(variants.map((pct) => [pct, new RemoteEmbeddings(specs, "dlrm", { redis: url, prefix, tables: "all", hotCacheBytes: Math.floor((tableBytes * Math.max(0, pct)) / 100), hostCacheBytes: 0, subscribe: false, timeoutMs: 5000 })]));
  const ms = new Map<number, number[]>(variants.map((v) => [v, []]));
  const last = new Map<number, { cost: Cost; stats: RemoteEmbeddingStats }>();
  try {
    for (const tier of tiers.values()) await tier.ready();
    const pass = async (tier: RemoteEmbeddings) => {
      for (const b of batches) {
        await tier.gatherMany(b, 5000);
        await new Promise((resolve) => setImmediate(resolve)); // the queued admission runs after each batch, as after a scored one
      }
    };
    progress(`rule: warming ${variants.length} tiers on ${batches.length} batches of ${distinct.toFixed(0)} distinct ids`);
    for (const tier of tiers.values()) await pass(tier);
    // Batch by batch, every variant in turn (rotating who goes first): a neighbour's burst hits them alike.
    const order = [...tiers.entries()];
    for (let round = 0; round < rounds; round++) {
      progress(`rule: round ${round + 1} of ${rounds}`);
      const sums = new Map(variants.map((v) => [v, 0]));
      const before = new Map(order.map(([pct, tier]) => [pct, tier.stats().cost]));
      for (let b = 0; b < batches.length; b++) {
        for (let v = 0; v < order.length; v++) {
          const [pct, tier] = order[(b + v) % order.length]!;
          const c0 = tierMs(tier.stats().cost);
          await tier.gatherMany(batches[b]!, 5000);
          await new Promise((resolve) => setImmediate(resolve)); // its queued admission runs now, as after a scored batch
          sums.set(pct, sums.get(pct)! + tierMs(tier.stats().cost) - c0);
        }
      }
      for (const [pct, tier] of order) {
        const stats = tier.stats();
        ms.get(pct)!.push(sums.get(pct)! / batches.length);
        last.set(pct, { cost: diffCost(stats.cost, before.get(pct)!), stats });
      }
    }
  } finally {
    for (const tier of tiers.values()) tier.dispose();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = ms.get(0)!;
  const failed: number[] = [];
  const within: number[] = [];
  section.note(`${batches.length} batches of 512 candidates (DLRM-v2 bag sizes, Zipf(${alpha}) ids per table, ${distinct.toFixed(0)} distinct ids/batch), ${rounds} interleaved rounds after a warm-up pass; no host cache`);
  section.note("ratio: median over rounds of (tier ms/batch with the cache) / (without), both from the same round; the rule holds when ratio <= 1");
  section.note("stage ms/batch (last round): local = split + hot-cache probe, fetch = the Redis round trip, decode = rows into the batch, admit = sketch + inserts after the batch");
  const noise = Math.max(...ms.get(CONTROL)!.map((v, i) => Math.abs(v / base[i]! - 1)));
  section.note(`noise floor: the largest per-round gap between two identical tiers without a cache (the A/A control), ${(100 * noise).toFixed(1)}%; a ratio above 1 but within it is marked "within noise", above it "VIOLATED" (exit status 1)`);
  for (const pct of variants) {
    const ratios = ms.get(pct)!.map((v, i) => v / base[i]!);
    const ratio = median(ratios);
    const { cost, stats } = last.get(pct)!;
    const per = (v: number) => v / cost.batches;
    const tablesOf = Object.values(stats.tables);
    const hits = tablesOf.reduce((a, t) => a + (t.hot?.hits ?? 0), 0);
    const lookups = tablesOf.reduce((a, t) => a + t.host.hits + t.host.misses, 0) + hits;
    const cached = pct > 0;
    const verdict = !cached ? "-" : ratio <= 1 ? "holds" : ratio <= 1 + noise ? "within noise" : "VIOLATED";
    if (verdict === "VIOLATED") failed.push(pct);
    if (verdict === "within noise") within.push(pct);
    section.add({
      "hot cache": pct === 0 ? "none" : pct === CONTROL ? "none (A/A control)" : `${pct}%`,
      "tier ms/batch": median(ms.get(pct)!),
      "ratio to none": ratio,
      "ratios by round": ratios.map((r) => r.toFixed(3)).join(" "),
      "hot hit %": lookups > 0 ? (100 * hits) / lookups : 0,
      "tables bypassed": cached ? `${tablesOf.filter((t) => t.bypass?.bypassed).length}/${tablesOf.length}` : "-",
      "local ms": per(cost.stages.localMs),
      "fetch ms": per(cost.stages.fetchMs),
      "decode ms": per(cost.stages.decodeMs),
      "admit ms": per(cost.stages.admitMs),
      rule: verdict,
    });
  }
  const at = (xs: number[]) => xs.map((p) => `${p}%`).join(", ");
  report.fact("rule (cache never slower, 1-20%)", failed.length > 0 ? `VIOLATED at ${at(failed)}` : within.length > 0 ? `holds within the noise floor (${(100 * noise).toFixed(1)}%) at ${at(within)}, strictly elsewhere` : "holds");
  return failed;
}

function diffCost(a: Cost, b: Cost): Cost {
  const d = (k: keyof Cost["stages"]) => a.stages[k] - b.stages[k];
  const stages = { localMs: d("localMs"), hostMs: d("hostMs"), fetchMs: d("fetchMs"), decodeMs: d("decodeMs"), admitMs: d("admitMs") };
  return { batches: a.batches - b.batches, gatherMs: a.gatherMs - b.gatherMs, insertMs: a.insertMs - b.insertMs, stages };
}
