// The memory planner never gives two simultaneously live values overlapping
// bytes (property test over random lifetimes) and does reuse memory.
import { expect, test } from "bun:test";
import { type Lifetime, planMemory } from "../../runtime/compiler/plan-memory";
import { Rng } from "../../runtime/tensor/random";

test("no two live values overlap, over 500 random graphs", () => {
  const rng = new Rng(17);
  for (let trial = 0; trial < 500; trial++) {
    const n = 1 + rng.int(40);
    const lifetimes: Lifetime[] = Array.from({ length: n }, (_, i) => {
      const start = rng.int(30) - 1;
      const end = rng.next() < 0.1 ? Infinity : start + 1 + rng.int(10);
      return { name: `v${i}`, bytes: 1 + rng.int(5000), start, end };
    });
    const plan = planMemory(lifetimes);
    expect(plan.offsets.size).toBe(n);
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const la = lifetimes[a]!;
        const lb = lifetimes[b]!;
        if (la.start > lb.end || lb.start > la.end) continue;
        const oa = plan.offsets.get(la.name)!;
        const ob = plan.offsets.get(lb.name)!;
        const overlap = oa < ob + lb.bytes && ob < oa + la.bytes;
        if (overlap) throw new Error(`trial ${trial}: ${la.name} [${oa}, +${la.bytes}) and ${lb.name} [${ob}, +${lb.bytes}) overlap while both live`);
      }
      expect(plan.offsets.get(lifetimes[a]!.name)! + lifetimes[a]!.bytes).toBeLessThanOrEqual(plan.arenaBytes);
    }
  }
});

test("a chain of layers reuses two buffers", () => {
  // v_i is written by node i and read by node i+1: a classic MLP.
  const lifetimes = Array.from({ length: 10 }, (_, i) => ({ name: `v${i}`, bytes: 1024, start: i, end: i + 1 }));
  const plan = planMemory(lifetimes);
  expect(plan.naiveBytes).toBe(10 * 1024);
  expect(plan.arenaBytes).toBe(2 * 1024);
});
