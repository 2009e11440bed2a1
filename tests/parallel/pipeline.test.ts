// Pipeline parallelism (issue 20) through the real kernels on CPU core groups:
// every zoo model cut into 2 stages (cpu:2) and 3 stages (cpu:3x1), with
// batches that do not divide into the microbatches, scores as the
// single-device model within 1e-5 (relative to the largest score; a history
// stored jagged kept in one stage); int8 weights
// as the single-device int8 model; a worker-mode model as well. The schedule is
// visible (inspect().parallel.pipeline, the profile, a Chrome trace with one
// event per stage and microbatch — its structure only, never its times); a
// stage made to fail fails only that batch; bad options are 400s naming the field.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../runtime/compiler/compile";
import { DeviceError } from "../../runtime/devices";
import { Executor } from "../../runtime/engine/executor";
import { Model } from "../../runtime/engine/model";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import { RankfnError } from "../../runtime/errors";
import { inferGraph } from "../../runtime/graph/infer";
import { jaggedValues } from "../../runtime/engine/jagged-tokens";
import { cutStages } from "../../runtime/parallel/pipeline-stages";
import { balancedCut, balancedStages } from "../../runtime/parallel/planner";
import { type ZooName, zoo, zooNames } from "../../sdk/zoo";
import { poolingModel, poolingRequest, worstDifference, zooRequest } from "./sharding-fixtures";

// Deterministic stage cuts: fixed speeds instead of the probes.
process.env.RANKFN_PLANNER_SPEEDS = "20,10";

const opened: { dispose(): void }[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));
const keep = <T extends { dispose(): void }>(m: T): T => (opened.push(m), m);

describe("the cut", () => {
  test("balancedCut: contiguous ranges minimising the largest sum; balancedStages their sums", () => {
    expect(balancedCut([1, 1, 1, 1, 4], 2)).toEqual([[0, 4], [4, 5]]);
    expect(balancedCut([3, 1, 1, 1, 2, 1], 3)).toEqual([[0, 1], [1, 4], [4, 6]]);
    expect(balancedCut([5], 3)).toEqual([[0, 1]]);
    expect(balancedStages([3, 1, 1, 1, 2, 1], 3)).toEqual([3, 3, 3]);
  });

  test("cutStages: every node once, in order; a stage's live-ins are written before it and read by it or later", () => {
    const model = compile(zoo.dlrm.build()).model;
    const info = inferGraph(model.graph);
    const speeds = { groups: 3, coresPerGroup: 1, gflops: () => 20, bandwidth: () => 10 };
    const cut = cutStages(model, info, 3, 64, 1, speeds);
    expect(cut.stages.length).toBe(3);
    expect(cut.stages.map((s) => [s.first, s.end])).toEqual([[0, cut.stages[0]!.end], [cut.stages[0]!.end, cut.stages[1]!.end], [cut.stages[1]!.end, model.graph.nodes.length]]);
    expect(cut.stages[0]!.liveIns).toEqual([]);
    const writer = new Map(model.graph.nodes.flatMap((n, i) => n.outputs.map((o) => [o, i] as const)));
    cut.stages.forEach((s, k) => {
      expect(s.nodes.length).toBeGreaterThan(0);
      for (const v of s.liveIns) expect(writer.has(v) ? writer.get(v)! < s.first : true).toBe(true);
      if (k > 0) expect(s.liveIns.length).toBeGreaterThan(0);
      for (const input of s.inputs) expect(model.graph.inputs.some((i) => i.name === input)).toBe(true);
    });
    // The score is written in the last stage or carried into it.
    const ctr = model.graph.outputs.ctr!;
    const last = cut.stages.at(-1)!;
    expect(last.liveIns.includes(ctr) || writer.get(ctr)! >= last.first).toBe(true);
  });
});

describe.each(zooNames as ZooName[])("zoo %s", (name) => {
  const built = zoo[name].build();
  const single = keep(new Model(built));
  test.each([["cpu:2", 2], ["cpu:3x1", 3]] as const)("cut over %s: scores as one device (1e-5), uneven microbatches", (devices, stages) => {
    const pipelined = keep(new Model(built, { devices, parallel: { pipeline: { microbatch: 7 } } }));
    // 23 rows: microbatches of 7, 7, 7 and 2; 5 rows: one short microbatch.
    for (const [rows, seed] of [[23, 1], [5, 2]] as const) expect(worstDifference(pipelined, single, zooRequest(name, built, rows, seed))).toBeLessThan(1e-5);
    const report = pipelined.inspect().parallel!.pipeline!;
    const compiled = new Executor(compile(built).model);
    // A history stored jagged stays in one stage (its token offsets are a plan's own state): fewer stages may result.
    const jagged = jaggedValues(compiled.model.graph, compiled.info, 1, () => false).values.size > 0;
    if (jagged) expect(report.stages.length).toBeGreaterThanOrEqual(2);
    else expect(report.stages.length).toBe(stages);
    expect(report.stages.map((s) => s.device)).toEqual(Array.from({ length: report.stages.length }, (_, i) => `cpu:${i}`));
    // Every node in exactly one stage, in plan order.
    expect(report.stages.flatMap((s) => s.nodes)).toEqual(compiled.model.graph.nodes.map((n) => n.name));
    compiled.dispose();
    expect(report.batches).toBe(2);
    expect(report.stages.every((s) => s.microbatches === 5 && s.measuredMs > 0 && s.predictedMs > 0)).toBe(true);
  });
});

test.each(["bst", "dlrm", "hstu"] as const)("%s: a batch of several requests (microbatches cutting through requests, histories of different lengths) scores as one device", (name) => {
  const built = zoo[name].build();
  const compiled = compile(built).model;
  const reference = keep(new Executor(compiled));
  const pipelined = keep(new Executor(compiled, { devices: "cpu:2", parallel: { pipeline: { microbatch: 4 } } }));
  const validator = new RequestValidator(compiled.graph);
  const stage = () => new Stager(compiled.graph).stage([[5, 1], [3, 2], [9, 3]].map(([rows, seed]) => validator.validate(zooRequest(name, built, rows!, seed!)))).batch;
  const want = reference.run(stage(), { outputs: "owned" });
  const got = pipelined.run(stage(), { outputs: "owned" });
  for (const [out, w] of Object.entries(want)) {
    expect(got[out]!.rows).toBe(w.rows);
    const scale = Math.max(...Array.from(w.data, Math.abs));
    expect(scale).toBeGreaterThan(0);
    w.data.forEach((v, i) => expect(Math.abs(got[out]!.data[i]! - v) / scale).toBeLessThan(1e-5));
  }
});

describe("dlrm", () => {
  const built = zoo.dlrm.build();

  test("the default microbatches (a batch not divisible by them) score as one device", () => {
    const single = keep(new Model(built));
    const pipelined = keep(new Model(built, { devices: "cpu:2", parallel: { pipeline: true } }));
    expect(worstDifference(pipelined, single, zooRequest("dlrm", built, 61, 3))).toBeLessThan(1e-5);
    // 61 rows over 2 stages: microbatches of 16 rows, the last of 13.
    expect(pipelined.inspect().parallel!.pipeline!.timeline.filter((e) => e.stage === 0).map((e) => e.rows)).toEqual([16, 16, 16, 13]);
  });

  test("warm() runs through the stages (planning their microbatch buckets); batches then score as one device", async () => {
    const single = keep(new Model(built));
    const pipelined = keep(new Model(built, { devices: "cpu:2", parallel: { pipeline: true }, maxBatch: 256 }));
    expect(await pipelined.warm()).toEqual([16, 32, 64, 128, 256]);
    expect(worstDifference(pipelined, single, zooRequest("dlrm", built, 200, 8))).toBeLessThan(1e-5);
  });

  test("int8 weights score as the single-device int8 model", () => {
    const single = keep(new Model(built, { precision: "int8" }));
    const pipelined = keep(new Model(built, { precision: "int8", devices: "cpu:3x1", parallel: { pipeline: { microbatch: 32 } } }));
    expect(worstDifference(pipelined, single, zooRequest("dlrm", built, 96, 4))).toBeLessThan(1e-5);
    expect(worstDifference(pipelined, single, zooRequest("dlrm", built, 32, 5))).toBeLessThan(1e-5);
  });

  test("stages: 2 over 3 devices uses the first two", () => {
    const single = keep(new Model(built));
    const pipelined = keep(new Model(built, { devices: "cpu:3x1", parallel: { pipeline: { stages: 2, microbatch: 9 } } }));
    expect(worstDifference(pipelined, single, zooRequest("dlrm", built, 20, 6))).toBeLessThan(1e-5);
    expect(pipelined.inspect().parallel!.pipeline!.stages.map((s) => s.device)).toEqual(["cpu:0", "cpu:1"]);
  });

  test("on a worker (the stages' workers started there) it scores as one device", async () => {
    const single = keep(new Model(built));
    const worker = keep(new Model(built, { worker: true, devices: "cpu:2", parallel: { pipeline: { microbatch: 5 } } }));
    await worker.ready();
    const req = zooRequest("dlrm", built, 17, 7);
    const got = (await worker.rank(req)).outputs;
    const want = single.rankSync(req).outputs;
    for (const [out, w] of Object.entries(want)) got[out]!.data.forEach((g, i) => expect(Math.abs(g - w.data[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(w.data[i]!))));
    expect(worker.inspect().parallel!.pipeline!.stages.length).toBe(2);
  });
});

describe("the schedule is visible", () => {
  const built = poolingModel(6);

  test("RANKFN_TRACE writes a Chrome trace: one complete event per stage and microbatch, a process per device", () => {
    const path = join(mkdtempSync(join(tmpdir(), "rankfn-pp-")), "trace.json");
    process.env.RANKFN_TRACE = path;
    const pipelined = new Model(built, { devices: "cpu:2", parallel: { pipeline: { microbatch: 4 } } });
    delete process.env.RANKFN_TRACE;
    pipelined.rankSync(poolingRequest(10, 1)); // microbatches 4, 4, 2
    pipelined.rankSync(poolingRequest(3, 2)); // one
    pipelined.dispose();
    const trace = JSON.parse(readFileSync(path, "utf8")) as { traceEvents: { ph: string; pid: number; tid: number; ts?: number; dur?: number; name: string; args: Record<string, unknown> }[] };
    const runs = trace.traceEvents.filter((e) => e.ph === "X");
    const keys = runs.map((e) => `${e.args.batch}/${e.args.microbatch}/${e.pid}`).sort();
    expect(keys).toEqual(["0/0/1", "0/0/2", "0/1/1", "0/1/2", "0/2/1", "0/2/2", "1/0/1", "1/0/2"]);
    for (const e of runs) {
      expect(e.tid).toBe(e.pid);
      expect(Number.isFinite(e.ts) && e.ts! >= 0).toBe(true);
      expect(Number.isFinite(e.dur) && e.dur! >= 0).toBe(true);
      expect(e.args.device).toBe(`cpu:${e.pid - 1}`);
    }
    const names = trace.traceEvents.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => e.args.name);
    expect(names).toEqual(["cpu:0 (stage 0)", "cpu:1 (stage 1)"]);
  });

  test("inspect() shows the stages before any batch, and measured times and the timeline after", () => {
    const pipelined = keep(new Model(built, { devices: "cpu:2", parallel: { pipeline: { microbatch: 3 } } }));
    const before = pipelined.inspect().parallel!.pipeline!;
    expect(before.stages.map((s) => s.measuredMs)).toEqual([0, 0]);
    expect(before.stages.every((s) => s.nodes.length > 0 && s.predictedMs > 0)).toBe(true);
    expect(before.predictedRows).toBe(3);
    pipelined.rankSync(poolingRequest(7, 3));
    const after = pipelined.inspect().parallel!.pipeline!;
    expect(after.timeline.map((e) => [e.stage, e.microbatch, e.rows]).sort()).toEqual([[0, 0, 3], [0, 1, 3], [0, 2, 1], [1, 0, 3], [1, 1, 3], [1, 2, 1]]);
    expect(after.timeline.every((e) => e.device === `cpu:${e.stage}` && e.ms >= 0 && e.startMs >= 0)).toBe(true);
    // A stage runs microbatch i after the stage before it finished i (its inputs were copied from there).
    for (const e of after.timeline.filter((x) => x.stage === 1)) {
      const before0 = after.timeline.find((x) => x.stage === 0 && x.microbatch === e.microbatch)!;
      expect(e.startMs).toBeGreaterThanOrEqual(before0.startMs + before0.ms);
    }
  });

  test("the profile has a line per device, and a timeline per device", () => {
    const exec = keep(new Executor(compile(built).model, { devices: "cpu:2", parallel: { pipeline: { microbatch: 4 } } }));
    const compiled = exec.model.graph;
    const validator = new RequestValidator(compiled);
    exec.run(new Stager(compiled).stage([validator.validate(poolingRequest(9, 4))]).batch);
    const lines = exec.profile();
    expect(lines.map((l) => l.node).sort()).toEqual(["pipeline stage 0 on cpu:0 (3 microbatches)", "pipeline stage 1 on cpu:1 (3 microbatches)"]);
    expect(lines.reduce((a, l) => a + l.share, 0)).toBeCloseTo(1, 6);
    // The per-device timeline RANKFN_PROFILE=1 prints: a line per device drawing each of its microbatches.
    const timeline = exec.pipeline!.timelineLines();
    expect(timeline.map((l) => l.split(" ")[0])).toEqual(["cpu:0", "cpu:1"]);
    for (const line of timeline) expect(line.split("|")[1]).toMatch(/^[0-2·]{64}$/);
    expect(timeline.join("")).toContain("2");
  });
});

test("a stage made to fail fails only that batch; the next one scores as before", () => {
  const built = poolingModel(8);
  const compiled = compile(built).model;
  const reference = keep(new Executor(compiled));
  const validator = new RequestValidator(compiled.graph);
  const stage = (rows: number, seed: number) => new Stager(compiled.graph).stage([validator.validate(poolingRequest(rows, seed))]).batch;
  for (const failing of [0, 1, 2]) {
    const exec = keep(new Executor(compiled, { devices: "cpu:3x1", parallel: { pipeline: { microbatch: 4 } } }));
    exec.pipeline!.failNextBatch(failing);
    let err: unknown;
    try {
      exec.run(stage(10, 11));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).device).toBe(`cpu:${failing}`);
    expect((err as DeviceError).status).toBe(503);
    expect((err as Error).message).toContain(`pipeline stage ${failing} on cpu:${failing} failed microbatch 0: injected fault`);
    for (const [rows, seed] of [[10, 12], [5, 13]] as const) {
      const want = Array.from(reference.run(stage(rows, seed)).ctr!.data.subarray(0, rows));
      const got = Array.from(exec.run(stage(rows, seed)).ctr!.data.subarray(0, rows));
      got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(1e-6));
    }
    const report = exec.pipeline!.describe();
    expect([report.batches, report.failedBatches]).toEqual([2, 1]);
  }
});

test("an id outside its table (not validated: the executor run directly) is a 400 naming its input and microbatch, and the next batch runs", () => {
  const compiled = compile(poolingModel(6)).model;
  const reference = keep(new Executor(compiled));
  const exec = keep(new Executor(compiled, { devices: "cpu:2", parallel: { pipeline: { microbatch: 3 } } }));
  const validator = new RequestValidator(compiled.graph);
  const stage = () => new Stager(compiled.graph).stage([validator.validate(poolingRequest(8, 3))]).batch;
  const bad = stage();
  (bad.inputs.m as BigInt64Array)[16] = 9n; // row 3 (microbatch 1); table "mean_emb.table" has 9 rows
  let err: unknown;
  try {
    exec.run(bad);
  } catch (e) {
    err = e;
  }
  expect((err as RankfnError).status).toBe(400);
  expect((err as Error).message).toMatch(/^pipeline stage \d on cpu:\d failed microbatch 1: input "m": .*id 9/);
  const want = Array.from(reference.run(stage()).ctr!.data.subarray(0, 8));
  const got = Array.from(exec.run(stage()).ctr!.data.subarray(0, 8));
  got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(1e-6));
});

describe("the stage threads end", () => {
  // Bun names a worker's thread "Worker"; the count drops as stage threads end (others may end too).
  // A thread may end between listing and reading its name: it no longer counts.
  const nameOf = (t: string) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
    } catch {
      return "";
    }
  };
  const workerThreads = () => readdirSync("/proc/self/task").filter((t) => nameOf(t) === "Worker").length;
  const dropsBy = async (before: number, atLeast: number) => {
    for (let i = 0; i < 300 && before - workerThreads() < atLeast; i++) await Bun.sleep(100);
    expect(before - workerThreads()).toBeGreaterThanOrEqual(atLeast);
  };

  test("dispose() stops every stage: six pipelines disposed in a row, then one on a worker", async () => {
    const built = poolingModel(6);
    const models = Array.from({ length: 6 }, () => new Model(built, { devices: "cpu:2", parallel: { pipeline: { microbatch: 4 } } }));
    for (const m of models) m.rankSync(poolingRequest(10, 1));
    const onWorker = new Model(built, { worker: true, devices: "cpu:2", parallel: { pipeline: { microbatch: 4 } } });
    await onWorker.rank(poolingRequest(10, 1));
    const before = workerThreads();
    // 12 stage threads, the worker and its 2 stage threads.
    for (const m of models) m.dispose();
    onWorker.dispose();
    await dropsBy(before, 15);
    expect(() => models[0]!.rankSync(poolingRequest(2, 1))).toThrow("model used after dispose()");
  }, 60_000);

  test("a pipeline's owner thread terminated without dispose() takes its stage threads with it", async () => {
    const owner = new Worker(new URL("./fixtures/pipeline-owner.ts", import.meta.url));
    await new Promise((resolve) => (owner.onmessage = resolve));
    const before = workerThreads();
    owner.terminate();
    await dropsBy(before, 3);
  }, 60_000); // the owner worker loads the library and compiles the model first: seconds
});

describe("bad options are 400s naming the field", () => {
  const built = poolingModel(4);
  test.each([
    [{ pipeline: "yes" }, "cpu:2", "parallel.pipeline: true or { stages, microbatch }"],
    [{ pipeline: { stages: 1 } }, "cpu:2", "parallel.pipeline.stages: an integer >= 2, got 1"],
    [{ pipeline: { stages: 2.5 } }, "cpu:2", "parallel.pipeline.stages: an integer >= 2, got 2.5"],
    [{ pipeline: { microbatch: 0 } }, "cpu:2", "parallel.pipeline.microbatch: an integer >= 1 (rows), got 0"],
    [{ pipeline: { depth: 2 } }, "cpu:2", "parallel.pipeline.depth: unknown field (expected stages, microbatch)"],
    [{ pipeline: { stages: 3 } }, "cpu:2", "parallel.pipeline.stages: 3 stages need 3 devices, got 2"],
    [{ pipeline: true }, "cpu:1", "parallel.pipeline: needs at least 2 devices for 2 stages, got 1"],
    [{ pipeline: true }, "opencl", 'parallel.pipeline: stages run on CPU core groups ("cpu:N" or "cpu:NxT"), got devices "opencl"'],
    [{ pipeline: true, embeddings: "row" }, "cpu:2", "parallel.pipeline: cannot be combined with parallel.embeddings yet"],
  ] as const)("%j on %s", (parallel, devices, message) => {
    let err: unknown;
    try {
      new Model(built, { devices, parallel: parallel as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as Error).message).toContain(message);
  });

  test("pipeline without devices", () => {
    expect(() => new Model(built, { parallel: { pipeline: true } })).toThrow("parallel: needs devices to spread over");
  });
});
