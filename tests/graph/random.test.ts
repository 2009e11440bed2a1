// The seeded generator behind every generated model, request and benchmark
// must be deterministic and statistically sane (a short-period generator once
// made "cold" embedding benchmarks hit the cache).
import { expect, test } from "bun:test";
import { Rng, Zipf } from "../../runtime/tensor/random";

test("the same seed repeats, another seed differs", () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
  expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xs);
});

test("a million draws over a million values cover about 1 − 1/e of them, evenly", () => {
  const rng = new Rng(1);
  const n = 1_000_000;
  const seen = new Uint8Array(n);
  const buckets = new Float64Array(10);
  for (let i = 0; i < n; i++) {
    const v = rng.int(n);
    seen[v] = 1;
    buckets[Math.floor(v / (n / 10))]!++;
  }
  const distinct = seen.reduce((a, b) => a + b, 0);
  expect(Math.abs(distinct / n - (1 - 1 / Math.E))).toBeLessThan(0.005);
  for (const b of buckets) expect(Math.abs(b / (n / 10) - 1)).toBeLessThan(0.01);
});

test("Zipf draws favour low ranks and stay in range", () => {
  const rng = new Rng(3);
  const z = new Zipf(1000, 1.05);
  const counts = new Float64Array(1000);
  for (let i = 0; i < 100_000; i++) counts[z.sample(rng)]!++;
  expect(counts[0]!).toBeGreaterThan(counts[10]!);
  expect(counts[10]!).toBeGreaterThan(counts[500]!);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(100_000);
});
