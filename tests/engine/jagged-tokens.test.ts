// History tokens stored jagged (runtime/engine/jagged-tokens.ts: values + offsets,
// no padding) through the real kernels: the zoo bst's per-token linears, layer norms
// and self-attention run over the batch's Σ events tokens only. Checked here: a batch
// of mixed lengths (0, 1, odd, max, over max, padded on the caller's side) scores each
// request as it scores alone (1e-5), inline and on a worker; the stager stores the
// histories as values + offsets (and a plan reading slots gets them laid back); truncation to the most
// recent events is still reported per request; the tokens computed are Σ events, not
// contextRows × maxLength (stats().historyTokens, a count, not a timing). The same for
// the zoo hstu (lookups, their add, the layers' tokens and K/V), and its
// KV cache still fingerprints every per-event input. Which values are jagged, and a
// remote table keeping the slot layout.
import { afterAll, describe, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { jaggedValues } from "../../runtime/engine/jagged-tokens";
import { Executor } from "../../runtime/engine/executor";
import { Model } from "../../runtime/engine/model";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import type { RankingRequest, RankResponse } from "../../runtime/engine/request";
import { inferGraph } from "../../runtime/graph/infer";
import { tensor } from "../../runtime/tensor/tensor";
import { zoo } from "../../sdk/zoo";
import { bstOptions } from "../../sdk/zoo/bst";
import { hstuOptions } from "../../sdk/zoo/hstu";

const L = 16;
const options = { historyLength: L, embeddingDim: 16, heads: 2, layers: 2, ffnDim: 24, seed: 11 };
const built = zoo.bst.build(options);
const rows = bstOptions(options).itemTableRows;
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
const keep = (m: Model) => (models.push(m), m);

/** A request of `n` history events (sent as [n], or left-padded to [1, L] when `padded`) and 4 candidates. */
function request(n: number, seed: number, padded = false): RankingRequest {
  const ids = Array.from({ length: n }, (_, t) => (t * 7919 + seed * 131) % rows);
  const hist = padded ? tensor("i64", [1, L], BigInt64Array.from([...new Array<number>(L - n).fill(-1), ...ids], BigInt)) : tensor("i64", [n], BigInt64Array.from(ids, BigInt));
  const candidates = Array.from({ length: 4 }, (_, i) => (i * 104_729 + seed) % rows);
  return { context: { hist }, candidates: { item_id: tensor("i64", [4, 1], BigInt64Array.from(candidates, BigInt)) } };
}

const ctr = (res: RankResponse) => Array.from(res.outputs.ctr!.data);
const maxDiff = (a: number[], b: number[]) => (expect(a.length).toBe(b.length), Math.max(...a.map((x, i) => Math.abs(x - b[i]!))));

describe("bst: history tokens stored jagged", () => {
  const lengths = [0, 1, 7, L, 23, 5];
  const reqs = lengths.map((n, i) => request(n, i + 1, i === 5));
  const events = lengths.map((n) => Math.min(n, L));

  test("a batch of mixed lengths scores each request as alone, and reports the truncation of the long one only", async () => {
    const model = keep(new Model(built));
    const batch = await model.rankMany(reqs);
    for (let i = 0; i < reqs.length; i++) {
      const alone = await model.rank(reqs[i]!);
      expect(maxDiff(ctr(batch[i]!), ctr(alone))).toBeLessThanOrEqual(1e-5);
      expect(batch[i]!.truncated).toEqual(lengths[i]! > L ? { hist: { length: lengths[i]!, kept: L } } : undefined);
    }
  });

  test("the per-token ops run over Σ events tokens, not requests × maxLength", async () => {
    const model = keep(new Model(built));
    await model.rankMany(reqs);
    const sum = events.reduce((a, b) => a + b, 0);
    expect(model.stats().historyTokens).toEqual({ computed: sum, slots: reqs.length * L });
    await model.rank(reqs[2]!);
    expect(model.stats().historyTokens).toEqual({ computed: sum + events[2]!, slots: (reqs.length + 1) * L });
  });

  test("an empty batch of histories (every request sent no events) scores as alone", async () => {
    const model = keep(new Model(built));
    const empties = [request(0, 3), request(0, 4)];
    const batch = await model.rankMany(empties);
    for (let i = 0; i < empties.length; i++) expect(maxDiff(ctr(batch[i]!), ctr(await model.rank(empties[i]!)))).toBeLessThanOrEqual(1e-5);
    expect(model.stats().historyTokens!.computed).toBe(0);
  });

  test("on a worker (the offsets travel with the batch) it scores and counts as inline", async () => {
    const [inline, worker] = [keep(new Model(built)), keep(new Model(built, { worker: true }))];
    const [a, b] = [await inline.rankMany(reqs), await worker.rankMany(reqs)];
    for (let i = 0; i < reqs.length; i++) expect(maxDiff(ctr(b[i]!), ctr(a[i]!))).toBeLessThanOrEqual(1e-6);
    expect(worker.stats().historyTokens).toEqual(inline.stats().historyTokens!);
  });
});

describe("the stager stores a batch's histories as values + offsets", () => {
  const compiled = compile(built).model;
  const validator = new RequestValidator(compiled.graph);
  const lens = [3, 0, 20, 9];
  const reqs = lens.map((n, i) => validator.validate(request(n, i + 1)));

  test("each request's events concatenated (the most recent L of a longer one), offsets[r] .. offsets[r + 1]", () => {
    const { batch } = new Stager(compiled.graph).stage(reqs);
    const kept = lens.map((n) => Math.min(n, L));
    expect(Array.from(batch.sequenceOffsets!.hist!)).toEqual([0, 3, 3, 3 + L, 3 + L + 9]);
    expect(Array.from(batch.sequenceLengths!.hist!)).toEqual(kept);
    const sent = lens.map((n, i) => Array.from(request(n, i + 1).context!.hist!.data as BigInt64Array));
    expect(Array.from(batch.inputs.hist!.subarray(0, 3 + L + 9) as BigInt64Array)).toEqual(sent.flatMap((ids, i) => ids.slice(ids.length - kept[i]!)));
  });

  test("a plan that reads the slot layout gets them laid back into [L] slots: the same scores", () => {
    // The history's tokens are also a graph output here, so the plan keeps its slots.
    const slotted = { ...compiled, graph: { ...compiled.graph, outputs: { ...compiled.graph.outputs, tokens: "hist_emb:0" } } };
    const [jagged, slots] = [new Executor(compiled), new Executor(slotted)];
    try {
      const want = Array.from(jagged.run(new Stager(compiled.graph).stage(reqs).batch).ctr!.data.subarray(0, 16));
      const staged = new Stager(compiled.graph).stage(reqs).batch;
      expect(staged.sequenceOffsets).toBeDefined();
      const got = Array.from(slots.run(staged).ctr!.data.subarray(0, 16));
      expect(maxDiff(got, want)).toBeLessThanOrEqual(1e-6);
      expect(new Stager(slotted.graph).stage(reqs).batch.sequenceOffsets).toBeUndefined();
    } finally {
      jagged.dispose();
      slots.dispose();
    }
  });
});

describe("hstu: history tokens stored jagged", () => {
  const hstuOpts = { historyLength: L, embeddingDim: 16, heads: 2, qkDim: 8, vDim: 8, layers: 2, rabBuckets: 12, actions: 6, rab: "time" as const, seed: 4 };
  const hstu = zoo.hstu.build(hstuOpts);
  const itemRows = hstuOptions(hstuOpts).itemTableRows;
  /** `n` events, action of event 0 `firstAction`; sent as [n]. */
  const req = (n: number, seed: number, user?: string, firstAction = 1): RankingRequest => {
    const seq = (f: (t: number) => number) => tensor("i64", [n], BigInt64Array.from({ length: n }, (_, t) => BigInt(f(t))));
    return {
      ...(user ? { user } : {}),
      context: {
        hist_items: seq((t) => (t * 7919 + seed * 131) % itemRows), hist_actions: seq((t) => (t === 0 ? firstAction : (t + seed) % 6)), hist_ts: seq((t) => 1_000 + 10 * t),
        request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt(1_000 + 10 * n))),
      },
      candidates: { item_id: tensor("i64", [3, 1], BigInt64Array.of(1n, BigInt(seed), 77n)) },
    };
  };
  const lengths = [0, 1, 7, L, 23];
  const reqs = lengths.map((n, i) => req(n, i + 1));

  test("a batch of mixed lengths scores each request as alone; the lookups, add and layers run over Σ events tokens", async () => {
    const model = keep(new Model(hstu));
    const batch = await model.rankMany(reqs);
    for (let i = 0; i < reqs.length; i++) {
      expect(maxDiff(ctr(batch[i]!), ctr(await model.rank(reqs[i]!)))).toBeLessThanOrEqual(1e-5);
      expect(batch[i]!.truncated !== undefined).toBe(lengths[i]! > L);
    }
    const sum = lengths.reduce((a, n) => a + Math.min(n, L), 0);
    expect(model.stats().historyTokens).toEqual({ computed: 2 * sum, slots: 2 * reqs.length * L });
  });

  test("a group whose inputs keep different events (an action sent as padding first) stays in slots, and scores as alone", async () => {
    const model = keep(new Model(hstu));
    const odd = req(9, 5);
    (odd.context!.hist_actions!.data as BigInt64Array)[0] = -1n;
    const validator = new RequestValidator(compile(hstu).model.graph);
    expect(new Stager(compile(hstu).model.graph).stage([validator.validate(odd), validator.validate(reqs[2]!)]).batch.sequenceOffsets).toBeUndefined();
    expect(new Stager(compile(hstu).model.graph).stage(reqs.map((r) => validator.validate(r))).batch.sequenceOffsets).toBeDefined();
    const batch = await model.rankMany([odd, reqs[2]!]);
    expect(maxDiff(ctr(batch[0]!), ctr(await model.rank(odd)))).toBeLessThanOrEqual(1e-5);
  });

  test("the KV cache fingerprints every per-event input: a changed action in the cached prefix is a mismatch, not a reuse", async () => {
    const [cached, plain] = [keep(new Model(hstu, { kvCache: { mb: 4 } })), keep(new Model(hstu))];
    await cached.rank(req(6, 9, "u"));
    const changed = req(8, 9, "u", 4);
    expect(maxDiff(ctr(await cached.rank(changed)), ctr(await plain.rank(changed)))).toBeLessThanOrEqual(1e-5);
    expect(cached.stats().kvCache!.mismatches).toBe(1);
    const grown = req(10, 9, "u", 4);
    expect(maxDiff(ctr(await cached.rank(grown)), ctr(await plain.rank(grown)))).toBeLessThanOrEqual(1e-5);
    expect(cached.stats().kvCache!.hits).toBe(1);
  });
});

describe("which values are jagged", () => {
  test("bst: every per-token value of the history, and none of the candidates'", () => {
    const { graph } = compile(built).model;
    const { values, writers } = jaggedValues(graph, inferGraph(graph), 8, () => false);
    expect([...writers]).toEqual(["hist_emb"]);
    for (const name of ["hist_emb:0", "block_0.qkv:0", "block_0.attention:0", "block_1.ln2:0", "target.kv:0"]) expect(values.get(name)?.history).toBe("hist");
    for (const name of ["item_emb:0", "target.q:0", "target.attention:0"]) expect(values.has(name)).toBe(false);
  });

  test("a remote item table keeps the slot layout", () => {
    const { graph } = compile(built).model;
    expect(jaggedValues(graph, inferGraph(graph), 8, (table) => table === "item.table").values.size).toBe(0);
  });

  test("hstu: the lookups, their add, each layer's tokens and the K/V its candidates read; not the candidates' values", () => {
    const hstu = zoo.hstu.build({ historyLength: L, embeddingDim: 16, heads: 2, qkDim: 8, vDim: 8, layers: 2, rab: "time" });
    const { graph } = compile(hstu).model;
    const { values, writers } = jaggedValues(graph, inferGraph(graph), 8, () => false);
    expect([...writers]).toEqual(["hist_item_emb"]);
    for (const name of ["hist_item_emb:0", "hist_action_emb:0", "hist_tokens:0", "hstu_0.history:0", "hstu_1.history:0", "hstu_0.history:1", "hstu_1.history:1"]) expect(values.get(name)?.history).toBe("hist_items");
    for (const name of ["item_emb:0", "hstu_0.candidates:0"]) expect(values.has(name)).toBe(false);
  });
});
