// Sharded embedding tables (issue 20) through the real kernels on CPU core
// groups: every zoo model with pooled lookups, with its tables sharded
// table-wise, row-wise, column-wise or replicated over 3 core groups (uneven
// shards), scores as the single-device model within 1e-5 (relative to the
// largest score); so do odd row counts and an odd dim split 3 ways, the sum /
// mean / gather pooling modes, f16 / u8q / u4q tables, per-table strategies, and
// a worker. A device made to fail fails only that batch; inspect() shows each
// shard's place; bad options are 400s naming the field before any device opens.
import { afterAll, describe, expect, test } from "bun:test";
import { type Device, DeviceError, openDevices } from "../../runtime/devices";
import { compile } from "../../runtime/compiler/compile";
import { Executor } from "../../runtime/engine/executor";
import { Model, type ModelOptions } from "../../runtime/engine/model";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import { RankfnError } from "../../runtime/errors";
import { placeTables } from "../../runtime/parallel/embedding-placement";
import { pooledTables } from "../../runtime/parallel/embedding-sharding";
import { type EmbeddingStrategy, embeddingStrategies } from "../../runtime/parallel/parallel-options";
import { tensor } from "../../runtime/tensor/tensor";
import { type ZooName, zoo, zooNames } from "../../sdk/zoo";
import { poolingModel, poolingRequest, worstDifference, zooRequest } from "./sharding-fixtures";

const opened: { dispose(): void }[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));
const keep = <T extends { dispose(): void }>(m: T): T => (opened.push(m), m);

/** Zoo models whose compiled graph pools embeddings (the ones sharding applies to). */
const pooled = zooNames.filter((name) => pooledTables(compile(zoo[name].build()).model).length > 0);

test("the zoo models with pooled lookups are the ones expected", () => {
  expect(pooled).toEqual(expect.arrayContaining(["dlrm", "dcnv2", "deepfm", "widedeep", "mmoe", "ple", "moe", "rankmixer", "din"]));
});

describe.each(pooled as ZooName[])("zoo %s", (name) => {
  const built = zoo[name].build();
  const single = keep(new Model(built));
  test.each(embeddingStrategies.map((s) => [s]))("sharded %s over cpu:3x1 scores as one device (1e-5)", (strategy) => {
    const sharded = keep(new Model(built, { devices: "cpu:3x1", parallel: { embeddings: strategy } }));
    for (const [rows, seed] of [[9, 1], [1, 2], [17, 3]] as const) expect(worstDifference(sharded, single, zooRequest(name, built, rows, seed))).toBeLessThan(1e-5);
    const stats = sharded.stats().parallel!.embeddings!;
    expect(stats.batches).toBeGreaterThanOrEqual(3);
    expect(stats.failedBatches).toBe(0);
    // Every device holding a shard looked up ids (table-wise: only the devices given tables).
    const report = sharded.inspect().parallel!.embeddings!;
    const holders = new Set(report.tables.flatMap((t) => t.shards.map((s) => s.device)));
    stats.devices.forEach((d, i) => expect(stats.deviceIds[i]! > 0).toBe(holders.has(d.id)));
  });
});

describe("dlrm with odd table sizes, split over 2 and 3 core groups", () => {
  const options = { multiHot: [3, 1, 5, 2], tableRows: [11, 1, 2, 7], embeddingDim: 16, bottomMlp: [32, 16], crossRank: 8, topMlp: [32, 1], contextFeatures: 1 };
  const built = zoo.dlrm.build(options);
  const single = keep(new Model(built));
  test.each(["cpu:2x1", "cpu:3x1"].flatMap((spec) => embeddingStrategies.map((s) => [spec, s] as const)))("%s, %s", (spec, strategy) => {
    const sharded = keep(new Model(built, { devices: spec, parallel: { embeddings: strategy } }));
    for (const seed of [4, 5]) expect(worstDifference(sharded, single, zooRequest("dlrm", built, 13, seed, options))).toBeLessThan(1e-5);
    const report = sharded.inspect().parallel!.embeddings!;
    if (strategy === "row") {
      // The 1-row table has one shard, the 2-row one at most two; shards cover the rows in order.
      expect(report.tables.find((t) => t.rows === 1)!.shards.length).toBe(1);
      for (const t of report.tables) expect(t.shards.map((s) => s.rows)).toEqual(t.shards.map((s, i) => [i === 0 ? 0 : t.shards[i - 1]!.rows[1], s.rows[1]]));
      for (const t of report.tables) expect(t.shards.at(-1)!.rows[1]).toBe(t.rows);
    }
  });
});

describe("sum, mean and gather pooling with an odd dim, padding and an empty bag", () => {
  const built = poolingModel(7);
  test.each([
    ...embeddingStrategies.map((s) => [s, "f32"] as const),
    ...(["row", "column", "table"] as const).flatMap((s) => (["f16", "u8q", "u4q"] as const).map((p) => [s, p] as const)),
  ])("%s sharding, %s tables, on cpu:3x1", (strategy, tables) => {
    const single = keep(new Model(built, { tables }));
    const sharded = keep(new Model(built, { tables, devices: "cpu:3x1", parallel: { embeddings: strategy } }));
    for (const [rows, seed] of [[6, 1], [1, 2], [33, 3]] as const) expect(worstDifference(sharded, single, poolingRequest(rows, seed))).toBeLessThan(1e-5);
    const report = sharded.inspect().parallel!.embeddings!;
    expect(report.tables.every((t) => t.dtype === (tables === "f32" ? "f32" : tables))).toBe(true);
    if (strategy === "column") for (const t of report.tables) expect(t.shards.map((s) => s.columns)).toEqual([[0, 2], [2, 4], [4, 7]]);
  });

  test.each(["u8q", "u4q"] as const)("%s column slices starting at an odd column (dim 7 over cpu:2x1) decode as the whole rows", (tables) => {
    const single = keep(new Model(built, { tables }));
    const sharded = keep(new Model(built, { tables, devices: "cpu:2x1", parallel: { embeddings: "column" } }));
    expect(sharded.inspect().parallel!.embeddings!.tables[0]!.shards.map((s) => s.columns)).toEqual([[0, 3], [3, 7]]);
    expect(worstDifference(sharded, single, poolingRequest(19, 8))).toBeLessThan(1e-5);
  });

  test("per-table strategies mix in one lookup call", () => {
    const single = keep(new Model(built));
    const embeddings = { default: "replicate" as const, tables: { "sum_emb.table": "row", "mean_emb.table": "column", "gather_emb.table": "table" } satisfies Record<string, EmbeddingStrategy> };
    const sharded = keep(new Model(built, { devices: "cpu:2x1", parallel: { embeddings } }));
    expect(worstDifference(sharded, single, poolingRequest(21, 7))).toBeLessThan(1e-5);
    expect(Object.fromEntries(sharded.inspect().parallel!.embeddings!.tables.map((t) => [t.table, t.strategy]))).toEqual({ "sum_emb.table": "row", "mean_emb.table": "column", "gather_emb.table": "table", "user_emb.table": "replicate" });
  });

  test("an id outside its table is the request's 400, before any device runs", () => {
    const sharded = keep(new Model(built, { devices: "cpu:2x1", parallel: { embeddings: "row" } }));
    const req = poolingRequest(3, 9);
    req.candidates.s = tensor("i64", [3, 4], BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 13n, -1n, -1n, 0n, 0n, 0n, 0n));
    let err: unknown;
    try {
      sharded.rankSync(req);
    } catch (e) {
      err = e;
    }
    expect((err as RankfnError).status).toBe(400);
    expect((err as Error).message).toMatch(/\bs\b.*id 13/);
    expect(sharded.stats().parallel!.embeddings!.batches).toBe(0);
  });

  test("an id past every row range (not validated: the executor run directly) is a 400 naming its input, and the next batch runs", () => {
    const compiled = compile(built).model;
    const exec = keep(new Executor(compiled, { devices: "cpu:2x1", parallel: { embeddings: "row" } }));
    const reference = keep(new Executor(compiled));
    const validator = new RequestValidator(compiled.graph);
    const stage = () => new Stager(compiled.graph).stage([validator.validate(poolingRequest(4, 10))]).batch;
    const bad = stage();
    (bad.inputs.m as BigInt64Array)[6] = 9n; // table "mean_emb.table" has 9 rows
    expect(() => exec.run(bad)).toThrow('input "m": id 9 is outside table "mean_emb.table" (9 rows)');
    const want = Array.from(reference.run(stage()).ctr!.data.subarray(0, 4));
    const got = Array.from(exec.run(stage()).ctr!.data.subarray(0, 4));
    got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(1e-6));
  });
});

test("a device made to fail fails only that batch; the next one scores as before", () => {
  const built = poolingModel(8);
  const single = keep(new Model(built));
  for (const strategy of embeddingStrategies) {
    const devices: Device[] = openDevices("cpu:2x1");
    const sharded = new Model(built, { devices, parallel: { embeddings: strategy } });
    const req = poolingRequest(10, 11);
    devices[1]!.failNextBatch();
    let err: unknown;
    try {
      sharded.rankSync(req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).message).toMatch(/^sharded embeddings ".*": device cpu:1 failed the batch: command 0 \(fail\): injected fault/);
    expect((err as DeviceError).status).toBe(503);
    expect(worstDifference(sharded, single, req)).toBeLessThan(1e-5);
    expect(sharded.stats().parallel!.embeddings!.failedBatches).toBe(1);
    sharded.dispose(); // devices passed in stay open: the caller owns them
    expect(devices[1]!.stats().commands).toBeGreaterThan(0);
    devices.forEach((d) => d.dispose());
  }
});

test("on a worker (devices opened there from the spec) it scores as one device", async () => {
  const built = poolingModel(6);
  const single = keep(new Model(built));
  const worker = keep(new Model(built, { worker: true, devices: "cpu:2x1", parallel: { embeddings: "column" } }));
  await worker.ready();
  const req = poolingRequest(12, 13);
  const got = (await worker.rank(req)).outputs.ctr!.data;
  const want = single.rankSync(req).outputs.ctr!.data;
  expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!)))).toBeLessThan(1e-5);
  expect(worker.inspect().parallel!.embeddings!.tables.every((t) => t.shards.length === 2)).toBe(true);
});

test("inspect() shows table-wise shards balanced by bytes", () => {
  const built = zoo.dlrm.build();
  const sharded = keep(new Model(built, { devices: "cpu:2x1", parallel: { embeddings: "table" } }));
  const report = sharded.inspect().parallel!.embeddings!;
  expect(report.devices).toEqual(["cpu:0", "cpu:1"]);
  expect(report.tables.length).toBe(26);
  expect(report.tables.every((t) => t.shards.length === 1 && t.strategy === "table")).toBe(true);
  const bytes = Object.values(report.deviceBytes);
  const largest = Math.max(...report.tables.map((t) => t.shards[0]!.bytes));
  // Greedy by bytes: the devices differ by at most the largest table.
  expect(Math.abs(bytes[0]! - bytes[1]!)).toBeLessThanOrEqual(largest);
  expect(bytes[0]! + bytes[1]!).toBe(report.tables.reduce((a, t) => a + t.rows * t.dim * 4, 0));
});

test("placement: row ranges and column slices cover their table; faster devices get more whole tables", () => {
  const t = (name: string, rows: number, dim: number, strategy: EmbeddingStrategy) => ({ name, dtype: "f32" as const, rows, dim, rowBytes: dim * 4, strategy });
  const bytes = (x: { rowBytes: number }, c: { start: number; end: number }, rows: number) => rows * (c.end - c.start) * 4;
  const p = placeTables([t("a", 5, 3, "row"), t("b", 2, 8, "column"), t("c", 1, 4, "row")], [1, 1, 1], bytes);
  expect(p.shards[0]!.map((s) => [s.device, s.rows.start, s.rows.end])).toEqual([[0, 0, 1], [1, 1, 3], [2, 3, 5]]);
  expect(p.shards[1]!.map((s) => [s.columns.start, s.columns.end])).toEqual([[0, 2], [2, 5], [5, 8]]);
  expect(p.shards[2]!.map((s) => s.device)).toEqual([2]); // one row: one shard, on the device the split gives it
  const tables = Array.from({ length: 6 }, (_, i) => t(`w${i}`, 100, 4, "table"));
  const byDevice = placeTables(tables, [1, 2], bytes).shards.map((s) => s[0]!.device);
  expect(byDevice.filter((d) => d === 1).length).toBe(4);
});

describe("bad options are 400s naming the field, before any device opens", () => {
  const built = poolingModel(4);
  const cases: [ModelOptions, string][] = [
    [{ parallel: "auto" }, 'parallel: "auto" needs devices'],
    [{ devices: "cpu:2", parallel: { embeddings: "diagonal" as never } }, 'parallel.embeddings: unknown strategy "diagonal"'],
    [{ devices: "cpu:2", parallel: { shuffle: "rows" } as never }, "parallel.shuffle: not supported"],
    [{ parallel: { embeddings: "row" } }, "parallel: needs devices"],
    [{ devices: [], parallel: { embeddings: "row" } }, "devices: give a spec"],
    [{ devices: "cpu:2", parallel: { embeddings: { tables: { "nope.table": "row" } } } }, 'parallel.embeddings.tables: "nope.table" is not a pooled embedding table'],
    [{ devices: "cpu:2", parallel: { embeddings: { default: "rows" as never } } }, "parallel.embeddings.default: unknown strategy"],
    [{ devices: "cpu:2", parallel: [] as never }, "parallel: must be an object"],
  ];
  test.each(cases.map(([o, m]) => [m, o] as const))("%s", (message, options) => {
    let err: unknown;
    try {
      keep(new Model(built, options));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as Error).message).toContain(message);
  });

  test("worker mode needs a spec, not opened devices", () => {
    const devices = openDevices("cpu:1x1");
    expect(() => new Model(built, { worker: true, devices, parallel: { embeddings: "row" } })).toThrow('pass devices as a spec ("cpu:2")');
    devices.forEach((d) => d.dispose());
  });
});
