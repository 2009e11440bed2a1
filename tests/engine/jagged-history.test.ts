// Jagged history inputs (issue 15, Deliver 1) through the real kernels: a model's
// history inputs are declared sequences of at most L events, and a ranking request
// sends its history at its own length ([n] or [1, n], no padding). Checked here:
// a jagged history scores exactly as the same history left-padded to L (the same
// slots reach the same kernels: asserted bit-equal), a history beyond L scores as
// its last L events sent alone and the response reports `truncated`, empty and
// one-event histories match the float64 reference (tolerance: normalised 1e-4, as
// the zoo suites), a batch of mixed lengths (inline and on a worker) scores each
// request as alone (1e-6), bad histories are 400s naming the field before native
// code, the KV cache still reuses a growing jagged history, and the declaration
// survives a model file.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Model } from "../../runtime/engine/model";
import { RankfnError } from "../../runtime/errors";
import type { RankingRequest, RankResponse } from "../../runtime/engine/request";
import { readModel, writeModel } from "../../runtime/model/model-file";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import { zoo } from "../../sdk/zoo";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { bstOptions } from "../../sdk/zoo/bst";
import { normalisedError, reference } from "../zoo/reference";
import { rng } from "../kv/seeded-random";

const L = 32;
const options = { historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 24, itemRows: 2_000_000, actions: 6, rab: "time" as const };
const itemRows = hstuOptions(options).itemTableRows;
const built = zoo.hstu.build(options);
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
const keep = (m: Model) => (models.push(m), m);
const model = keep(new Model(built));

interface History {
  items: number[];
  actions: number[];
  times: number[];
}

/** A seeded history of `n` events, oldest first. */
function history(n: number, seed: number): History {
  const rand = rng(seed);
  const h: History = { items: [], actions: [], times: [] };
  let t = 1_000_000;
  for (let i = 0; i < n; i++) {
    h.items.push(Math.floor(rand() * itemRows));
    h.actions.push(Math.floor(rand() * options.actions));
    h.times.push((t += 1 + Math.floor(rand() * 5000)));
  }
  return h;
}

const candidateIds = [5, 17, 333, 1999, 42];
type Form = "[n]" | "[1, n]" | "padded";

/** A ranking request over `h`: the history as sent at its own length ([n] or [1, n]), or left-padded to [1, L]. */
function request(h: History, form: Form, user?: string): RankingRequest {
  const n = h.items.length;
  const seq = (xs: number[]): Tensor => {
    if (form === "padded") {
      const out = new BigInt64Array(L).fill(-1n);
      xs.forEach((x, i) => (out[L - n + i] = BigInt(x)));
      return tensor("i64", [1, L], out);
    }
    return tensor("i64", form === "[n]" ? [n] : [1, n], BigInt64Array.from(xs, BigInt));
  };
  return {
    ...(user !== undefined ? { user } : {}),
    context: {
      hist_items: seq(h.items),
      hist_actions: seq(h.actions),
      hist_ts: seq(h.times),
      request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt((h.times.at(-1) ?? 0) + 100))),
    },
    candidates: { item_id: tensor("i64", [candidateIds.length, 1], BigInt64Array.from(candidateIds, BigInt)) },
  };
}

const ctr = (res: RankResponse) => Array.from(res.outputs.ctr!.data);
const maxDiff = (a: number[], b: number[]) => (expect(a.length).toBe(b.length), Math.max(...a.map((x, i) => Math.abs(x - b[i]!))));

/** A 400 RankfnError whose message names `field`. */
async function expect400(req: RankingRequest, code: string, ...fields: string[]): Promise<void> {
  const err = await model.rank(req).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(RankfnError);
  expect((err as RankfnError).status).toBe(400);
  expect((err as RankfnError).code).toBe(code);
  for (const f of fields) expect((err as Error).message).toContain(f);
}

describe("hstu: a jagged history scores as the same history left-padded", () => {
  test.each([0, 1, 7, 31, 32])("%i events: [n] and [1, n] score bit-equal to [1, L] left-padded, with no truncation reported", async (n) => {
    const h = history(n, 100 + n);
    const padded = await model.rank(request(h, "padded"));
    for (const form of ["[n]", "[1, n]"] as const) {
      const res = await model.rank(request(h, form));
      expect(ctr(res)).toEqual(ctr(padded));
      expect(res.truncated).toBeUndefined();
    }
    expect(padded.truncated).toBeUndefined();
  });

  test("empty and one-event histories match the float64 reference", async () => {
    for (const n of [0, 1]) {
      const h = history(n, 7 + n);
      const pad = (xs: number[]) => [...new Array<number>(L - n).fill(-1), ...xs];
      const want = reference("hstu", options, built.weights, {
        rows: candidateIds.length,
        context: { hist_items: pad(h.items), hist_actions: pad(h.actions), hist_ts: pad(h.times), request_ts: [(h.times.at(-1) ?? 0) + 100] },
        candidates: { item_id: candidateIds.map((id) => [id]) },
      }).ctr!;
      expect(normalisedError(ctr(await model.rank(request(h, "[n]"))), want)).toBeLessThan(1e-4);
    }
  });

  test("i32 history ids score as i64 ones", async () => {
    const h = history(9, 3);
    const req = request(h, "[n]");
    const ctx = req.context!;
    const as32 = (t: Tensor) => tensor("i32", t.shape, Int32Array.from(t.data as BigInt64Array, Number));
    const res = await model.rank({ ...req, context: { ...ctx, hist_items: as32(ctx.hist_items!), hist_actions: as32(ctx.hist_actions!) } });
    expect(ctr(res)).toEqual(ctr(await model.rank(req)));
  });
});

describe("hstu: a history beyond L keeps its most recent L events", () => {
  test("50 events score as their last 32 sent alone, and the response reports the truncation of each history input", async () => {
    const h = history(50, 11);
    const res = await model.rank(request(h, "[n]"));
    const last: History = { items: h.items.slice(-L), actions: h.actions.slice(-L), times: h.times.slice(-L) };
    const alone = await model.rank(request(last, "[n]"));
    expect(ctr(res)).toEqual(ctr(alone));
    const cut = { length: 50, kept: L };
    expect(res.truncated).toEqual({ hist_items: cut, hist_actions: cut, hist_ts: cut });
    expect(alone.truncated).toBeUndefined();
    // The [1, n] form is cut the same way.
    const wide = await model.rank(request(h, "[1, n]"));
    expect(ctr(wide)).toEqual(ctr(alone));
    expect(wide.truncated).toEqual(res.truncated!);
  });

  test("leading padding is not counted as events: 40 values of which 10 are padding keep all 30 events", async () => {
    const h = history(30, 12);
    const padded = (xs: number[]) => [...new Array<number>(10).fill(-1), ...xs];
    const req = request({ items: padded(h.items), actions: padded(h.actions), times: padded(h.times) }, "[n]");
    const res = await model.rank(req);
    expect(res.truncated).toBeUndefined();
    expect(ctr(res)).toEqual(ctr(await model.rank(request(h, "[n]"))));
  });
});

describe("a batch of mixed history lengths", () => {
  const lengths = [0, 1, 5, 32, 50, 17, 3];
  const reqs = lengths.map((n, i) => request(history(n, 200 + i), i % 3 === 0 ? "[n]" : i % 3 === 1 ? "[1, n]" : n <= L ? "padded" : "[n]"));

  test("scores each request as it scores alone, and reports truncation on the long one only", async () => {
    const batch = await model.rankMany(reqs);
    for (let i = 0; i < reqs.length; i++) {
      const alone = await model.rank(reqs[i]!);
      expect(maxDiff(ctr(batch[i]!), ctr(alone))).toBeLessThanOrEqual(1e-6);
      expect(batch[i]!.truncated).toEqual(alone.truncated!);
      expect(batch[i]!.truncated !== undefined).toBe(lengths[i]! > L);
    }
  });

  test("on a worker (the event counts travel with the batch) it scores as inline", async () => {
    const worker = keep(new Model(built, { worker: true }));
    const [inline, onWorker] = [await model.rankMany(reqs), await worker.rankMany(reqs)];
    for (let i = 0; i < reqs.length; i++) {
      expect(maxDiff(ctr(onWorker[i]!), ctr(inline[i]!))).toBeLessThanOrEqual(1e-6);
      expect(onWorker[i]!.truncated).toEqual(inline[i]!.truncated!);
    }
  });

  test("one malformed request fails alone at validation; the others in its call are unaffected", async () => {
    const bad = request(history(4, 9), "[n]");
    bad.context!.hist_items = tensor("i64", [4], BigInt64Array.of(1n, 2n, BigInt(itemRows), 3n));
    const good = reqs.map((r) => model.validate(r));
    expect(() => model.validate(bad, "request 7: ")).toThrow(/request 7: context\.hist_items: id \d+ at row 0, position 2 is outside table "item\.table"/);
    const results = await model.run(good);
    for (let i = 0; i < reqs.length; i++) expect(maxDiff(ctr(results[i] as RankResponse), ctr(await model.rank(reqs[i]!)))).toBeLessThanOrEqual(1e-6);
  });
});

describe("bad histories are 400s naming the field", () => {
  const h = history(6, 1);
  const base = request(h, "[n]");
  const withItems = (t: Tensor): RankingRequest => ({ ...base, context: { ...base.context, hist_items: t } });

  test("wrong dtype", () => expect400(withItems(tensor("f32", [6], new Float32Array(6))), "bad_dtype", "context.hist_items", "i32 or i64"));
  test("rank 3", () => expect400(withItems(tensor("i64", [1, 1, 6], new BigInt64Array(6))), "bad_shape", "context.hist_items", "[1, 1, 6]"));
  test("[k, n] with k ≠ 1", () => expect400(withItems(tensor("i64", [2, 3], new BigInt64Array(6))), "bad_shape", "context.hist_items", "2 rows"));
  test("an id outside the item table", () => expect400(withItems(tensor("i64", [6], BigInt64Array.of(0n, 1n, 2n, 3n, -5n, 4n))), "id_out_of_range", "context.hist_items", "id -5", "position 4"));
  test("an id of 2^40 is refused (out of the table, not wrapped)", () => expect400(withItems(tensor("i64", [6], BigInt64Array.of(0n, 1n, 2n, 3n, 1n << 40n, 4n))), "id_out_of_range", "context.hist_items"));
  test("one history's inputs of different lengths name both fields", () =>
    expect400({ ...base, context: { ...base.context, hist_actions: tensor("i64", [5], new BigInt64Array(5)) } }, "sequence_length_mismatch", "context.hist_actions", "context.hist_items", "5", "6"));
  test("a non-history context input keeps its fixed shape", () => expect400({ ...base, context: { ...base.context, request_ts: tensor("i64", [2], new BigInt64Array(2)) } }, "bad_shape", "context.request_ts"));
});

describe("the user-history KV cache over jagged histories", () => {
  test("a history growing visit by visit, sent without padding, is reused and scores as without the cache", async () => {
    const cached = keep(new Model(built, { kvCache: { mb: 8 } }));
    const full = history(40, 77);
    let reused = 0;
    for (const n of [3, 4, 9, 15, 16, 30]) {
      const h: History = { items: full.items.slice(0, n), actions: full.actions.slice(0, n), times: full.times.slice(0, n) };
      const got = await cached.rank(request(h, "[n]", "u1"));
      expect(maxDiff(ctr(got), ctr(await model.rank(request(h, "[n]"))))).toBeLessThanOrEqual(1e-5);
      reused += [0, 3, 4, 9, 15, 16][[3, 4, 9, 15, 16, 30].indexOf(n)]!;
    }
    const s = cached.stats().kvCache!;
    expect(s.hits).toBe(5);
    expect(s.tokensReused).toBe(reused);
    expect(s.tokensComputed).toBe(30);
  });

  test("past L the kept window slides: the cached prefix no longer matches, so it is recomputed and still scores as without the cache", async () => {
    const cached = keep(new Model(built, { kvCache: { mb: 8 } }));
    const full = history(40, 78);
    const upTo = (n: number): History => ({ items: full.items.slice(0, n), actions: full.actions.slice(0, n), times: full.times.slice(0, n) });
    await cached.rank(request(upTo(30), "[n]", "u2"));
    const before = cached.stats().kvCache!;
    const res = await cached.rank(request(upTo(40), "[n]", "u2"));
    expect(res.truncated).toEqual({ hist_items: { length: 40, kept: L }, hist_actions: { length: 40, kept: L }, hist_ts: { length: 40, kept: L } });
    expect(maxDiff(ctr(res), ctr(await model.rank(request(upTo(40), "[n]"))))).toBeLessThanOrEqual(1e-5);
    const after = cached.stats().kvCache!;
    expect(after.hits - before.hits).toBe(0);
    expect(after.mismatches - before.mismatches).toBe(1);
    expect(after.tokensComputed - before.tokensComputed).toBe(L);
  });
});

describe("the declaration", () => {
  test("hstu and bst declare their histories; a model file keeps the declaration", () => {
    const seq = (g: typeof built.graph, name: string) => g.inputs.find((i) => i.name === name)!.sequence;
    for (const name of ["hist_items", "hist_actions", "hist_ts"]) expect(seq(built.graph, name)).toEqual({ maxLength: L, keep: "last", group: "history" });
    expect(seq(built.graph, "request_ts")).toBeUndefined();
    expect(model.inspect().inputs.find((i) => i.name === "hist_ts")!.sequence).toEqual({ maxLength: L, keep: "last", group: "history" });
    const bst = zoo.bst.build({ historyLength: 12 });
    expect(seq(bst.graph, "hist")).toEqual({ maxLength: 12, keep: "last", group: "history" });
    const dir = mkdtempSync(join(tmpdir(), "rankfn-jagged-"));
    try {
      writeModel(join(dir, "hstu.safetensors"), built);
      expect(readModel(join(dir, "hstu.safetensors")).graph.inputs).toEqual(built.graph.inputs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bst", () => {
  const bstOpts = { historyLength: 16, embeddingDim: 16, heads: 2, layers: 1, ffnDim: 32 };
  const bst = keep(new Model(zoo.bst.build(bstOpts)));
  const rows = bstOptions(bstOpts).itemTableRows;
  const req = (ids: number[], form: Form): RankingRequest => {
    const hist =
      form === "padded"
        ? tensor("i64", [1, 16], BigInt64Array.from([...new Array<number>(16 - ids.length).fill(-1), ...ids], BigInt))
        : tensor("i64", form === "[n]" ? [ids.length] : [1, ids.length], BigInt64Array.from(ids, BigInt));
    return { context: { hist }, candidates: { item_id: tensor("i64", [3, 1], BigInt64Array.of(1n, 2n, 3n)) } };
  };
  const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 5) % rows);

  test("a jagged history scores as left-padded; 20 events as their last 16, reported", async () => {
    for (const n of [0, 1, 9, 16]) expect(ctr(await bst.rank(req(ids(n), "[n]")))).toEqual(ctr(await bst.rank(req(ids(n), "padded"))));
    const long = await bst.rank(req(ids(20), "[1, n]"));
    expect(ctr(long)).toEqual(ctr(await bst.rank(req(ids(20).slice(-16), "padded"))));
    expect(long.truncated).toEqual({ hist: { length: 20, kept: 16 } });
  });
});
