// The model registry, serverless style: lazy load on first use (cold start
// reported once), idle unload, versions, and refusal of paths outside the root.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelRegistry } from "../../runtime/serving/registry";
import { writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";
import { startServer } from "./loopback";

const root = mkdtempSync(join(tmpdir(), "rankfn-registry-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const built = zoo.mmoe.build({ scale: 0.001, seed: 5 });
writeModel(join(root, "mmoe.safetensors"), built);
writeFileSync(join(root, "broken.safetensors"), "not a model");

test("a lazily registered model loads on its first request, which reports the cold start once", async () => {
  const served = await startServer({ models: { mmoe: "mmoe.safetensors" }, lazy: true, modelRoot: root });
  expect(served.rankfn.registry.list()).toEqual([{ name: "mmoe", version: null, loaded: false, path: "mmoe.safetensors" }]);
  try {
    // Ready from the start: a lazy model loads on its first request, so a readiness gate must let that request through.
    const before = await fetch(`${served.url}/readyz`);
    expect(before.status).toBe(200);
    expect(((await before.json()) as { models: { name: string; state: string }[] }).models).toEqual([{ name: "mmoe", state: "not_loaded" }]);
    const client = new RankingClient({ url: served.url, deadlineMs: 10_000 });
    const [req] = sampleRequests(built, { count: 1, candidates: 5 });
    const first = await client.rank("mmoe", req!);
    expect(first.timing.cold_start_ms).toBeGreaterThan(0);
    expect(Object.keys(first.outputs).sort()).toEqual(["ctr", "cvr"]);
    const second = await client.rank("mmoe", req!);
    expect(second.timing.cold_start_ms).toBeUndefined();
    expect((await fetch(`${served.url}/readyz`)).status).toBe(200);
  } finally {
    await served.stop();
  }
});

test("an idle model is unloaded and comes back on the next request as a new version", async () => {
  const registry = new ModelRegistry({ modelRoot: root, idleUnloadMs: 60 });
  const v1 = await registry.load("mmoe", "mmoe.safetensors");
  registry.release(await registry.acquire("mmoe"));
  for (let i = 0; i < 100 && registry.current("mmoe"); i++) await Bun.sleep(20);
  expect(registry.current("mmoe")).toBeUndefined();
  // Its native memory is gone: the unloaded version refuses to run.
  const [req] = sampleRequests(built, { count: 1, candidates: 2 });
  expect(() => v1.model.rankSync(req!)).toThrow("model used after dispose()");
  const v2 = await registry.acquire("mmoe");
  expect(v2.version).toBe(v1.version + 1);
  registry.release(v2);
  await registry.close();
});

test("loading refuses bad files and paths without disturbing the current version", async () => {
  const registry = new ModelRegistry({ modelRoot: root });
  const v1 = await registry.load("m", "mmoe.safetensors");
  await expect(registry.load("m", "broken.safetensors")).rejects.toThrow("broken.safetensors");
  await expect(registry.load("m", "../outside.safetensors")).rejects.toThrow("is outside the model root");
  expect(registry.current("m")).toBe(v1);
  expect(() => registry.register("bad/name", "mmoe.safetensors")).toThrow("must be 1-64 letters");
  await registry.close();
});

test("a version is warmed before it serves: every batch bucket up to warmRows is planned at full size and run once on one row, and stats start at zero", async () => {
  const registry = new ModelRegistry({ modelRoot: root, warmRows: 100 });
  const v = await registry.load("mmoe", "mmoe.safetensors");
  // Buckets 16, 32, 64 and 128 (the last holding up to 100 rows) exist before the first request,
  // each for a few requests (8 context rows), a few dozen (64) and one per row.
  expect(v.model.inspect().memoryPlan.map((p) => `${p.capacity}/${p.contextCapacity}`)).toEqual(["16/8", "16/16", "32/8", "32/32", "64/8", "64/64", "128/8", "128/64", "128/128"]);
  expect(v.model.stats()).toMatchObject({ requests: 0, rows: 0, batches: 0 });
  // Warm-up ran zero rows: real requests still score exactly like a fresh model.
  const [req] = sampleRequests(built, { count: 1, candidates: 5, seed: 9 });
  const fresh = (await import("../../sdk")).loadModel(built);
  const got = (await v.model.rank(req!)).outputs;
  const want = fresh.rankSync(req!).outputs;
  for (const name of Object.keys(want)) expect(Array.from(got[name]!.data)).toEqual(Array.from(want[name]!.data));
  fresh.dispose();
  await registry.close();
});
