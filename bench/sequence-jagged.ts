// Jagged-batch section of `bun run bench sequence` (issue 15, Deliver 1): the zoo
// hstu model ranking one batch of requests whose histories have mixed lengths,
// each sent at its own length (no padding by the caller; the model keeps them
// jagged). The batch (one rankManySync call: one executor batch) is timed against
// the sum of each request timed alone — its tokens counted alone, the target being
// batch / alone <= 1.1 — and against the same batch with every history as long as
// the longest, the work a padded layout pays (its predicted cost ratio: longest /
// mean length). The same for the zoo bst, whose history tokens are stored as values
// + offsets (runtime/engine/jagged-tokens.ts). Figures only: nothing here asserts on time.
import { type Model, type RankingRequest, loadModel, tensor } from "../sdk";
import { zoo } from "../sdk/zoo";
import { Report } from "./report";
import { progress, time } from "./timing";

/** A moderate-width hstu: d = 64, 2 heads of 32, 2 layers. */
const jaggedHstu = { embeddingDim: 64, heads: 2, qkDim: 32, vDim: 32, layers: 2, rabBuckets: 12, seed: 3 } as const;
const CANDIDATES = 16;
/** As bench/sequence.ts. */
const THREADS = 2;

/** A request whose history holds `n` events, sent as [n] tensors. */
function request(n: number, seed: number): RankingRequest {
  const ids = (f: (t: number) => number) => tensor("i64", [n], BigInt64Array.from({ length: n }, (_, t) => BigInt(f(t))));
  return {
    context: { hist_items: ids((t) => (t * 7919 + seed * 131) % 10_000), hist_actions: ids((t) => (t + seed) % 8) },
    candidates: { item_id: tensor("i64", [CANDIDATES, 1], BigInt64Array.from({ length: CANDIDATES }, (_, i) => BigInt((i * 104_729 + seed) % 10_000))) },
  };
}

/** One row of a jagged-batch section: the batch vs its requests alone vs the batch padded to its longest history. */
async function jaggedRow(section: ReturnType<Report["section"]>, model: Model, lens: number[], request: (n: number, seed: number) => RankingRequest, quick: boolean, name: string): Promise<void> {
  const longest = Math.max(...lens);
  // Warm-up calls build each batch size's plan first (the batch and each request alone run on different plans).
  const budget = { warmup: 3, minCalls: 5, minSeconds: quick ? 0.2 : 0.6 };
  const reqs = lens.map((n, i) => request(n, i));
  progress(`zoo ${name} jagged batch`);
  const batch = await time(() => model.rankManySync(reqs), budget);
  let alone = 0;
  for (const req of reqs) alone += (await time(() => model.rankSync(req), { ...budget, minSeconds: quick ? 0.05 : 0.1 })).median;
  progress(`zoo ${name} padded batch`);
  const paddedReqs = lens.map((_, i) => request(longest, i));
  const padded = await time(() => model.rankManySync(paddedReqs), budget);
  const tokens = lens.reduce((a, b) => a + b, 0);
  section.add({
    tokens, "batch ms": batch.median * 1e3, "alone ms": alone * 1e3, "batch / alone": batch.median / alone,
    "padded ms": padded.median * 1e3, "padded / batch": padded.median / batch.median, "longest / mean": (longest * lens.length) / tokens,
    "within 1.1x": batch.median / alone <= 1.1 ? "yes" : "NO",
  });
}

const lengthsOf = (quick: boolean) => (quick ? [700, 300, 129, 64, 17, 1] : [1500, 1024, 600, 333, 200, 77, 31, 1]);

const notes = (section: ReturnType<Report["section"]>, longest: number) => {
  section.note("batch: one rankManySync call over the requests, each history sent at its own length; alone: the sum of each request timed by itself (its tokens counted alone)");
  section.note(`padded: the same batch with every history ${longest} events long (the work padding to the longest computes); its token ratio: longest / mean length (attention grows faster than that)`);
  section.note("target: batch / alone <= 1.1");
};

/** Adds the hstu jagged-batch section to `report`. */
export async function jaggedHstuSection(report: Report, threads: number, quick: boolean): Promise<void> {
  const lens = lengthsOf(quick);
  const L = quick ? 768 : 1536;
  const section = report.section(
    `zoo hstu jagged batch (fp32, d = ${jaggedHstu.embeddingDim}, H = ${jaggedHstu.heads}, qk/v ${jaggedHstu.qkDim}/${jaggedHstu.vDim}, ${jaggedHstu.layers} layers, L = ${L}), ${lens.length} requests of ${CANDIDATES} candidates, histories [${lens.join(", ")}]`,
  );
  notes(section, Math.max(...lens));
  using model: Model = loadModel(zoo.hstu.build({ ...jaggedHstu, historyLength: L }), { threads, maxBatch: 512 });
  await jaggedRow(section, model, lens, request, quick, "hstu");
}

/** A moderate-width bst: d = 64, 2 heads, 2 blocks of FFN 128. */
const jaggedBst = { embeddingDim: 64, heads: 2, layers: 2, ffnDim: 128, seed: 3 } as const;

/** A bst request whose history holds `n` events, sent as an [n] tensor. */
function bstRequest(n: number, seed: number): RankingRequest {
  const hist = tensor("i64", [n], BigInt64Array.from({ length: n }, (_, t) => BigInt((t * 7919 + seed * 131) % 10_000)));
  return { context: { hist }, candidates: { item_id: tensor("i64", [CANDIDATES, 1], BigInt64Array.from({ length: CANDIDATES }, (_, i) => BigInt((i * 104_729 + seed) % 10_000))) } };
}

/** Adds the bst jagged-batch section to `report`: its history tokens are stored as values + offsets (runtime/engine/jagged-tokens.ts). */
export async function jaggedBstSection(report: Report, threads: number, quick: boolean): Promise<void> {
  const lens = lengthsOf(quick);
  const L = quick ? 768 : 1536;
  const section = report.section(
    `zoo bst jagged batch (fp32, d = ${jaggedBst.embeddingDim}, H = ${jaggedBst.heads}, FFN ${jaggedBst.ffnDim}, ${jaggedBst.layers} blocks, L = ${L}), ${lens.length} requests of ${CANDIDATES} candidates, histories [${lens.join(", ")}]`,
  );
  notes(section, Math.max(...lens));
  section.note("tokens computed / slots: stats().historyTokens over the batch runs (the per-token ops' rows vs requests × L)");
  using model: Model = loadModel(zoo.bst.build({ ...jaggedBst, historyLength: L }), { threads, maxBatch: 512 });
  await jaggedRow(section, model, lens, bstRequest, quick, "bst");
  const t = model.stats().historyTokens;
  if (t) section.note(`tokens computed / slots over every run above: ${t.computed} / ${t.slots}`);
}

/** `bun run bench sequence --jagged [--quick] [--json]`: the two jagged-batch sections alone. */
export async function main(args: string[]): Promise<void> {
  const report = new Report("sequence-jagged");
  await jaggedHstuSection(report, THREADS, args.includes("--quick"));
  await jaggedBstSection(report, THREADS, args.includes("--quick"));
  report.print(args.includes("--json"));
}
