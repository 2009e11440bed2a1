// The user-history KV cache served over real HTTP on loopback (issue 16, Deliver 3):
// `user` on the wire, the store on the model's worker surviving across batches,
// scores equal to the model without a cache, concurrent requests of one user
// computing their new events once, stats().kvCache in GET /v1/models/:name,
// /metrics rankfn_kv_* (promtool-valid), and a hot swap to other weights that
// never serves the old version's K/V. Tolerance 1e-5 on the ctr.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackServer, startServer } from "./loopback";
import { hasPromtool, promtool } from "./promtool";
import { Model, writeModel, zoo } from "../../sdk";
import type { RankingRequest } from "../../runtime/engine/request";
import type { KvCacheStats } from "../../runtime/engine/kv-cache";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { UserVisits } from "../kv/user-visits";

const TOL = 1e-5;
const options = { historyLength: 64, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 24, itemRows: 2_000_000, actions: 6, rab: "time" as const };
const rows = hstuOptions(options).itemTableRows;
const v1 = zoo.hstu.build(options);
const v2 = zoo.hstu.build({ ...options, seed: 9 });
const root = mkdtempSync(join(tmpdir(), "rankfn-kv-"));
writeModel(join(root, "hstu.safetensors"), v1);
writeModel(join(root, "hstu-v2.safetensors"), v2);
const plain1 = new Model(v1);
const plain2 = new Model(v2);
let served: LoopbackServer;

beforeAll(async () => {
  served = await startServer({
    models: { hstu: "hstu.safetensors" },
    modelRoot: root,
    modelOptions: { worker: true, kvCache: { mb: 8, required: false } },
    coalescing: { policy: "static", maxBatchRows: 512, maxQueueDelayUs: 3000 },
  });
});
afterAll(async () => {
  await served.stop();
  plain1.dispose();
  plain2.dispose();
  rmSync(root, { recursive: true, force: true });
});

/** The request as JSON: nested arrays of numbers (dtypes from the model's inputs). */
function body(req: RankingRequest): string {
  const arrays = (group: Record<string, { shape: number[]; data: ArrayLike<number | bigint> }>) =>
    Object.fromEntries(Object.entries(group).map(([k, t]) => [k, Array.from({ length: t.shape[0]! }, (_, r) => Array.from({ length: t.shape[1]! }, (_, j) => Number(t.data[r * t.shape[1]! + j]!)))]));
  return JSON.stringify({ ...(req.user !== undefined ? { user: req.user } : {}), context: arrays(req.context as never), candidates: arrays(req.candidates as never) });
}

async function rankHttp(req: RankingRequest): Promise<{ status: number; ctr: number[]; version: number; error?: { code: string; message: string } }> {
  const res = await fetch(`${served.url}/v1/models/hstu/rank`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: body(req) });
  const json = (await res.json()) as { outputs?: { ctr: { data: number[] } | number[][] }; version: number; error?: { code: string; message: string } };
  const ctr = json.outputs ? (Array.isArray(json.outputs.ctr) ? json.outputs.ctr.flat() : json.outputs.ctr.data) : [];
  return { status: res.status, ctr, version: json.version, error: json.error };
}

async function expectPlain(plain: Model, req: RankingRequest, got: number[]): Promise<void> {
  const { user: _, ...anonymous } = req;
  const want = (await plain.rank(anonymous)).outputs.ctr!.data;
  expect(got).toHaveLength(want.length);
  let worst = 0;
  want.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - got[i]!))));
  expect(worst).toBeLessThanOrEqual(TOL);
}

async function kvStats(): Promise<KvCacheStats> {
  const res = await fetch(`${served.url}/v1/models/hstu`);
  return ((await res.json()) as { stats: { kvCache: KvCacheStats } }).stats.kvCache;
}

const visits = new UserVisits(41, options.historyLength, rows, options.actions);

describe("serve with a KV cache", () => {
  test("returning users' visits score like the model without a cache, reusing their history across batches", async () => {
    const held = new Map<string, number>();
    let computed = 0;
    for (let i = 0; i < 12; i++) {
      const user = `u${visits.int(3)}`;
      const h = visits.grow(user);
      const req = visits.request(h, 6, user);
      const res = await rankHttp(req);
      expect(res.status).toBe(200);
      await expectPlain(plain1, req, res.ctr);
      computed += h.items.length - (held.get(user) ?? 0);
      held.set(user, h.items.length);
    }
    const s = await kvStats();
    expect(s.hits + s.misses).toBe(12);
    expect(s.misses).toBe(held.size);
    expect(s.tokensComputed).toBe(computed);
    expect(s.entries).toBe(held.size);
  });

  test("concurrent requests of one user compute the new events once (one batch or several)", async () => {
    const h = visits.grow("u0");
    const reqs = [0, 1, 2, 3].map(() => visits.request(h, 4, "u0"));
    const before = await kvStats();
    const results = await Promise.all(reqs.map(rankHttp));
    for (let i = 0; i < reqs.length; i++) {
      expect(results[i]!.status).toBe(200);
      await expectPlain(plain1, reqs[i]!, results[i]!.ctr);
    }
    const after = await kvStats();
    expect(after.tokensComputed - before.tokensComputed).toBeLessThanOrEqual(5); // 1–5 new events, once
    expect(after.tokensComputed - before.tokensComputed).toBeGreaterThanOrEqual(1);
    expect(after.hits - before.hits + (after.sharedInBatch - before.sharedInBatch)).toBeGreaterThanOrEqual(3);
  });

  test("/metrics carries rankfn_kv_* agreeing with stats(), and promtool accepts it", async () => {
    const s = await kvStats();
    const text = await (await fetch(`${served.url}/metrics`)).text();
    const value = (name: string, labels: string) => Number(text.match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m"))?.[1]);
    expect(value("rankfn_kv_hits_total", 'model="hstu",version="1",tier="native"')).toBe(s.hits);
    expect(value("rankfn_kv_misses_total", 'model="hstu",version="1"')).toBe(s.misses);
    expect(value("rankfn_kv_tokens_computed_total", 'model="hstu",version="1"')).toBe(s.tokensComputed);
    expect(value("rankfn_kv_entries", 'model="hstu",version="1",tier="native"')).toBe(s.entries);
    expect(text).toContain("# TYPE rankfn_kv_hits_total counter");
    if (hasPromtool) expect(await promtool(text)).toEqual({ code: 0, output: "" });
  });

  test("RankingClient (msgpack) carries the user: the next visit is a hit", async () => {
    const { RankingClient } = await import("../../sdk/client");
    const client = new RankingClient({ url: served.url });
    const before = await kvStats();
    const h = visits.grow("u2");
    const req = visits.request(h, 3, "u2");
    const res = await client.rank("hstu", req);
    await expectPlain(plain1, req, Array.from(res.outputs.ctr!.data));
    const after = await kvStats();
    expect(after.hits - before.hits).toBe(1);
  });

  test("bad users are 400 bad_user naming the field", async () => {
    const req = { ...visits.request(visits.grow("u1"), 2), user: { id: 1 } } as unknown as RankingRequest;
    const res = await rankHttp(req);
    expect(res.status).toBe(400);
    expect(res.error?.code).toBe("bad_user");
    expect(res.error?.message).toContain("user:");
  });

  test("a hot swap to other weights never serves the old version's K/V", async () => {
    const put = await fetch(`${served.url}/v1/models/hstu`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ path: "hstu-v2.safetensors" }) });
    expect(put.status).toBe(200);
    const h = visits.grow("u1");
    const req = visits.request(h, 5, "u1");
    const res = await rankHttp(req);
    expect([res.status, res.version]).toEqual([200, 2]);
    await expectPlain(plain2, req, res.ctr);
    const s = await kvStats();
    expect([s.hits, s.misses, s.tokensComputed]).toEqual([0, 1, h.items.length]);
    const text = await (await fetch(`${served.url}/metrics`)).text();
    expect(text).toMatch(/^rankfn_kv_misses_total\{model="hstu",version="2"\} 1$/m);
  });
});

describe("rankfn serve --kv-cache-mb", () => {
  test("the CLI flags give each HSTU model a store on its worker: a returning user is a hit in /metrics", async () => {
    const cli = join(import.meta.dir, "../../sdk/cli.ts");
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = probe.port!;
    probe.stop(true);
    const url = `http://127.0.0.1:${port}`;
    const args = ["serve", "--model", `hstu=${join(root, "hstu.safetensors")}`, "--port", String(port), "--kv-cache-mb", "4", "--kv-dtype", "bf16", "--kv-host-mb", "8", "--kv-host-dtype", "i8"];
    const proc = Bun.spawn([process.execPath, cli, ...args], { stdout: "pipe", stderr: "pipe" });
    try {
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
        const ready = await fetch(`${url}/readyz`).catch(() => undefined);
        if (ready?.status === 200) break;
        await Bun.sleep(50);
      }
      const v = new UserVisits(42, options.historyLength, rows, options.actions);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${url}/v1/models/hstu/rank`, { method: "POST", headers: { "content-type": "application/json" }, body: body(v.request(v.grow("u5"), 3, "u5")) });
        expect(res.status).toBe(200);
      }
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toMatch(/^rankfn_kv_hits_total\{model="hstu",version="1",tier="native"\} 1$/m);
      expect(text).toMatch(/^rankfn_kv_hits_total\{model="hstu",version="1",tier="host"\} 0$/m);
      expect(text).toMatch(/^rankfn_kv_misses_total\{model="hstu",version="1"\} 1$/m);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  });

  test("a bad flag exits 1 naming it", async () => {
    const cli = join(import.meta.dir, "../../sdk/cli.ts");
    const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `hstu=${join(root, "hstu.safetensors")}`, "--port", "0", "--kv-cache-mb", "-3"], { stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain('--kv-cache-mb must be a positive number of MiB, got "-3"');
  });
});
