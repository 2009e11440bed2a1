// Dense parallelism (issue 20, `parallel.dense`) through the real kernels on
// CPU core groups: every zoo model with a chain of linears scores as the
// single-device model within 1e-5 (relative to the largest score) with its
// chains split tensor-parallel (pairs, odd last column-parallel) or replicated
// (row shares), over cpu:2 and cpu:3x1 (uneven slices), fp32 and int8 (against
// the single-device int8 model); so does a chain of odd widths with a
// residual and an output narrower than the device count. A device made to
// fail fails only that batch; inspect() shows the pairs and slices; a worker
// forwards the options; bad options are 400s naming the field.
import { afterAll, describe, expect, test } from "bun:test";
import { type Device, DeviceError, openDevices } from "../../runtime/devices";
import { compile } from "../../runtime/compiler/compile";
import { Model, type ModelOptions } from "../../runtime/engine/model";
import { inferGraph } from "../../runtime/graph/infer";
import { GraphBuilder } from "../../runtime/graph/builder";
import { RankfnError } from "../../runtime/errors";
import { INT8_SMALL_M, denseGroups, linearChains, rowShares, splitByWeight } from "../../runtime/parallel/linear-pairs";
import * as k from "../../runtime/ffi";
import { type ZooName, zoo, zooNames } from "../../sdk/zoo";
import { oddChain, oddRequest, residualFirstChain } from "./dense-fixtures";
import { expectBadOption, worstDifference, zooRequest } from "./sharding-fixtures";

const opened: { dispose(): void }[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));
const keep = <T extends { dispose(): void }>(m: T): T => (opened.push(m), m);

const chainsOf = (name: ZooName, precision?: "int8") => {
  const model = compile(zoo[name].build(), { precision }).model;
  return linearChains(model.graph, inferGraph(model.graph));
};
/** Zoo models whose compiled graph has a chain of linears (the ones dense parallelism applies to). */
const chained = zooNames.filter((name) => chainsOf(name).length > 0);

test("the zoo models with linear chains are the ones expected", () => {
  expect(chained).toEqual(expect.arrayContaining(["dlrm", "dcnv2", "deepfm", "widedeep", "din", "mmoe", "ple", "moe", "hstu", "rankmixer"]));
});

describe.each(chained as ZooName[])("zoo %s", (name) => {
  const built = zoo[name].build();
  const single = keep(new Model(built));
  test.each([["tensor", "cpu:3x1"], ["replicate", "cpu:3x1"], ["tensor", "cpu:2"], ["replicate", "cpu:2"]] as const)("%s over %s scores as one device (1e-5)", (dense, devices) => {
    const split = keep(new Model(built, { devices, parallel: { dense } }));
    for (const [rows, seed] of [[9, 1], [1, 2], [37, 3]] as const) expect(worstDifference(split, single, zooRequest(name, built, rows, seed))).toBeLessThan(1e-5);
    const stats = split.stats().parallel!.dense!;
    expect(stats.batches).toBeGreaterThanOrEqual(3);
    expect(stats.failedBatches).toBe(0);
    // Every device computed (its threads were busy): the work really ran on the core groups.
    for (const d of stats.devices) expect(d.busyMs).toBeGreaterThan(0);
  });
});

describe.each(chained.filter((n) => chainsOf(n, "int8").length > 0) as ZooName[])("zoo %s, int8", (name) => {
  const built = zoo[name].build();
  const single = keep(new Model(built, { precision: "int8" }));
  test.each([["tensor"], ["replicate"]] as const)("%s over cpu:2 scores as the single-device int8 model (1e-5)", (dense) => {
    const split = keep(new Model(built, { precision: "int8", devices: "cpu:2", parallel: { dense } }));
    for (const [rows, seed] of [[33, 4], [2, 5]] as const) expect(worstDifference(split, single, zooRequest(name, built, rows, seed))).toBeLessThan(1e-5);
    const report = split.inspect().parallel!.dense!;
    // An int8 second linear never runs row-parallel (its slices would be quantized apart).
    for (const g of report.groups) if (g.kind === "pair") expect(g.dtype[1]).not.toBe("i8");
  });
});

test.each([["tensor"], ["replicate"]] as const)("bf16 weights, %s over cpu:3x1, score as the single-device bf16 model (1e-5)", (dense) => {
  const built = zoo.dlrm.build();
  const single = keep(new Model(built, { precision: "bf16" }));
  const split = keep(new Model(built, { precision: "bf16", devices: "cpu:3x1", parallel: { dense } }));
  expect(split.inspect().parallel!.dense!.groups.flatMap((g) => g.dtype)).toContain("bf16");
  for (const [rows, seed] of [[19, 1], [3, 2]] as const) expect(worstDifference(split, single, zooRequest("dlrm", built, rows, seed))).toBeLessThan(1e-5);
});

test.skipIf(!k.supportedIsas().includes("avx2"))("int8 on AVX2 (int16 rows up to 24): replicated row shares keep the batch's side of the bound", () => {
  const built = zoo.dcnv2.build();
  const before = k.isa().active;
  k.setIsa("avx2");
  try {
    const single = keep(new Model(built, { precision: "int8" }));
    const split = keep(new Model(built, { precision: "int8", devices: "cpu:2", parallel: { dense: "replicate" } }));
    for (const [rows, seed] of [[40, 1], [20, 2], [49, 3], [64, 4]] as const) expect(worstDifference(split, single, zooRequest("dcnv2", built, rows, seed))).toBeLessThan(1e-5);
  } finally {
    k.setIsa(before);
  }
  const sizes = (rows: number, int8: boolean) => rowShares(rows, [1, 1, 1], int8).map((s) => s.end - s.start);
  expect(sizes(40, true)).toEqual([40, 0, 0]);
  expect(sizes(60, true)).toEqual([32, 28, 0]);
  expect(sizes(20, true)).toEqual([7, 6, 7]);
  expect(sizes(40, false)).toEqual([16, 8, 16]);
  for (let rows = INT8_SMALL_M + 1; rows < 200; rows++) for (const n of sizes(rows, true)) expect(n === 0 || n > INT8_SMALL_M).toBe(true);
});

describe("a chain of odd widths with a residual", () => {
  const built = oddChain();
  const single = keep(new Model(built));
  test.each(["cpu:2x1", "cpu:3x1"].flatMap((d) => [["tensor", d], ["replicate", d]] as const))("%s over %s", (dense, devices) => {
    const split = keep(new Model(built, { devices, parallel: { dense } }));
    for (const [rows, seed] of [[1, 1], [5, 2], [70, 3]] as const) expect(worstDifference(split, single, oddRequest(rows, seed) as never)).toBeLessThan(1e-5);
    const report = split.inspect().parallel!.dense!;
    if (dense === "tensor") {
      expect(report.groups.map((g) => [g.kind, g.linears])).toEqual([["pair", ["l1", "l2"]], ["pair", ["l3", "l4"]], ["column", ["l5"]]]);
      // 13 columns over 2 or 3 devices: contiguous, uneven, covering them all.
      const cols = report.groups[0]!.slices.map((s) => s.columns);
      expect(cols[0]![0]).toBe(0);
      expect(cols.at(-1)![1]).toBe(13);
      cols.slice(1).forEach((c, i) => expect(c[0]).toBe(cols[i]![1]));
      if (devices === "cpu:3x1") expect(report.groups[2]!.slices.filter((s) => s.columns[1] > s.columns[0]).length).toBe(2);
    } else expect(report.groups.map((g) => g.kind)).toEqual(["rows"]);
  });
});

test.each(["tensor", "replicate"] as const)("a residual on the first linear of a pair (%s over cpu:3x1)", (dense) => {
  const built = residualFirstChain();
  const single = keep(new Model(built));
  const split = keep(new Model(built, { devices: "cpu:3x1", parallel: { dense } }));
  for (const [rows, seed] of [[1, 1], [31, 2]] as const) expect(worstDifference(split, single, oddRequest(rows, seed) as never)).toBeLessThan(1e-5);
  const model = compile(built).model;
  const chain = linearChains(model.graph, inferGraph(model.graph))[0]!;
  expect(chain.map((l) => [l.node, l.residual !== undefined])).toEqual([["r1", true], ["r2", false], ["r3", false]]);
  if (dense === "tensor") expect(split.inspect().parallel!.dense!.groups.map((g) => g.kind)).toEqual(["pair", "column"]);
});

test("inspect() shows DLRM's pairs and each device's slice", () => {
  const split = keep(new Model(zoo.dlrm.build(), { devices: "cpu:2x1", parallel: { dense: "tensor" } }));
  const report = split.inspect().parallel!.dense!;
  expect(report.strategy).toBe("tensor");
  expect(report.devices).toEqual(["cpu:0", "cpu:1"]);
  expect(report.groups.map((g) => [g.kind, g.linears.join("+")])).toEqual([
    ["pair", "bottom.0+bottom.1"], ["column", "bottom.2"], ["pair", "top.0+top.1"], ["pair", "top.2+top.3"], ["column", "top.4"],
  ]);
  const top = report.groups[2]!;
  expect(top.slices.map((s) => s.columns)).toEqual([[0, top.widths[1]! / 2], [top.widths[1]! / 2, top.widths[1]!]]);
  // A pair's slices hold half of both weights each.
  const [k, n1, n2] = top.widths as [number, number, number];
  expect(top.slices.map((s) => s.bytes)).toEqual([2, 2].map(() => ((n1 / 2) * k + (n1 / 2) * n2) * 4));
  expect(Object.values(report.deviceBytes).reduce((a, b) => a + b, 0)).toBe(report.groups.reduce((a, g) => a + g.slices.reduce((x, s) => x + s.bytes, 0), 0));
});

test("pairing: chains cut in pairs, an odd last column-parallel, int8 second halves column-parallel", () => {
  const model = compile(oddChain(), { precision: "int8" }).model;
  const chains = linearChains(model.graph, inferGraph(model.graph));
  expect(chains.map((c) => c.map((l) => l.node))).toEqual([["l1", "l2", "l3", "l4", "l5"]]);
  const kinds = denseGroups(chains, "tensor").map((g) => `${g.kind}:${g.linears.map((l) => `${l.node}/${l.dtype}`).join("+")}`);
  // Whatever the compiler kept in f32, no pair's second linear is int8.
  for (const k of kinds) if (k.startsWith("pair")) expect(k.split("+")[1]).not.toContain("i8");
  expect(denseGroups(chains, "replicate").length).toBe(1);
  expect(splitByWeight(13, [1, 1, 1])).toEqual([{ start: 0, end: 4 }, { start: 4, end: 9 }, { start: 9, end: 13 }]);
  expect(splitByWeight(1024, [1, 1])).toEqual([{ start: 0, end: 512 }, { start: 512, end: 1024 }]);
  expect(splitByWeight(100, [1, 3], 16)).toEqual([{ start: 0, end: 32 }, { start: 32, end: 100 }]);
  expect(splitByWeight(2, [1, 1, 1])).toEqual([{ start: 0, end: 1 }, { start: 1, end: 1 }, { start: 1, end: 2 }]);
});

describe("activations left as nodes of their own (optimize: false) are taken into the chain", () => {
  test.each(["tensor", "replicate"] as const)("%s over cpu:3x1", (dense) => {
    for (const [built, request] of [[oddChain(), (seed: number) => oddRequest(23, seed)], [zoo.dcnv2.build(), (seed: number) => zooRequest("dcnv2", zoo.dcnv2.build(), 23, seed)]] as const) {
      const single = keep(new Model(built, { optimize: false }));
      const split = keep(new Model(built, { optimize: false, devices: "cpu:3x1", parallel: { dense } }));
      for (const seed of [1, 2]) expect(worstDifference(split, single, request(seed) as never)).toBeLessThan(1e-5);
      const groups = split.inspect().parallel!.dense!.groups;
      expect(groups.length).toBeGreaterThan(0);
      expect(split.stats().parallel!.dense!.batches).toBeGreaterThan(0);
    }
  });

  test("the activation node becomes the linear's epilogue", () => {
    const model = compile(oddChain(), { optimize: false }).model;
    const chains = linearChains(model.graph, inferGraph(model.graph));
    const byNode = Object.fromEntries(chains.flat().map((l) => [l.node, l.act]));
    expect(byNode).toMatchObject({ l3: "gelu", l4: "tanh", l5: "sigmoid" });
    expect(chains.flat().find((l) => l.node === "l5")!.absorbed).toBeDefined();
  });
});

test("a chain ends where a linear's output is a graph output or read twice", () => {
  const b = new GraphBuilder("branching", 4);
  const x = b.input("x", "f32", 8, "candidate");
  const a = b.linear(b.linear(x, 16, "relu", "a1"), 12, "relu", "a2");
  b.output("a", a); // a2's output leaves the graph: a3 starts no chain with it
  const c = b.linear(b.linear(b.linear(a, 10, "relu", "a3"), 6, "relu", "a4"), 6, "relu", "a5");
  b.output("c", b.node("add", [c, b.linear(c, 6, "none", "side")], 6)); // a5's output is read twice
  const model = compile(b.build()).model;
  const chains = linearChains(model.graph, inferGraph(model.graph)).map((ch) => ch.map((l) => l.node));
  expect(chains).toEqual([["a1", "a2"], ["a3", "a4", "a5"]]);
});

test("a device made to fail fails only that batch; the next batch and the other requests in flight score as before", async () => {
  const built = zoo.dcnv2.build();
  const single = keep(new Model(built));
  for (const dense of ["tensor", "replicate"] as const) {
    const devices: Device[] = openDevices("cpu:2x1");
    const split = new Model(built, { devices, parallel: { dense } });
    const req = zooRequest("dcnv2", built, 10, 11);
    devices[1]!.failNextBatch();
    let err: unknown;
    try {
      split.rankSync(req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).message).toMatch(new RegExp(`^${dense === "tensor" ? "tensor-parallel" : "replicated"} linears ".*": device cpu:1 failed the batch: command 0 \\(fail\\): injected fault`));
    expect((err as DeviceError).status).toBe(503);
    expect(worstDifference(split, single, req)).toBeLessThan(1e-5);
    // Three requests in flight, one device failing once: exactly one fails, the others score.
    const reqs = [12, 13, 14].map((seed) => zooRequest("dcnv2", built, 7, seed));
    devices[0]!.failNextBatch();
    const settled = await Promise.allSettled(reqs.map((r) => split.rank(r)));
    expect(settled.filter((s) => s.status === "rejected").map((s) => ((s as PromiseRejectedResult).reason as RankfnError).status)).toEqual([503]);
    settled.forEach((s, i) => {
      if (s.status !== "fulfilled") return;
      const want = single.rankSync(reqs[i]!).outputs.ctr!.data;
      expect(Math.max(...Array.from(s.value.outputs.ctr!.data, (g, j) => Math.abs(g - want[j]!)))).toBeLessThan(1e-5);
    });
    expect(split.stats().parallel!.dense!.failedBatches).toBe(2);
    split.dispose(); // devices passed in stay open: the caller owns them
    expect(devices[1]!.stats().commands).toBeGreaterThan(0);
    devices.forEach((d) => d.dispose());
  }
});

test("on a worker (devices opened there from the spec) it scores as one device", async () => {
  const built = zoo.dcnv2.build();
  const single = keep(new Model(built));
  const worker = keep(new Model(built, { worker: true, devices: "cpu:2x1", parallel: { dense: "tensor" } }));
  await worker.ready();
  const req = zooRequest("dcnv2", built, 12, 13);
  const got = (await worker.rank(req)).outputs.ctr!.data;
  const want = single.rankSync(req).outputs.ctr!.data;
  expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!)))).toBeLessThan(1e-5);
  expect(worker.inspect().parallel!.dense!.groups.map((g) => g.kind)).toEqual(["pair", "pair"]);
  // The worker's counters come back with each batch.
  expect(worker.stats().parallel!.dense!.batches).toBe(2);
  expect(worker.stats().parallel!.dense!.devices.map((d) => d.id)).toEqual(["cpu:0", "cpu:1"]);
});

test("embeddings and dense together share one set of devices", () => {
  const built = zoo.dlrm.build();
  const single = keep(new Model(built));
  const both = keep(new Model(built, { devices: "cpu:2x1", parallel: { embeddings: "row", dense: "tensor" } }));
  expect(worstDifference(both, single, zooRequest("dlrm", built, 21, 6))).toBeLessThan(1e-5);
  const report = both.inspect().parallel!;
  expect(report.embeddings!.devices).toEqual(report.dense!.devices);
  const stats = both.stats().parallel!;
  expect(stats.embeddings!.batches).toBeGreaterThan(0);
  expect(stats.dense!.batches).toBeGreaterThan(0);
});

describe("bad options are 400s naming the field", () => {
  const built = oddChain();
  const cases: [ModelOptions, string][] = [
    [{ devices: "cpu:2", parallel: { dense: "pipeline" as never } }, 'parallel.dense: unknown strategy "pipeline" (expected "tensor", "replicate")'],
    [{ devices: "cpu:2", parallel: { dense: 2 as never } }, "parallel.dense: unknown strategy 2"],
    [{ parallel: { dense: "tensor" } }, "parallel: needs devices"],
    [{ devices: "cpu:2", parallel: { dense: "tensor" }, experts: { devices: "cpu:2" } }, "parallel.dense: cannot be combined with experts"],
  ];
  test.each(cases.map(([o, m]) => [m, o] as const))("%s", (message, options) => expectBadOption(built, options, message));
});
