// The native KV store (rf_kv_store_*) against the TypeScript behaviour model
// (reference-kv.ts): random sequences of batched lookups, appends (fresh,
// extending, stale), history rewrites (fingerprint mismatches), erases and
// version changes under tiny budgets, for each native/host dtype pair. Step by
// step the cached lengths, the K/V values (exact for f32, within the stated
// bound for bf16/int8), the untouched rows and the counters must match.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type KvPageDType, KvStore, kvBudgetForPages, kvFingerprints, kvPageBytes, numThreads, setNumThreads } from "../../runtime/ffi";
import { type TokenKv, ReferenceKvStore, referenceFingerprints } from "./reference-kv";
import { rng } from "./seeded-random";

const SENTINEL = -9;

test("fingerprints equal the header's definition (jagged, negative ids, 64-bit timestamps)", () => {
  const random = rng(7);
  const lengths = [0, 1, 5, 0, 17, 3];
  const offsets = BigInt64Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))].map(BigInt));
  const n = Number(offsets[lengths.length]);
  const ids = BigInt64Array.from({ length: n }, () => BigInt(Math.floor((random() - 0.5) * 2 ** 40)));
  const ts = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(random() * 2 ** 52)) * 1000n);
  const got = [...kvFingerprints(offsets, ids, ts)];
  const want = lengths.flatMap((len, b) => {
    const o = Number(offsets[b]);
    return referenceFingerprints([...ids.subarray(o, o + len)], [...ts.subarray(o, o + len)]);
  });
  expect(got).toEqual(want);
  // A changed event changes every later fingerprint of its user, none before it.
  const ids2 = ids.slice();
  ids2[Number(offsets[4]) + 6]! += 1n;
  const got2 = [...kvFingerprints(offsets, ids2, ts)];
  const o = Number(offsets[4]);
  expect(got2.slice(0, o + 6)).toEqual(got.slice(0, o + 6));
  for (let i = o + 6; i < o + 17; i++) expect(got2[i]).not.toBe(got[i]);
});

interface Config {
  dtype: KvPageDType;
  host: KvPageDType | null;
  pages: number;
  hostPages: number;
  seed: number;
}

const layers = 2;
const heads = 2;
const headDim = 3;
const width = heads * headDim;
const pageTokens = 4;

describe("KV store vs reference model", () => {
  let threads = 1;
  // One thread: a batch split over the pool orders its users' recency unpredictably.
  beforeAll(() => {
    threads = numThreads();
    setNumThreads(1);
  });
  afterAll(() => setNumThreads(threads));

  const configs: Config[] = [
    { dtype: "f32", host: null, pages: 8, hostPages: 0, seed: 1 },
    { dtype: "f32", host: "bf16", pages: 8, hostPages: 12, seed: 2 },
    { dtype: "bf16", host: "i8", pages: 6, hostPages: 10, seed: 3 },
    { dtype: "i8", host: "f32", pages: 9, hostPages: 5, seed: 4 },
    { dtype: "f32", host: "f32", pages: 3, hostPages: 20, seed: 5 },
  ];
  for (const cfg of configs) {
    test(`native ${cfg.dtype} ${cfg.pages} pages, host ${cfg.host ?? "none"} ${cfg.hostPages} pages`, () => {
      const random = rng(cfg.seed);
      const pb = kvPageBytes(cfg.dtype, layers, heads, headDim, pageTokens);
      const hb = cfg.host ? kvPageBytes(cfg.host, layers, heads, headDim, pageTokens) : 0;
      using store = new KvStore({
        layers, heads, headDim, pageTokens, dtype: cfg.dtype, budgetBytes: kvBudgetForPages(pb, cfg.pages) + 50,
        ...(cfg.host ? { host: { dtype: cfg.host, budgetBytes: kvBudgetForPages(hb, cfg.hostPages) + 95 } } : {}),
      });
      const ref = new ReferenceKvStore(pageTokens, [cfg.pages, cfg.host ? cfg.hostPages : 0], [cfg.dtype, cfg.host ?? "f32"]);
      const s0 = store.stats();
      expect([s0.pages, s0.hostPages, s0.pageBytes]).toEqual([cfg.pages, cfg.host ? cfg.hostPages : 0, pb]);
      expect(s0.bytes).toBeLessThanOrEqual(kvBudgetForPages(pb, cfg.pages) + 50);

      const users = 10;
      // Each (version, user) has a history of events that grows, is sometimes rewritten or truncated.
      const histories = new Map<string, { ids: bigint[]; ts: bigint[] }>();
      let version = 1n;
      let mismatchesMade = 0;
      let hostHitsSeen = 0;
      for (let step = 0; step < 160; step++) {
        if (step === 80) version = 2n; // a new model version: nothing of version 1 is reusable
        if (step === 120) {
          store.eraseVersion(1n);
          ref.eraseVersion(1n);
        }
        const batch = [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => BigInt(Math.floor(random() * users))))];
        const hist = batch.map((u) => {
          const key = `${version}:${u}`;
          const h = histories.get(key) ?? { ids: [], ts: [] };
          const r = random();
          if (r < 0.07 && h.ids.length > 2) {
            h.ids[Math.floor(random() * h.ids.length)]! += 1000n; // rewritten history
            mismatchesMade++;
          } else if (r < 0.1 && h.ids.length > 4) {
            h.ids.length = h.ts.length = h.ids.length - 3; // truncated
          }
          const grow = 1 + Math.floor(random() * (random() < 0.1 ? 14 : 5));
          for (let i = 0; i < grow; i++) {
            h.ids.push(BigInt(Math.floor(random() * 1e6)));
            h.ts.push(BigInt(1_700_000_000 + step * 10 + i));
          }
          histories.set(key, h);
          return h;
        });
        const lens = hist.map((h) => h.ids.length);
        const histOffsets = BigInt64Array.from([0, ...lens.map((_, i) => lens.slice(0, i + 1).reduce((a, b) => a + b, 0))].map(BigInt));
        const fps = hist.map((h) => referenceFingerprints(h.ids, h.ts));
        const histFp = BigUint64Array.from(fps.flat());
        // K/V rows: each user's history plus two candidate rows; odd ld.
        const ld = width + 3;
        const rooms = lens.map((n) => n + 2);
        const kvOffsets = BigInt64Array.from([0, ...rooms.map((_, i) => rooms.slice(0, i + 1).reduce((a, b) => a + b, 0))].map(BigInt));
        const rows = Number(kvOffsets[batch.length]);
        const layerStride = rows * ld;
        const k = new Float32Array(layers * layerStride).fill(SENTINEL);
        const v = new Float32Array(layers * layerStride).fill(SENTINEL);
        const cached = [...store.lookup(version, BigUint64Array.from(batch), histOffsets, histFp, { k, v, kvOffsets, ld, layerStride })].map(Number);
        const want = batch.map((u, b) => ref.lookup(version, u, fps[b]!));
        expect(cached).toEqual(want.map((w) => w.tokens.length));
        batch.forEach((_, b) => {
          const row0 = Number(kvOffsets[b]);
          const { tokens, tol } = want[b]!;
          for (let t = 0; t < rooms[b]!; t++)
            for (let l = 0; l < layers; l++)
              for (let c = 0; c < width; c++) {
                const at = l * layerStride + (row0 + t) * ld + c;
                if (t < tokens.length) {
                  const wk = tokens[t]!.k[l * width + c]!, wv = tokens[t]!.v[l * width + c]!;
                  if (tol === 0) {
                    if (k[at] !== wk || v[at] !== wv) expect([step, b, t, l, c, k[at], v[at]]).toEqual([step, b, t, l, c, wk, wv]);
                  } else if (!(Math.abs(k[at]! - wk) <= tol && Math.abs(v[at]! - wv) <= tol)) {
                    expect({ step, b, t, l, c, k: k[at], v: v[at], tol }).toEqual({ step, b, t, l, c, k: wk, v: wv, tol });
                  }
                } else if (k[at] !== SENTINEL || v[at] !== SENTINEL) {
                  expect({ step, b, t, untouched: false }).toEqual({ step, b, t, untouched: true });
                }
              }
        });
        // The caller computes the rest of each history and appends it (sometimes stale on purpose).
        const items = batch.map((user, b) => {
          const row0 = Number(kvOffsets[b]);
          let start = cached[b]!;
          const n = lens[b]!;
          const tokens: TokenKv[] = [];
          for (let t = start; t < n; t++) {
            const tk = { k: new Float32Array(layers * width), v: new Float32Array(layers * width) };
            for (let l = 0; l < layers; l++)
              for (let c = 0; c < width; c++) {
                k[l * layerStride + (row0 + t) * ld + c] = tk.k[l * width + c] = random() * 2 - 1;
                v[l * layerStride + (row0 + t) * ld + c] = tk.v[l * width + c] = random() * 2 - 1;
              }
            tokens.push(tk);
          }
          let prefixFp = start > 0 ? fps[b]![start - 1]! : 0n;
          const stale = random();
          if (stale < 0.05 && start > 0) prefixFp ^= 1n;
          else if (stale < 0.1 && start > 1) start -= 1, tokens.unshift({ k: new Float32Array(layers * width), v: new Float32Array(layers * width) }); // rows the entry already holds: skipped
          return { user, start, count: n - start, srcRow: row0 + start, prefixFp, fp: fps[b]![n - 1]!, tokens };
        }).filter((it) => it.count > 0);
        const stored = [...store.append(version, items, k, v, { ld, layerStride })];
        const refStored = items.map((it) => (ref.append(version, it.user, it.start, it.prefixFp, it.fp, it.tokens) ? 1 : 0));
        expect(stored).toEqual(refStored);
        if (random() < 0.05) {
          const u = BigInt(Math.floor(random() * users));
          store.erase(version, BigUint64Array.of(u));
          ref.erase(version, u);
        }
        const s = store.stats();
        const { hits, misses, hostHits, tokensReused, tokensComputed, mismatches, evictions, hostEvictions, appendsSkipped } = s;
        expect({ step, hits, misses, hostHits, tokensReused, tokensComputed, mismatches, evictions, hostEvictions, appendsSkipped }).toEqual({ step, ...ref.counters });
        expect([s.entries, s.hostEntries, s.bytesUsed, s.hostBytesUsed]).toEqual([ref.count(0), ref.count(1), ref.used(0) * pb, ref.used(1) * hb]);
        hostHitsSeen = s.hostHits;
      }
      const s = store.stats();
      // The sequence exercised what it is meant to.
      expect(s.hits).toBeGreaterThan(20);
      expect(s.mismatches).toBeGreaterThan(0);
      expect(s.evictions).toBeGreaterThan(0);
      expect(s.appendsSkipped).toBeGreaterThan(0);
      if (cfg.host) expect(hostHitsSeen).toBeGreaterThan(0);
      expect(mismatchesMade).toBeGreaterThan(0);
      const reset = store.stats({ reset: true });
      expect(reset.hits).toBe(s.hits);
      expect(store.stats().hits).toBe(0);
      expect(store.stats().entries).toBe(s.entries);
    });
  }
});

test("LFU with dynamic aging keeps a user hit often that LRU evicts", () => {
  const pb = kvPageBytes("f32", 1, 1, 2, 4);
  const run = (eviction: "lru" | "lfu-da") => {
    using store = new KvStore({ layers: 1, heads: 1, headDim: 2, pageTokens: 4, budgetBytes: kvBudgetForPages(pb, 3), eviction });
    const kv = new Float32Array(4 * 2).fill(0.5);
    const offsets = BigInt64Array.of(0n, 4n);
    const fp = BigUint64Array.of(1n, 2n, 3n, 4n);
    const put = (u: bigint) => store.append(1n, [{ user: u, start: 0, count: 4, srcRow: 0, prefixFp: 0n, fp: 4n }], kv, kv, { layerStride: 0 })[0];
    const has = (u: bigint) => Number(store.lookup(1n, BigUint64Array.of(u), offsets, fp)[0]) > 0;
    put(1n);
    for (let i = 0; i < 3; i++) expect(has(1n)).toBe(true); // user 1: four uses
    put(2n);
    put(3n);
    put(4n); // one of 1, 2, 3 goes
    const afterFour = [1n, 2n, 3n].map((u) => store.stats().entries === 3 && has(u));
    return afterFour;
  };
  // LRU drops user 1 (the oldest last use); LFU-DA drops user 2 (one use, older than user 3).
  expect(run("lru")).toEqual([false, true, true]);
  expect(run("lfu-da")).toEqual([true, false, true]);
});
