// `parallel: "auto"` (issue 20): the planner's view of a compiled graph (its FLOPs, bytes and
// weights per node, checked against the shapes by hand), the choice per batch-size bucket and its
// report in inspect(), scores equal to one device's (1e-5) whichever strategy a bucket runs, and
// the options it refuses. Speeds are fixed with RANKFN_PLANNER_SPEEDS so the plan is the same on
// every machine (the probes themselves are exercised by the bench and `rankfn probe`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { Model } from "../../runtime/engine/model";
import { rowCapacities } from "../../runtime/engine/row-buckets";
import { DeviceError, openDevices } from "../../runtime/devices";
import { costNodes, linearPairs } from "../../runtime/parallel/graph-costs";
import { pick, predict } from "../../runtime/parallel/planner";
import { deviceSpeeds } from "../../runtime/parallel/device-speeds";
import { zoo } from "../../sdk/zoo";
import { expectBadOption, worstDifference, zooRequest } from "./sharding-fixtures";

const opened: { dispose(): void }[] = [];
const saved = process.env.RANKFN_PLANNER_SPEEDS;
// 200 GFLOP/s per core, 1 GB/s on one core growing as √cores: bandwidth-bound, so the large
// buckets split over the devices and the small ones stay on one.
beforeAll(() => (process.env.RANKFN_PLANNER_SPEEDS = "200,1"));
afterAll(() => {
  opened.forEach((m) => m.dispose());
  if (saved === undefined) delete process.env.RANKFN_PLANNER_SPEEDS;
  else process.env.RANKFN_PLANNER_SPEEDS = saved;
});
const keep = <T extends { dispose(): void }>(m: T): T => (opened.push(m), m);

test("cost nodes of the compiled DLRM: FLOPs, weight bytes and lookup bytes from the shapes", () => {
  const { model } = compile(zoo.dlrm.build());
  const nodes = costNodes(model.graph);
  expect(nodes.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
  const linear = model.graph.nodes.find((n) => n.op === "linear" && model.graph.weights[n.inputs[1]!]!.shape[1] === 3456)!;
  const [N, K] = model.graph.weights[linear.inputs[1]!]!.shape as [number, number];
  const cost = nodes.find((n) => n.name === linear.name)!;
  expect(cost).toMatchObject({ kind: "linear", flopsPerRow: 2 * N * K, weightBytes: 4 * (N * K + N), bytesPerRow: 4 * (N + K) });
  const bags = model.graph.nodes.filter((n) => n.op === "embedding_bags");
  for (const bag of bags) {
    const c = nodes.find((n) => n.name === bag.name)!;
    const t = bag.inputs.length / 2;
    const ids = bag.inputs.slice(0, t).map((i) => model.graph.inputs.find((g) => g.name === i)!.shape[0]!);
    const dims = bag.inputs.slice(t).map((w) => model.graph.weights[w]!.shape[1]!);
    const rowReads = ids.reduce((a, l, i) => a + l * dims[i]! * 4, 0);
    expect(c.kind).toBe("embedding");
    expect(c.weightBytes).toBe(0);
    expect(c.flopsPerRow).toBe(ids.reduce((a, l, i) => a + l * dims[i]!, 0));
    expect(c.bytesPerRow).toBe(rowReads + ids.reduce((a, l) => a + 8 * l, 0) + dims.reduce((a, d) => a + 4 * d, 0));
  }
});

test("bucket capacities follow the executor's power-of-two buckets up to maxBatch", () => {
  expect(rowCapacities(4096)).toEqual([16, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
  expect(rowCapacities(100)).toEqual([16, 32, 64, 100]);
  expect(rowCapacities(8)).toEqual([16]);
});

describe("dlrm on cpu:2 with parallel: auto", () => {
  const options = { multiHot: [3, 1, 5, 2, 4], tableRows: [11, 40, 2, 7, 30], embeddingDim: 16, bottomMlp: [32, 16], crossRank: 8, topMlp: [64, 32, 1], contextFeatures: 1 };
  const built = zoo.dlrm.build(options);
  test("each bucket's choice is the planner's pick among what the engine runs, reported with every prediction", () => {
    const model = keep(new Model(built, { devices: "cpu:2", parallel: "auto", maxBatch: 1024 }));
    const report = model.inspect().parallel!.auto!;
    expect(report.objective).toBe("throughput");
    expect(report.devices.groups).toBe(2);
    expect(report.buckets.map((b) => b.batch)).toEqual([16, 32, 64, 128, 256, 512, 1024]);
    const graph = compile(built).model.graph;
    const nodes = costNodes(graph, linearPairs(graph));
    const speeds = deviceSpeeds(2, report.devices.coresPerGroup);
    for (const b of report.buckets) {
      const strategies = b.predictions.map((p) => p.strategy);
      expect(strategies[0]).toBe("single");
      expect(strategies).toEqual(expect.arrayContaining(["embeddings", "tensor", "replicate"]));
      expect(strategies).toContain(b.choice);
      const available = predict(nodes, speeds, b.batch).filter((p) => strategies.includes(p.strategy));
      expect(b.choice).toBe(pick(available).strategy);
      for (const p of b.predictions) expect(p.latencyMs).toBeGreaterThan(0);
    }
  });
  test("scores equal one device's within 1e-5 at every bucket it runs", () => {
    const single = keep(new Model(built));
    const auto = keep(new Model(built, { devices: "cpu:2", parallel: "auto", maxBatch: 1024 }));
    for (const [rows, seed] of [[1, 1], [40, 2], [300, 3], [1000, 4]] as const) {
      expect(worstDifference(auto, single, zooRequest("dlrm", built, rows, seed, options))).toBeLessThan(1e-5);
    }
    // Each batch ran on its bucket's choice: these speeds give one device at 1 and 40 rows and a split at 300 and 1000.
    const buckets = auto.inspect().parallel!.auto!.buckets;
    const choice = (rows: number) => buckets.find((b) => b.batch >= rows)!.choice;
    expect(choice(40)).toBe("single");
    expect(choice(1000)).not.toBe("single");
    const want: Record<string, number> = {};
    for (const rows of [1, 40, 300, 1000]) want[choice(rows)] = (want[choice(rows)] ?? 0) + 1;
    expect(auto.stats().parallel!.auto!.batches).toEqual(want);
  });

  test("a device failing under the bucket's split strategy fails only that batch", () => {
    const single = keep(new Model(built));
    const devices = openDevices("cpu:2");
    const auto = new Model(built, { devices, parallel: "auto", maxBatch: 1024 });
    try {
      const big = zooRequest("dlrm", built, 1000, 7, options);
      expect(auto.inspect().parallel!.auto!.buckets.at(-1)!.choice).not.toBe("single");
      devices[1]!.failNextBatch();
      let err: unknown;
      try {
        auto.rankSync(big);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeviceError);
      expect((err as DeviceError).status).toBe(503);
      expect((err as Error).message).toContain("device cpu:1 failed the batch");
      expect(worstDifference(auto, single, big)).toBeLessThan(1e-5);
      expect(worstDifference(auto, single, zooRequest("dlrm", built, 3, 8, options))).toBeLessThan(1e-5);
    } finally {
      auto.dispose();
      devices.forEach((d) => d.dispose());
    }
  });
  test("on a worker it plans, routes and reports the same", async () => {
    const single = keep(new Model(built));
    const worker = keep(new Model(built, { worker: true, devices: "cpu:2", parallel: "auto", maxBatch: 1024 }));
    await worker.ready();
    for (const [rows, seed] of [[5, 9], [900, 10]] as const) {
      const req = zooRequest("dlrm", built, rows, seed, options);
      const got = (await worker.rank(req)).outputs.ctr!.data;
      const want = single.rankSync(req).outputs.ctr!.data;
      expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!)))).toBeLessThan(1e-5 * Math.max(...Array.from(want, Math.abs)));
    }
    const buckets = worker.inspect().parallel!.auto!.buckets;
    expect(buckets.map((b) => b.batch)).toEqual([16, 32, 64, 128, 256, 512, 1024]);
    const batches = worker.stats().parallel!.auto!.batches;
    expect(Object.values(batches).reduce((a, b) => a + b!, 0)).toBe(2);
    expect(batches[buckets.at(-1)!.choice]).toBeGreaterThanOrEqual(1);
  });
});

test("bad uses of auto are 400s naming the field", () => {
  const built = zoo.dlrm.build();
  expectBadOption(built, { parallel: "auto" }, 'parallel: "auto" needs devices');
  expectBadOption(built, { devices: "cpu:2", parallel: "auto", kvCache: { mb: 1 } }, 'parallel: "auto" cannot be combined with kvCache');
  process.env.RANKFN_PLANNER_SPEEDS = "fast";
  try {
    expectBadOption(built, { devices: "cpu:2", parallel: "auto" }, "RANKFN_PLANNER_SPEEDS");
  } finally {
    process.env.RANKFN_PLANNER_SPEEDS = "200,1";
  }
});

describe("zoo moe: expert parallelism as a part of parallel, and among auto's choices", () => {
  const built = zoo.moe.build();
  test("parallel: { experts } scores as one device (1e-5) and as the experts option does", () => {
    const single = keep(new Model(built));
    const part = keep(new Model(built, { devices: "cpu:2", parallel: { experts: { capacityFactor: 8 } } }));
    const option = keep(new Model(built, { experts: { devices: "cpu:2", capacityFactor: 8 } }));
    for (const [rows, seed] of [[9, 1], [70, 2]] as const) {
      const req = zooRequest("moe", built, rows, seed);
      expect(worstDifference(part, single, req)).toBeLessThan(1e-5);
      expect(worstDifference(part, option, req)).toBe(0);
    }
    expect(part.stats().moe!.devices.map((d) => d.id)).toEqual(["cpu:0", "cpu:1"]);
  });
  test("auto predicts expert parallelism for it and scores as one device", () => {
    const single = keep(new Model(built));
    const auto = keep(new Model(built, { devices: "cpu:2", parallel: "auto", maxBatch: 512 }));
    for (const b of auto.inspect().parallel!.auto!.buckets) expect(b.predictions.map((p) => p.strategy)).toContain("experts");
    for (const [rows, seed] of [[3, 3], [400, 4]] as const) expect(worstDifference(auto, single, zooRequest("moe", built, rows, seed))).toBeLessThan(1e-5);
  });
  test("bad expert parts are 400s naming the field", () => {
    expectBadOption(built, { devices: "cpu:2", parallel: { experts: { overflow: "queue" } as never } }, 'parallel.experts.overflow: must be "drop" or "spill"');
    expectBadOption(built, { devices: "cpu:2", parallel: { experts: { capacity: 2 } as never } }, "parallel.experts.capacity: unknown field");
    expectBadOption(built, { devices: "cpu:2", parallel: { experts: true }, experts: { devices: "cpu:2" } }, "expert parallelism is asked for twice");
    expectBadOption(built, { devices: "cpu:2", parallel: { experts: true, dense: "tensor" } }, "parallel.dense: cannot be combined with parallel.experts");
  });
});
