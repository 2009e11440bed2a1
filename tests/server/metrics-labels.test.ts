// /metrics under hostile traffic: requests to unknown model names never add
// label values (they share model=""), a deleted model's series go away, and
// the exposition passes Prometheus' own linter, `promtool check metrics`.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackServer, startServer } from "./loopback";
import { hasPromtool, promtool } from "./promtool";
import { writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-metrics-"));
const built = zoo.dcnv2.build({ scale: 0.001, seed: 4 });
writeModel(join(dir, "m.safetensors"), built);
let served: LoopbackServer;

beforeAll(async () => {
  served = await startServer({ models: { m: "m.safetensors", gone: "m.safetensors" }, modelRoot: dir });
});
afterAll(async () => {
  await served.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rankJson = (model: string) => fetch(`${served.url}/v1/models/${model}/rank`, { method: "POST", body: JSON.stringify({ candidates: {} }), headers: { "Content-Type": "application/json" } });

/** The model label values on every sample line. */
const modelLabels = (text: string) => new Set([...text.matchAll(/model="([^"]*)"/g)].map((m) => m[1]));

test("unknown model names share one label value; a deleted model's series disappear; promtool finds nothing to warn about", async () => {
  const client = new RankingClient({ url: served.url });
  const [req] = sampleRequests(built, { count: 1, candidates: 3 });
  await client.rank("m", req!);
  await client.rank("gone", req!);
  // 50 distinct unknown names, as a scanner or a typo-prone client would send.
  for (let i = 0; i < 50; i++) expect((await rankJson(`DLRM${i}`)).status).toBe(404);
  expect((await rankJson("m")).status).toBe(400);
  let text = await (await fetch(`${served.url}/metrics`)).text();
  expect(modelLabels(text)).toEqual(new Set(["m", "gone", ""]));
  expect(text).toContain('rankfn_requests_total{model="",status="404"} 50');
  expect(text).toContain('rankfn_requests_total{model="m",status="400"} 1');
  expect(text).toContain('rankfn_requests_total{model="gone",status="200"} 1');

  expect((await fetch(`${served.url}/v1/models/gone`, { method: "DELETE" })).status).toBe(204);
  // After the delete, its name is unknown like any other.
  expect((await rankJson("gone")).status).toBe(404);
  text = await (await fetch(`${served.url}/metrics`)).text();
  expect(modelLabels(text)).toEqual(new Set(["m", ""]));
  expect(text).toContain('rankfn_requests_total{model="",status="404"} 51');

  if (!hasPromtool) return;
  const lint = await promtool(text);
  expect(lint).toEqual({ code: 0, output: "" });
});

test.skipIf(!hasPromtool)("promtool's check is real: it flags a malformed exposition", async () => {
  const lint = await promtool("# TYPE rankfn_x counter\nrankfn_x{model=\"a\" 1\n");
  expect(lint.code).not.toBe(0);
});
