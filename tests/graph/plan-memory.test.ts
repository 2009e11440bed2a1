// The memory planner never gives two simultaneously live values overlapping
// bytes (property test over random lifetimes) and does reuse memory.
import { expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { type Lifetime, planMemory } from "../../runtime/compiler/plan-memory";
import { valueLifetimes } from "../../runtime/engine/plan";
import { GraphBuilder } from "../../runtime/graph/builder";
import { inferGraph } from "../../runtime/graph/infer";
import { parseGraph } from "../../runtime/graph/schema";
import { Rng } from "../../runtime/tensor/random";

test("no two live values overlap, over 500 random lifetime sets", () => {
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

test("over random compiled graphs (with concat elimination), live values never share bytes and aliases stay inside their base", () => {
  const rng = new Rng(23);
  let aliased = 0;
  for (let trial = 0; trial < 60; trial++) {
    const b = new GraphBuilder(`random${trial}`, trial);
    const values: string[] = [b.input("x", "f32", 1 + rng.int(9), "candidate"), b.input("u", "f32", 1 + rng.int(9), "context")];
    for (let i = 0; i < 4 + rng.int(10); i++) {
      const pick = () => values[rng.int(values.length)]!;
      const r = rng.next();
      if (r < 0.4) values.push(b.linear(pick(), 1 + rng.int(12), rng.next() < 0.5 ? "relu" : "none"));
      else if (r < 0.7) values.push(b.concat([pick(), pick(), ...(rng.next() < 0.5 ? [pick()] : [])]));
      else {
        const v = pick();
        values.push(b.node("tanh", [v], b.width(v)));
      }
    }
    const last = values.at(-1)!;
    b.output("y", b.linear(last, 1, "sigmoid"));
    const built = b.build();
    const model = compile(built).model;
    const info = inferGraph(model.graph);
    const capacity = 1 + rng.int(64);
    const lifetimes = valueLifetimes(model, info, capacity);
    const plan = planMemory(lifetimes);
    for (let i = 0; i < lifetimes.length; i++) {
      for (let j = i + 1; j < lifetimes.length; j++) {
        const a = lifetimes[i]!;
        const c = lifetimes[j]!;
        if (a.start > c.end || c.start > a.end) continue;
        const oa = plan.offsets.get(a.name)!;
        const oc = plan.offsets.get(c.name)!;
        expect(oa < oc + c.bytes && oc < oa + a.bytes).toBe(false);
      }
    }
    for (const [name, alias] of Object.entries(model.graph.aliases ?? {})) {
      const width = info.values.get(name)!.shape[0]!;
      expect(alias.offset + width).toBeLessThanOrEqual(info.values.get(alias.of)!.shape[0]!);
      expect(plan.offsets.has(alias.of)).toBe(true);
      expect(plan.offsets.has(name)).toBe(false);
      aliased++;
    }
  }
  expect(aliased).toBeGreaterThan(20); // the draws really exercised concat elimination
});

test("values of every dtype are placed (ids computed on, bools) with their element size; a reshape lives in its input", () => {
  const graph = parseGraph({
    format: "rankfn.graph/1",
    name: "typed",
    inputs: [
      { name: "ids", dtype: "i64", shape: [4], role: "candidate" },
      { name: "x", dtype: "f32", shape: [4], role: "candidate" },
    ],
    weights: { offsets: { dtype: "i64", shape: [4] }, zero: { dtype: "i64", shape: [1] } },
    nodes: [
      { name: "shift", op: "binary", inputs: ["ids", "offsets"], outputs: ["shifted"], attrs: { op: "add" } },
      { name: "valid", op: "binary", inputs: ["shifted", "zero"], outputs: ["mask"], attrs: { op: "gt" } },
      { name: "view", op: "reshape", inputs: ["mask"], outputs: ["mask2d"], attrs: { shape: [2, 2] } },
      { name: "flat", op: "reshape", inputs: ["mask2d"], outputs: ["mask1d"], attrs: { shape: [4] } },
      { name: "pick", op: "where", inputs: ["mask1d", "x", "x"], outputs: ["y"], attrs: {} },
    ],
    outputs: { y: "y" },
  });
  const model = { graph, weights: new Map() };
  const lifetimes = valueLifetimes(model, inferGraph(graph), 10);
  const bytes = Object.fromEntries(lifetimes.map((l) => [l.name, l.bytes]));
  expect(bytes).toEqual({ ids: 10 * 4 * 8, x: 10 * 4 * 4, shifted: 10 * 4 * 8, mask: 10 * 4 * 1, y: 10 * 4 * 4 });
  // The reshapes' outputs are views: the mask lives until the where reads its second view.
  expect(lifetimes.find((l) => l.name === "mask")!.end).toBe(4);
  const plan = planMemory(lifetimes);
  expect(plan.offsets.size).toBe(5);
});
