// The user-history KV cache inside the model (issue 16, Deliver 2 and the API of 3):
// real kernels and the real native store. Scores with the cache must equal scores
// without it over visits whose histories grow by 1–5 events; a changed old event
// must be recomputed (a counted miss), two requests of one user in a batch share
// one encoding, another model version never reuses K/V, bf16 pages stay close.
// Tolerance: 1e-5 absolute on the ctr (the same kernels over fewer query rows).
import { afterAll, describe, expect, test } from "bun:test";
import { Model } from "../../runtime/engine/model";
import { KvStore } from "../../runtime/ffi/kv-store";
import { RankfnError } from "../../runtime/errors";
import type { RankingRequest } from "../../runtime/engine/request";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { zoo } from "../../sdk/zoo";
import { UserVisits, only } from "./user-visits";

const TOL = 1e-5;
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
const keep = (m: Model) => (models.push(m), m);

const base = { historyLength: 64, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 24, itemRows: 2_000_000, actions: 6 } as const;

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function ctr(m: Model, req: RankingRequest): Promise<Float32Array> {
  return (await m.rank(req)).outputs.ctr!.data;
}

describe.each(["time", "position"] as const)("rab %s: cached scores equal uncached", (rab) => {
  const options = { ...base, rab };
  const built = zoo.hstu.build(options);
  const inputs = built.graph.inputs.map((i) => i.name);
  const rows = hstuOptions(options).itemTableRows;

  test("visits of 5 users, histories growing by 1–5 events; counters account for every token", async () => {
    const plain = keep(new Model(built));
    const cached = keep(new Model(built, { kvCache: { mb: 16 } }));
    const visits = new UserVisits(rab === "time" ? 7 : 8, options.historyLength, rows, options.actions);
    const held = new Map<string, number>();
    let computed = 0;
    let reused = 0;
    let worst = 0;
    for (let v = 0; v < 30; v++) {
      const user = `u${visits.int(5)}`;
      const h = visits.grow(user);
      const req = only(visits.request(h, 8, user), inputs);
      const { user: _, ...anonymous } = req;
      worst = Math.max(worst, maxDiff(await ctr(cached, req), await ctr(plain, anonymous)));
      const before = held.get(user) ?? 0;
      reused += before;
      computed += h.items.length - before;
      held.set(user, h.items.length);
    }
    expect(worst).toBeLessThanOrEqual(TOL);
    const s = cached.stats().kvCache!;
    expect(s.hits + s.misses).toBe(30);
    expect(s.misses).toBe(held.size);
    expect(s.tokensReused).toBe(reused);
    expect(s.tokensComputed).toBe(computed);
    expect(s.entries).toBe(held.size);
    expect(s.evictions).toBe(0);
    expect(s.hitRatio).toBeCloseTo((30 - held.size) / 30, 12);
    // The plain model has no cache at all.
    expect(plain.stats().kvCache).toBeUndefined();
  });
});

describe("reuse is proven by the prefix fingerprint", () => {
  const options = { ...base, rab: "time" as const };
  const built = zoo.hstu.build(options);
  const rows = hstuOptions(options).itemTableRows;

  test.each([
    ["an old event's item", "items"],
    ["an old event's action", "actions"],
    ["an old event's timestamp", "times"],
  ] as const)("changing %s recomputes the whole history (a counted mismatch) and still scores like no cache", async (_, field) => {
    const plain = keep(new Model(built));
    const cached = keep(new Model(built, { kvCache: { mb: 16 } }));
    const visits = new UserVisits(11, options.historyLength, rows, options.actions);
    const h = visits.grow("u1", 20);
    await ctr(cached, visits.request(h, 4, "u1"));
    visits.grow("u1");
    // Event 3 of 20+ changes (a late-arriving correction of an old event).
    if (field === "times") h.times[3] = h.times[3]! + 1;
    else if (field === "items") h.items[3] = (h.items[3]! + 1) % rows;
    else h.actions[3] = (h.actions[3]! + 1) % options.actions;
    const req = visits.request(h, 6, "u1");
    const { user: __, ...anonymous } = req;
    const before = cached.stats().kvCache!;
    expect(maxDiff(await ctr(cached, req), await ctr(plain, anonymous))).toBeLessThanOrEqual(TOL);
    const after = cached.stats().kvCache!;
    expect(after.mismatches - before.mismatches).toBe(1);
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(0);
    expect(after.tokensComputed - before.tokensComputed).toBe(h.items.length);
    // The recomputed history is cached again: the next visit reuses all of it.
    visits.grow("u1");
    const next = visits.request(h, 3, "u1");
    const { user: ___, ...anon2 } = next;
    expect(maxDiff(await ctr(cached, next), await ctr(plain, anon2))).toBeLessThanOrEqual(TOL);
    expect(cached.stats().kvCache!.tokensReused - after.tokensReused).toBeGreaterThanOrEqual(20);
  });

  test("two requests of one user in one batch share one history encoding", async () => {
    const plain = keep(new Model(built));
    const cached = keep(new Model(built, { kvCache: { mb: 16 } }));
    const visits = new UserVisits(12, options.historyLength, rows, options.actions);
    const h = visits.grow("u7", 30);
    const a = visits.request(h, 5, "u7");
    const b = visits.request(h, 9, "u7");
    const out = await cached.rankMany([a, b]);
    const { user: _a, ...pa } = a;
    const { user: _b, ...pb } = b;
    expect(maxDiff(out[0]!.outputs.ctr!.data, await ctr(plain, pa))).toBeLessThanOrEqual(TOL);
    expect(maxDiff(out[1]!.outputs.ctr!.data, await ctr(plain, pb))).toBeLessThanOrEqual(TOL);
    const s = cached.stats().kvCache!;
    // Both look the store up before either computes (one batch call): two misses, one encoding.
    expect(s.tokensComputed).toBe(30);
    expect([s.hits, s.misses, s.sharedInBatch, s.entries]).toEqual([0, 2, 1, 1]);
  });

  test("batches mixing users, repeat users, growing and anonymous requests score like each alone without a cache", async () => {
    const plain = keep(new Model(built));
    const cached = keep(new Model(built, { kvCache: { mb: 16 } }));
    const visits = new UserVisits(15, options.historyLength, rows, options.actions);
    let worst = 0;
    for (let batch = 0; batch < 10; batch++) {
      const reqs: RankingRequest[] = [];
      for (let i = 0; i < 4; i++) {
        const u = visits.int(7);
        const user = `u${u}`;
        // u6 is anonymous; a user may appear twice in a batch, the second time with a longer history.
        reqs.push(visits.request(visits.grow(user), 1 + visits.int(6), u === 6 ? undefined : user));
      }
      const out = await cached.rankMany(reqs);
      for (let i = 0; i < reqs.length; i++) {
        const { user: _, ...anonymous } = reqs[i]!;
        worst = Math.max(worst, maxDiff(out[i]!.outputs.ctr!.data, await ctr(plain, anonymous)));
      }
    }
    expect(worst).toBeLessThanOrEqual(TOL);
    const s = cached.stats().kvCache!;
    expect(s.hits).toBeGreaterThan(10);
    expect(s.sharedInBatch).toBeGreaterThan(0);
  });

  test("without a user nothing is looked up or stored", async () => {
    const cached = keep(new Model(built, { kvCache: { mb: 16 } }));
    const visits = new UserVisits(13, options.historyLength, rows, options.actions);
    const { user: _, ...anonymous } = visits.request(visits.grow("u1", 10), 4, "u1");
    await cached.rank(anonymous);
    await cached.rank(anonymous);
    const s = cached.stats().kvCache!;
    expect([s.hits, s.misses, s.tokensComputed, s.entries]).toEqual([0, 0, 0, 0]);
  });

  test("another model version sharing the store never reuses this one's K/V", async () => {
    const other = zoo.hstu.build({ ...options, seed: 2 });
    const store = new KvStore({ layers: options.layers, heads: options.heads, headDim: options.qkDim, budgetBytes: 16 << 20 });
    const a = keep(new Model(built, { kvCache: { mb: 1, store } }));
    const b = keep(new Model(other, { kvCache: { mb: 1, store } }));
    const bPlain = keep(new Model(other));
    const visits = new UserVisits(14, options.historyLength, rows, options.actions);
    const h = visits.grow("u3", 16);
    await ctr(a, visits.request(h, 4, "u3"));
    const req = visits.request(h, 4, "u3");
    const { user: _, ...anonymous } = req;
    expect(maxDiff(await ctr(b, req), await ctr(bPlain, anonymous))).toBeLessThanOrEqual(TOL);
    const s = store.stats();
    expect([s.hits, s.misses, s.entries]).toEqual([0, 2, 2]);
    // A version label is a key too: the same weights under another label miss.
    const c = keep(new Model(built, { kvCache: { mb: 1, store, version: "v2" } }));
    await ctr(c, req);
    expect(store.stats().misses).toBe(3);
    a.dispose();
    b.dispose();
    c.dispose();
    store.dispose();
  });
});

describe("bf16 and int8 pages", () => {
  const options = { ...base, rab: "time" as const, historyLength: 128 };
  const built = zoo.hstu.build(options);
  const rows = hstuOptions(options).itemTableRows;

  test.each([
    ["bf16", 2e-3],
    ["i8", 1e-2],
  ] as const)("%s pages score within %f of f32 pages over growing histories", async (dtype, tol) => {
    const f32 = keep(new Model(built, { kvCache: { mb: 32 } }));
    const low = keep(new Model(built, { kvCache: { mb: 32, dtype } }));
    const visits = new UserVisits(21, options.historyLength, rows, options.actions);
    let worst = 0;
    for (let v = 0; v < 16; v++) {
      const user = `u${visits.int(3)}`;
      const req = visits.request(visits.grow(user, 40), 32, user);
      worst = Math.max(worst, maxDiff(await ctr(low, req), await ctr(f32, req)));
    }
    expect(low.stats().kvCache!.hits).toBeGreaterThan(10);
    expect(worst).toBeGreaterThan(0); // the pages really are lower precision
    expect(worst).toBeLessThanOrEqual(tol);
  });
});

describe("host tier", () => {
  const options = { ...base, rab: "time" as const };
  const built = zoo.hstu.build(options);
  const rows = hstuOptions(options).itemTableRows;

  test("evicted users come back from the host tier (a copy, not a recompute) and still score like no cache", async () => {
    const plain = keep(new Model(built));
    // A native tier of ~2 users' pages, a host tier for all of them (bf16).
    const cached = keep(new Model(built, { kvCache: { mb: 0.09, host: { mb: 4, dtype: "bf16" } } }));
    const visits = new UserVisits(51, options.historyLength, rows, options.actions);
    let worst = 0;
    for (let v = 0; v < 24; v++) {
      const user = `u${v % 6}`;
      const req = visits.request(visits.grow(user, 30), 4, user);
      const { user: _, ...anonymous } = req;
      worst = Math.max(worst, maxDiff(await ctr(cached, req), await ctr(plain, anonymous)));
    }
    const s = cached.stats().kvCache!;
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.hostHits).toBeGreaterThan(0);
    expect(s.misses).toBe(6);
    // bf16 host pages: close, not equal.
    expect(worst).toBeLessThanOrEqual(2e-3);
  });
});

describe("bad input", () => {
  const built = zoo.hstu.build({ ...base, rab: "time" });

  test.each([[""], ["x".repeat(257)], [-1], [1.5], [{}]])("user %p is a 400 bad_user", async (user) => {
    const m = keep(new Model(built, { kvCache: { mb: 4 } }));
    const visits = new UserVisits(31, base.historyLength, 100, base.actions);
    const req = { ...visits.request(visits.grow("u"), 2), user } as unknown as RankingRequest;
    const err = await m.rank(req).catch((e) => e);
    expect(err).toBeInstanceOf(RankfnError);
    expect([err.status, err.code]).toEqual([400, "bad_user"]);
    expect(err.message).toContain("user:");
  });

  test("a flat request naming a user is a 400 bad_user (only ranking requests are cached)", async () => {
    const m = keep(new Model(built, { kvCache: { mb: 4 } }));
    const visits = new UserVisits(32, base.historyLength, 100, base.actions);
    const ranking = visits.request(visits.grow("u"), 1);
    const flat = { user: "u", rows: { ...ranking.context, ...ranking.candidates } } as unknown as RankingRequest;
    const err = await m.rank(flat).catch((e) => e);
    expect([err.status, err.code]).toEqual([400, "bad_user"]);
    expect(err.message).toContain("only ranking requests");
    // The same rows without the user score.
    const { user: _, ...anonymous } = flat as unknown as Record<string, unknown>;
    expect((await m.rank(anonymous as never)).outputs.ctr!.data.length).toBe(1);
  });

  test("a model without an HSTU history refuses a KV cache, naming why", () => {
    const err = (() => {
      try {
        new Model(zoo.dlrm.build({}), { kvCache: { mb: 4 } });
      } catch (e) {
        return e as RankfnError;
      }
    })();
    expect(err).toBeInstanceOf(RankfnError);
    expect(err!.code).toBe("no_kv_history");
    expect(err!.message).toContain("no hstu_history layer");
  });

  test("required: false (a server's flag for all its models) leaves a model without a history uncached, and its users ignored", async () => {
    const built = zoo.dlrm.build({ scale: 0.0001 });
    const m = keep(new Model(built, { kvCache: { mb: 4, required: false } }));
    const { sampleRequests } = await import("../../sdk/sample-requests");
    const [req] = sampleRequests(built, { count: 1, candidates: 3, seed: 1 });
    const plain = keep(new Model(built));
    expect(maxDiff(await ctr(m, { ...(req as RankingRequest), user: "u1" }), await ctr(plain, req as RankingRequest))).toBe(0);
    expect(m.stats().kvCache).toBeUndefined();
  });

  test.each([[{ mb: 0 }], [{ mb: 4, dtype: "f16" }], [{ mb: 4, host: { mb: -1 } }]])("kvCache %p is a 400 bad_option", (kvCache) => {
    expect(() => new Model(built, { kvCache } as never)).toThrow(expect.objectContaining({ code: "bad_option", status: 400 }));
  });
});
