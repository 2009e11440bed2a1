// A MoE model served expert-parallel on two CPU core groups (on its worker):
// /metrics carries per-expert load, per-device busy time, imbalance and
// dispatched bytes that agree with the requests scored.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackServer, startServer } from "./loopback";
import { hasPromtool, promtool } from "./promtool";
import { writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";

const root = mkdtempSync(join(tmpdir(), "rankfn-moe-"));
const options = { dModel: 16, experts: 4, topK: 2, expertHidden: 24, topMlp: [8, 1] };
const built = zoo.moe.build(options);
writeModel(join(root, "moe.safetensors"), built);
let served: LoopbackServer;

beforeAll(async () => {
  served = await startServer({ models: { moe: "moe.safetensors" }, modelRoot: root, modelOptions: { worker: true, experts: { devices: "cpu:2" } } });
});
afterAll(async () => {
  await served.stop();
  rmSync(root, { recursive: true, force: true });
});

test("/metrics reports expert load, device busy time, imbalance and dispatched bytes", async () => {
  const client = new RankingClient({ url: served.url });
  const requests = sampleRequests(built, { count: 3, candidates: 20, seed: 2 });
  for (const r of requests) await client.rank("moe", r);
  const text = await (await fetch(`${served.url}/metrics`)).text();
  const value = (re: RegExp) => [...text.matchAll(re)].map((m) => Number(m[1]));
  const expertRows = value(/^rankfn_moe_expert_rows_total\{model="moe",layer="moe",expert="\d"\} (\S+)$/gm);
  expect(expertRows).toHaveLength(4);
  expect(expertRows.reduce((a, b) => a + b, 0)).toBe(3 * 20 * 2);
  expect(value(/^rankfn_moe_device_busy_seconds_total\{model="moe",device="cpu:\d"\} (\S+)$/gm)).toHaveLength(2);
  expect(value(/^rankfn_moe_dispatched_bytes_total\{model="moe",layer="moe"\} (\S+)$/gm)).toEqual([3 * 20 * 2 * (16 + 16) * 4]);
  const [ratio] = value(/^rankfn_moe_imbalance_ratio\{model="moe",layer="moe"\} (\S+)$/gm);
  expect(ratio).toBeGreaterThanOrEqual(1);
  expect(ratio).toBeLessThanOrEqual(2);
  expect(value(/^rankfn_moe_failed_batches_total\{model="moe",layer="moe"\} (\S+)$/gm)).toEqual([0]);
  expect(text).toContain("# TYPE rankfn_moe_expert_rows_total counter");
  if (hasPromtool) expect(await promtool(text)).toEqual({ code: 0, output: "" });
});
