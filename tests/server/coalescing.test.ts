// Coalescing over real HTTP: 200 concurrent mixed-size requests are merged into
// batches and each gets exactly its own rows back; a request whose deadline
// passes while it queues gets 504; a full queue answers 503 with Retry-After.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackServer, startServer } from "./loopback";
import { loadModel, writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleFlatRequest, sampleRequests } from "../../sdk/sample-requests";

const root = mkdtempSync(join(tmpdir(), "rankfn-coalesce-"));
const small = zoo.dcnv2.build({ seed: 3 });
const slow = zoo.dlrm.build({ scale: 0.0001, seed: 3 }); // ~tens of ms per few hundred rows: a batch that keeps the model busy
writeModel(join(root, "small.safetensors"), small);
writeModel(join(root, "slow.safetensors"), slow);

let served: LoopbackServer;
let url: string;
beforeAll(async () => {
  served = await startServer({
    models: { small: "small.safetensors", slow: "slow.safetensors" },
    modelRoot: root,
    modelOptions: { worker: true },
    // Long enough that the backlog never expires on a loaded machine; the late request sets its own 1 ms.
    defaultDeadlineMs: 30_000,
    coalescing: { policy: "static", maxBatchRows: 512, maxQueueDelayUs: 3000, maxQueueRows: 600 },
  });
  url = served.url;
});
afterAll(async () => {
  await served.stop();
  rmSync(root, { recursive: true, force: true });
});

test("200 concurrent mixed-size requests are batched together and each gets exactly its own rows", async () => {
  const local = loadModel(small);
  const requests = Array.from({ length: 200 }, (_, i) => sampleRequests(small, { count: 1, candidates: 1 + (i % 7), seed: 1000 + i })[0]!);
  const client = new RankingClient({ url, deadlineMs: 5000 });
  const answers = await Promise.all(requests.map((r) => client.rank("small", r)));
  // Each gets its own rows; the GEMM picks its kernel by batch size (direct small-M kernels for
  // a few rows), so a request scored inside a batch may differ from it scored alone in the last bits.
  answers.forEach((res, i) => {
    const want = local.rankSync(requests[i]!).outputs.ctr!.data;
    expect(res.outputs.ctr!.data.length).toBe(want.length);
    res.outputs.ctr!.data.forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThanOrEqual(1e-6 * Math.abs(want[j]!) + 1e-7));
  });
  local.dispose();
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const batches = Number(metrics.match(/rankfn_batch_rows_count\{model="small"\} (\d+)/)![1]);
  const rows = Number(metrics.match(/rankfn_rows_total\{model="small"\} (\d+)/)![1]);
  expect(rows).toBe(requests.reduce((a, r) => a + r.candidates.dense!.shape[0]!, 0));
  expect(batches).toBeLessThan(200); // requests were merged
});

test("a request whose deadline passes while the model is busy gets 504, and a full queue 503 with Retry-After", async () => {
  const busy = sampleFlatRequest(slow, 512, 1);
  const client = new RankingClient({ url, deadlineMs: 30_000 });
  // Keep the model busy with back-to-back 512-row batches.
  const backlog = Array.from({ length: 3 }, () => client.rank("slow", busy));
  // Let the server receive them: one 512-row batch runs for tens of ms, the rest queue behind it.
  await Bun.sleep(20);
  const [one] = sampleRequests(slow, { count: 1, candidates: 1, seed: 2 });
  const asJson = (g: Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }> | undefined) =>
    g && Object.fromEntries(Object.entries(g).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: Array.from(t.data, Number) }]));
  // Straight to the server (no client-side timeout): the server's queue drops it at its deadline.
  const late = await fetch(`${url}/v1/models/slow/rank`, {
    method: "POST",
    body: JSON.stringify({ context: asJson(one!.context), candidates: asJson(one!.candidates), deadline_ms: 1 }),
    headers: { "Content-Type": "application/json" },
  });
  expect(late.status).toBe(504);
  expect(((await late.json()) as { error: { code: string } }).error.code).toBe("deadline_exceeded");
  // The queue holds 600 rows: with batches still queued, a 512-row request cannot be admitted.
  const res = await fetch(`${url}/v1/models/slow/rank`, {
    method: "POST",
    body: JSON.stringify({ rows: asJson(busy.rows) }),
    headers: { "Content-Type": "application/json" },
  });
  expect(res.status).toBe(503);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("queue_full");
  // The backlog itself completes (a client that met a full queue retried within its deadline).
  for (const r of await Promise.all(backlog)) expect(r.outputs.ctr!.shape).toEqual([512, 1]);
});
