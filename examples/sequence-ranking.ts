// Sequence ranking with the zoo's HSTU (DLRMv3-like) and RankMixer. HSTU: a
// user's (item, action) history — oldest event first, sent at its own length (the
// model declares it a sequence of at most L events; a longer one keeps its most
// recent L and the response says so) — is encoded by HSTU layers once per request (context); each candidate
// item attends to that history and to itself, never to another candidate
// (M-FALCON), so a candidate's score is the same alone or among 300 others.
// RankMixer: dense and sparse features become tokens, mixed and passed through
// per-token FFNs. `bun examples/sequence-ranking.ts`
import { loadModel, tensor, zoo } from "../sdk";
import { flopsPerRow } from "../sdk/zoo";
import { sampleRequests } from "../sdk/sample-requests";

const L = 256;
const hstu = zoo.hstu.build({ historyLength: L, embeddingDim: 64, heads: 2, qkDim: 32, vDim: 32, layers: 2, seed: 7 });
using model = loadModel(hstu, { threads: 2 });
const info = model.inspect();
for (const input of info.inputs) {
  const history = input.sequence ? `, a history of any length (the most recent ${input.sequence.maxLength} events kept)` : "";
  console.log(`hstu input ${input.name.padEnd(12)} ${input.dtype} [${input.shape.join(", ")}] ${input.role}${history}`);
}
console.log(`hstu params ${info.params.count.toLocaleString("en-US")}; ${info.memoryPlan.map((p) => p.summary).join("; ")}`);
const flops = flopsPerRow(hstu.graph);
console.log(`hstu work: ${(flops.context / 1e6).toFixed(1)} MFLOP per request (the history), ${(flops.candidate / 1e3).toFixed(0)} kFLOP per candidate`);

// One user with 180 events, sent as they are (no padding), and 300 candidate items.
const ids = (events: number, f: (t: number) => number) => tensor("i64", [events], BigInt64Array.from({ length: events }, (_, t) => BigInt(f(t))));
const history = (events: number) => ({ hist_items: ids(events, (t) => (t * 7919) % 10_000), hist_actions: ids(events, (t) => t % 8) });
const context = history(180);
const items = BigInt64Array.from({ length: 300 }, (_, i) => BigInt((i * 104_729) % 10_000));
const { outputs, timing } = await model.rank({ context, candidates: { item_id: tensor("i64", [300, 1], items) } });
const ctr = outputs.ctr!.data;
const best = Array.from(ctr.keys()).sort((a, b) => ctr[b]! - ctr[a]!).slice(0, 5);
console.log(`hstu scored ${ctr.length} candidates in ${timing.computeMs.toFixed(2)} ms; best: ${best.map((i) => `#${i} (${ctr[i]!.toFixed(4)})`).join(", ")}`);

const alone = await model.rank({ context, candidates: { item_id: tensor("i64", [1, 1], items.subarray(best[0]!, best[0]! + 1)) } });
console.log(`candidate #${best[0]} scored alone: ${alone.outputs.ctr!.data[0]!.toFixed(4)} (among 300: ${ctr[best[0]!]!.toFixed(4)})`);

// A history longer than the model keeps: the oldest events are dropped, and the response reports it.
const long = await model.rank({ context: history(400), candidates: { item_id: tensor("i64", [3, 1], items.subarray(0, 3)) } });
for (const [input, cut] of Object.entries(long.truncated ?? {})) console.log(`${input}: ${cut.length} events sent, the most recent ${cut.kept} kept`);

// Histories of mixed lengths in one batch are stored as values + offsets: the per-token work covers the events only.
const before = model.stats().historyTokens!;
await model.rankMany([3, 40, 0, 180].map((n) => ({ context: history(n), candidates: { item_id: tensor("i64", [2, 1], items.subarray(0, 2)) } })));
const after = model.stats().historyTokens!;
console.log(`a batch of histories [3, 40, 0, 180]: ${after.computed - before.computed} history tokens computed for ${after.slots - before.slots} slots`);

const rankmixer = zoo.rankmixer.build({ seed: 7 });
using mixer = loadModel(rankmixer, { threads: 2 });
console.log(`rankmixer inputs: ${mixer.inspect().inputs.map((i) => `${i.name} [${i.shape.join(", ")}] ${i.role}`).join(", ")}`);
const [request] = sampleRequests(rankmixer, { count: 1, candidates: 200, seed: 3 });
const mixed = await mixer.rank(request!);
const scores = Array.from(mixed.outputs.ctr!.data);
console.log(`rankmixer scored ${scores.length} candidates in ${mixed.timing.computeMs.toFixed(2)} ms; first five: ${scores.slice(0, 5).map((s) => s.toFixed(4)).join(", ")}`);

// RankMixer's sparse-MoE variant: each token's FFN is a mixture of 8 experts of its own with
// ReLU routing (a token runs 0 to topK experts), placed on two CPU core groups.
const sparse = zoo.rankmixer.build({ seed: 7, moe: { experts: 8, topK: 3, hidden: 64 } });
using sparseMixer = loadModel(sparse, { threads: 2, experts: { devices: "cpu:2" } });
const sparseScores = (await sparseMixer.rank(request!)).outputs.ctr!.data;
const load = sparseMixer.stats().moe!.layers.map((l) => l.expertLoad.reduce((a, b) => a + b, 0));
console.log(`rankmixer sparse-MoE scored ${sparseScores.length} candidates; experts run per token layer: ${load.map((n) => (n / sparseScores.length).toFixed(2)).join(", ")} of at most 3`);
