// Start-up as Kubernetes probes see it: the server listens before its models
// load, /healthz answers 200 at once, /readyz answers 503 listing each model's
// state until all serve, rank requests meanwhile get 503 + Retry-After (not a
// hang), and a model that fails to load shows as failed with the reason.
// Operator paths (createApp's models) load from outside the model root; PUT
// stays confined to it.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../runtime/server/app";
import { writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-ready-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, "root");
mkdirSync(root);
const built = zoo.dcnv2.build({ seed: 6 });
// Outside the model root: only the operator may name it.
const outside = join(dir, "elsewhere.safetensors");
writeModel(outside, built);
writeFileSync(join(root, "broken.safetensors"), "not a model");

type Readiness = { ready: boolean; models: { name: string; state: string; error?: string }[] };

test("healthz is up from the first moment; readyz and rank say 503 with what is still loading, then 200", async () => {
  const rankfn = createApp({ models: { m: outside }, modelRoot: root, modelOptions: { worker: true }, coalescing: { maxBatchRows: 2048 } });
  const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: rankfn.app.fetch });
  const url = `http://127.0.0.1:${http.port}`;
  try {
    // Asked before the load has had a turn: nothing about the model is ready yet.
    const [health, ready, rank] = await Promise.all([
      fetch(`${url}/healthz`),
      fetch(`${url}/readyz`),
      fetch(`${url}/v1/models/m/rank`, { method: "POST", body: JSON.stringify({ candidates: {} }), headers: { "Content-Type": "application/json" } }),
    ]);
    expect(health.status).toBe(200);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as Readiness;
    expect(body.ready).toBe(false);
    expect(body.models).toHaveLength(1);
    expect(body.models[0]!.name).toBe("m");
    expect(["loading", "warming"]).toContain(body.models[0]!.state);
    expect(rank.status).toBe(503);
    expect(Number(rank.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const error = ((await rank.json()) as { error: { code: string; message: string } }).error;
    expect(["model_loading", "model_warming"]).toContain(error.code);
    expect(error.message).toContain('model "m" is');
    expect(error.message).toContain("not ready yet");

    // Liveness keeps answering throughout the warm-up.
    while (!(await fetch(`${url}/readyz`)).ok) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await Bun.sleep(5);
    }
    await rankfn.ready;
    const done = (await (await fetch(`${url}/readyz`)).json()) as Readiness;
    expect(done).toEqual({ ready: true, models: [{ name: "m", state: "ready" }] });
    const [req] = sampleRequests(built, { count: 1, candidates: 7 });
    expect((await new RankingClient({ url }).rank("m", req!)).outputs.ctr!.shape).toEqual([7, 1]);
    // The operator's path is listed as given (absolute: it is outside the root).
    expect(rankfn.registry.list()).toEqual([{ name: "m", version: 1, loaded: true, path: outside }]);

    // PUT may not load the same file: the model root confines it, and the error says which root and flag.
    const put = await fetch(`${url}/v1/models/m2`, { method: "PUT", body: JSON.stringify({ path: outside }), headers: { "Content-Type": "application/json" } });
    expect(put.status).toBe(403);
    expect(((await put.json()) as { error: { message: string } }).error.message).toBe(`path: ${outside} is outside the model root ${root} (--model-root); PUT may only load files under it`);
  } finally {
    http.stop(true);
    await rankfn.close();
  }
});

test("a model that fails to load shows as failed in /readyz with the reason, and `ready` rejects", async () => {
  const rankfn = createApp({ models: { bad: "broken.safetensors" }, modelRoot: root });
  try {
    await expect(rankfn.ready).rejects.toThrow("broken.safetensors");
    const res = await rankfn.app.fetch(new Request("http://rankfn/readyz"));
    expect(res.status).toBe(503);
    const body = (await res.json()) as Readiness;
    expect(body.models).toHaveLength(1);
    expect(body.models[0]).toMatchObject({ name: "bad", state: "failed" });
    expect(body.models[0]!.error).toContain("broken.safetensors");
  } finally {
    await rankfn.close();
  }
});
