// The native hot-row cache (rf_emb_cache_*) against a TypeScript reference LRU:
// random batches of lookups, inserts (plain and update-only), erases; hits,
// rows, miss lists and counters must match step by step. Plus bad arguments.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KernelError } from "../../runtime/errors";
import { EmbeddingCache, numThreads, setNumThreads } from "../../runtime/ffi";
import { native } from "../../runtime/ffi/native";
import { ReferenceLru } from "./reference-lru";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rowOf = (id: number, version: number, dim: number) => Float32Array.from({ length: dim }, (_, c) => id + c / 64 + version * 1000);

describe("hot-row cache vs reference LRU", () => {
  // One thread: a batch split over pool threads touches a set's rows in an
  // unspecified order, and the reference replays them in batch order.
  let threads = 1;
  beforeAll(() => {
    threads = numThreads();
    setNumThreads(1);
  });
  afterAll(() => setNumThreads(threads));
  for (const [rows, dim, budget, ways, seed] of [
    [300, 5, 4_000, 4, 1],
    [1000, 16, 20_000, 8, 2],
    [50, 3, 2_000, 1, 3],
    [5000, 7, 30_000, 16, 4],
  ] as const) {
    test(`rows ${rows}, dim ${dim}, budget ${budget} B, ${ways}-way`, () => {
      const random = rng(seed);
      using cache = new EmbeddingCache({ rows, dim, budgetBytes: budget, ways });
      const ref = new ReferenceLru(dim, budget, ways);
      expect(cache.stats().sets).toBe(ref.sets);
      let version = 0;
      // Skewed ids, so sets fill up, hits happen and evictions are frequent.
      const pick = () => Math.floor(rows * random() ** 3);
      for (let step = 0; step < 120; step++) {
        const n = 1 + Math.floor(random() * (step % 10 === 0 ? 2500 : 40));
        const ids = Array.from({ length: n }, pick);
        const action = random();
        if (action < 0.55) {
          const out = new Float32Array(n * (dim + 2)).fill(-7);
          const wide = random() < 0.5;
          const misses = [...cache.lookup(wide ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids), out, dim + 2)].map(Number);
          const want = ref.lookup(ids);
          expect(misses).toEqual(want.flatMap((r, i) => (r ? [] : [i])));
          want.forEach((r, i) => {
            const got = out.subarray(i * (dim + 2), i * (dim + 2) + dim);
            if (r) expect([...got]).toEqual([...r]);
            else expect([...got].every((v) => v === -7)).toBe(true);
          });
        } else if (action < 0.9) {
          version++;
          const updateOnly = random() < 0.2;
          const data = ids.map((id) => rowOf(id, version, dim));
          const flat = new Float32Array(n * dim);
          data.forEach((r, i) => flat.set(r, i * dim));
          cache.insert(Int32Array.from(ids), flat, "f32", { updateOnly });
          ref.insert(ids, data, updateOnly);
        } else {
          const few = ids.slice(0, 5);
          cache.erase(BigInt64Array.from(few, BigInt));
          ref.erase(few);
        }
        const s = cache.stats();
        expect([s.hits, s.misses, s.insertions, s.evictions, s.updates, s.usedRows]).toEqual([ref.hits, ref.misses, ref.insertions, ref.evictions, ref.updates, ref.size]);
      }
      expect(ref.evictions).toBeGreaterThan(0);
      expect(ref.hits).toBeGreaterThan(0);
    });
  }
});

test("large lookups (repeated ids, over the thread pool, rows on huge pages) return the rows and misses of id-by-id lookups", () => {
  const threads = numThreads();
  setNumThreads(2);
  try {
    const [rows, dim] = [20_000, 9];
    const random = rng(7);
    using cache = new EmbeddingCache({ rows, dim, budgetBytes: 12_000_000, ways: 4 }); // rows >= 4 MiB: on huge pages
    const all = Int32Array.from({ length: rows }, (_, i) => i);
    const data = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) data.set(rowOf(r, 0, dim), r * dim);
    cache.insert(all, data);
    cache.erase(Int32Array.from({ length: rows / 4 }, (_, i) => i * 4)); // a quarter erased, so hits and misses mix
    for (const n of [256, 3001, 40_000]) {
      // Skewed, so ids repeat and hit.
      const ids = Int32Array.from({ length: n }, () => Math.floor(rows * random() ** 4));
      const out = new Float32Array(n * (dim + 1)).fill(-7);
      const misses = [...cache.lookup(ids, out, dim + 1)].map(Number);
      const want: number[] = [];
      const one = new Float32Array(dim);
      for (let i = 0; i < n; i++) {
        const missed = cache.lookup(ids.subarray(i, i + 1), one.fill(-7)).length > 0;
        if (missed) want.push(i);
        const got = out.subarray(i * (dim + 1), i * (dim + 1) + dim);
        expect([...got]).toEqual(missed ? Array(dim).fill(-7) : [...rowOf(ids[i]!, 0, dim)]);
      }
      expect(misses).toEqual(want);
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(n);
    }
  } finally {
    setNumThreads(threads);
  }
});

describe("hot-row cache", () => {
  test("dequantizes f16, bf16 and u8q rows on insert", () => {
    using cache = new EmbeddingCache({ rows: 10, dim: 4, budgetBytes: 4096 });
    // f16 1.5 = 0x3e00; bf16 -2 = 0xc000; u8q: q = [0, 1, 2, 255], scale 0.5 (0x3800), bias 1 (0x3c00)
    cache.insert(Int32Array.of(1), Uint16Array.of(0x3e00, 0x3e00, 0x3e00, 0x3e00), "f16");
    cache.insert(Int32Array.of(2), Uint16Array.of(0xc000, 0xc000, 0xc000, 0xc000), "bf16");
    const q = new Uint8Array(8);
    q.set([0, 1, 2, 255]);
    new DataView(q.buffer).setUint16(4, 0x3800, true);
    new DataView(q.buffer).setUint16(6, 0x3c00, true);
    cache.insert(Int32Array.of(3), q, "u8q");
    const out = new Float32Array(12);
    expect(cache.lookup(Int32Array.of(1, 2, 3), out).length).toBe(0);
    expect([...out]).toEqual([1.5, 1.5, 1.5, 1.5, -2, -2, -2, -2, 1, 1.5, 2, 128.5]);
  });

  test("dequantizes u4q rows on insert (odd dim: ⌈5/2⌉ + 4 = 7 bytes a row, even columns in the low nibble)", () => {
    using cache = new EmbeddingCache({ rows: 10, dim: 5, budgetBytes: 4096 });
    // q = [0, 1, 2, 15, 7], scale 0.5 (0x3800), bias 1 (0x3c00); row 8 the same nibbles, scale 2 (0x4000), bias -1 (0xbc00).
    const rows = new Uint8Array(14);
    const view = new DataView(rows.buffer);
    rows.set([0x10, 0xf2, 0x07], 0);
    view.setUint16(3, 0x3800, true);
    view.setUint16(5, 0x3c00, true);
    rows.set([0x10, 0xf2, 0x07], 7);
    view.setUint16(10, 0x4000, true);
    view.setUint16(12, 0xbc00, true);
    cache.insert(Int32Array.of(4, 8), rows, "u4q");
    const out = new Float32Array(10);
    expect(cache.lookup(Int32Array.of(4, 8), out).length).toBe(0);
    expect([...out]).toEqual([1, 1.5, 2, 8.5, 4.5, -1, 1, 3, 29, 13]);
    expect(() => cache.insert(Int32Array.of(1, 2), rows.subarray(0, 13), "u4q")).toThrow(/2 rows of u4q need 14 bytes, got 13/);
    // A row dtype the cache does not know: the kernel names the ones it takes.
    expect(native().rf_emb_cache_insert(cache.handle, 1, Int32Array.of(1), 5, rows, 6, 0)).not.toBe(0);
    expect(String(native().rf_last_error())).toContain("must be RF_F32, RF_F16, RF_BF16, RF_U8Q or RF_U4Q");
  });

  test("clear drops every row; stats reset zeroes the counters", () => {
    using cache = new EmbeddingCache({ rows: 100, dim: 2, budgetBytes: 8192 });
    cache.insert(Int32Array.from({ length: 20 }, (_, i) => i), new Float32Array(40));
    expect(cache.stats().usedRows).toBe(20);
    cache.clear();
    expect(cache.lookup(Int32Array.of(1, 2), new Float32Array(4)).length).toBe(2);
    expect(cache.stats({ reset: true }).misses).toBe(2);
    expect(cache.stats().misses).toBe(0);
    expect(cache.stats().usedRows).toBe(0);
  });

  test("bad arguments are errors, never crashes", () => {
    using cache = new EmbeddingCache({ rows: 100, dim: 4, budgetBytes: 8192 });
    const out = new Float32Array(8);
    expect(() => cache.lookup(Int32Array.of(3, 100), out)).toThrow(/id 100 at position 1 is outside the table's 100 rows/);
    expect(() => cache.lookup(BigInt64Array.of(-1n), out)).toThrow(KernelError);
    expect(() => cache.insert(Int32Array.of(-5), new Float32Array(4))).toThrow(/outside/);
    expect(() => cache.lookup(Int32Array.of(1, 2, 3), out)).toThrow(/out holds 8 floats/);
    expect(() => new EmbeddingCache({ rows: 100, dim: 4, budgetBytes: 10 })).toThrow(/holds no set/);
    expect(() => new EmbeddingCache({ rows: 100, dim: 4, budgetBytes: 8192, ways: 65 })).toThrow(/ways/);
    const sym = native();
    const num = new BigInt64Array(1);
    expect(sym.rf_emb_cache_lookup(null, 1, Int32Array.of(1), 5, out, 4, new BigInt64Array(1), num)).toBe(1);
    expect(sym.rf_emb_cache_stats(null, new BigInt64Array(12), 0)).toBe(1);
    expect(sym.rf_emb_cache_create(0, 10, 4, 8192, 8, null)).toBe(1);
    expect(sym.rf_emb_cache_destroy(null)).toBe(0);
    cache.dispose();
    expect(() => cache.lookup(Int32Array.of(1), out)).toThrow(/after dispose/);
  });
});

test("three threads looking up and filling one cache see only whole, correct rows", async () => {
  const rows = 20_000;
  const dim = 24;
  using cache = new EmbeddingCache({ rows, dim, budgetBytes: 400_000, ways: 8 });
  const workers = [1, 2].map(() => new Worker(new URL("./fixtures/cache-worker.ts", import.meta.url)));
  const results = workers.map(
    (w, k) =>
      new Promise<{ wrong: number; lookups: number; hits: number }>((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage({ handle: Number(cache.handle), rows, dim, iterations: 30, seed: k });
      }),
  );
  // The main thread evicts and overwrites meanwhile (same values, so every read stays checkable).
  const ids = Int32Array.from({ length: rows }, (_, i) => i);
  const data = Float32Array.from({ length: rows * dim }, (_, k) => Math.floor(k / dim) + (k % dim) / 32);
  for (let i = 0; i < 10; i++) cache.insert(ids, data, "f32", { updateOnly: i % 2 === 1 });
  const done = await Promise.all(results);
  for (const w of workers) w.terminate();
  const s = cache.stats();
  expect(done.map((d) => d.wrong)).toEqual([0, 0]);
  expect(s.hits + s.misses).toBe(done.reduce((a, d) => a + d.lookups, 0));
  expect(s.hits).toBe(done.reduce((a, d) => a + d.hits, 0));
  expect(s.usedRows).toBeLessThanOrEqual(s.capacityRows);
});
