// Jagged-batch section of `bun run bench sequence` (issue 15, Deliver 1): the zoo
// hstu model ranking one batch of requests whose histories have mixed lengths,
// each sent at its own length (no padding by the caller; the model keeps them
// jagged). The batch (one rankManySync call: one executor batch) is timed against
// the sum of each request timed alone — its tokens counted alone, the target being
// batch / alone <= 1.1 — and against the same batch with every history as long as
// the longest, the work a padded layout pays (its predicted cost ratio: longest /
// mean length). Figures only: nothing here asserts on time.
import { type Model, type RankingRequest, loadModel, tensor } from "../sdk";
import { zoo } from "../sdk/zoo";
import type { Report } from "./report";
import { progress, time } from "./timing";

/** A moderate-width hstu: d = 64, 2 heads of 32, 2 layers. */
const jaggedHstu = { embeddingDim: 64, heads: 2, qkDim: 32, vDim: 32, layers: 2, rabBuckets: 12, seed: 3 } as const;
const CANDIDATES = 16;

/** A request whose history holds `n` events, sent as [n] tensors. */
function request(n: number, seed: number): RankingRequest {
  const ids = (f: (t: number) => number) => tensor("i64", [n], BigInt64Array.from({ length: n }, (_, t) => BigInt(f(t))));
  return {
    context: { hist_items: ids((t) => (t * 7919 + seed * 131) % 10_000), hist_actions: ids((t) => (t + seed) % 8) },
    candidates: { item_id: tensor("i64", [CANDIDATES, 1], BigInt64Array.from({ length: CANDIDATES }, (_, i) => BigInt((i * 104_729 + seed) % 10_000))) },
  };
}

/** Adds the jagged-batch section to `report`. */
export async function jaggedHstuSection(report: Report, threads: number, quick: boolean): Promise<void> {
  const lens = quick ? [700, 300, 129, 64, 17, 1] : [1500, 1024, 600, 333, 200, 77, 31, 1];
  const longest = Math.max(...lens);
  const L = quick ? 768 : 1536;
  const section = report.section(
    `zoo hstu jagged batch (fp32, d = ${jaggedHstu.embeddingDim}, H = ${jaggedHstu.heads}, qk/v ${jaggedHstu.qkDim}/${jaggedHstu.vDim}, ${jaggedHstu.layers} layers, L = ${L}), ${lens.length} requests of ${CANDIDATES} candidates, histories [${lens.join(", ")}]`,
  );
  section.note("batch: one rankManySync call over the requests, each history sent at its own length; alone: the sum of each request timed by itself (its tokens counted alone)");
  section.note(`padded: the same batch with every history ${longest} events long (the work padding to the longest computes); its token ratio: longest / mean length (attention grows faster than that)`);
  section.note("target: batch / alone <= 1.1");
  using model: Model = loadModel(zoo.hstu.build({ ...jaggedHstu, historyLength: L }), { threads, maxBatch: 512 });
  // Warm-up calls build each batch size's plan first (the batch and each request alone run on different plans).
  const budget = { warmup: 3, minCalls: 5, minSeconds: quick ? 0.2 : 0.6 };
  const reqs = lens.map((n, i) => request(n, i));
  progress("zoo hstu jagged batch");
  const batch = await time(() => model.rankManySync(reqs), budget);
  let alone = 0;
  for (const req of reqs) alone += (await time(() => model.rankSync(req), { ...budget, minSeconds: quick ? 0.05 : 0.1 })).median;
  progress("zoo hstu padded batch");
  const paddedReqs = lens.map((_, i) => request(longest, i));
  const padded = await time(() => model.rankManySync(paddedReqs), budget);
  const tokens = lens.reduce((a, b) => a + b, 0);
  section.add({
    tokens, "batch ms": batch.median * 1e3, "alone ms": alone * 1e3, "batch / alone": batch.median / alone,
    "padded ms": padded.median * 1e3, "padded / batch": padded.median / batch.median, "longest / mean": (longest * lens.length) / tokens,
    "within 1.1x": batch.median / alone <= 1.1 ? "yes" : "NO",
  });
}
