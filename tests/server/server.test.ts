// The HTTP server over real loopback: JSON and msgpack round trips equal to
// in-process ranking, the RankingClient, model management with hot swap under
// load, and every kind of bad input answered with the right 4xx while the
// server stays up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { type LoopbackServer, startServer } from "./loopback";
import { loadModel, writeModel, zoo } from "../../sdk";
import { RankingClient, ServerError } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";

const root = mkdtempSync(join(tmpdir(), "rankfn-server-"));
const built = zoo.dcnv2.build({ seed: 9 });
const other = zoo.dcnv2.build({ seed: 10 });
writeModel(join(root, "dcnv2.safetensors"), built);
writeModel(join(root, "dcnv2-v2.safetensors"), other);
const API_KEY = "s3cret-key";

let served: LoopbackServer;
let url: string;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const inProcess = loadModel(built);
const [request] = sampleRequests(built, { count: 1, candidates: 12, seed: 4 });

beforeAll(async () => {
  served = await startServer({ models: { dcnv2: "dcnv2.safetensors" }, modelRoot: root, apiKey: API_KEY, maxBodyBytes: 1 << 20, modelOptions: { worker: true } });
  url = served.url;
});
afterAll(async () => {
  await served.stop();
  inProcess.dispose();
  rmSync(root, { recursive: true, force: true });
});

const auth = { Authorization: `Bearer ${API_KEY}` };
const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { method: "POST", body, headers: { ...auth, ...headers } });

test("the client's msgpack and JSON answers equal in-process ranking", async () => {
  const want = Array.from(inProcess.rankSync(request!).outputs.ctr!.data);
  for (const format of ["msgpack", "json"] as const) {
    const client = new RankingClient({ url, apiKey: API_KEY, format });
    const res = await client.rank("dcnv2", request!);
    expect(res.model).toBe("dcnv2");
    expect(res.version).toBe(1);
    expect(res.outputs.ctr!.shape).toEqual([12, 1]);
    const got = Array.from(res.outputs.ctr!.data);
    // msgpack carries the float32 bytes exactly; JSON numbers round-trip float32 exactly too.
    expect(got).toEqual(want);
  }
});

test("JSON with nested arrays and row-wise candidates works without dtypes", async () => {
  const ctx = Object.fromEntries(Object.entries(request!.context ?? {}).map(([k, t]) => [k, [Array.from(t.data as BigInt64Array, Number)]]));
  const rows = Array.from({ length: 12 }, (_, i) =>
    Object.fromEntries(Object.entries(request!.candidates).map(([k, t]) => {
      const w = t.shape[1]!;
      return [k, Array.from(t.data.subarray(i * w, (i + 1) * w) as ArrayLike<number | bigint>, Number)];
    })),
  );
  const res = await post("/v1/models/dcnv2/rank", JSON.stringify({ context: ctx, candidates: rows }), { "Content-Type": "application/json" });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { outputs: { ctr: number[][] }; timing: { compute_ms: number } };
  const want = inProcess.rankSync(request!).outputs.ctr!.data;
  body.outputs.ctr.forEach(([v], i) => expect(Math.abs(v! - want[i]!)).toBeLessThan(1e-6));
});

test("msgpack tensors at odd byte offsets decode correctly", async () => {
  // An extra leading field shifts every bin payload to an unaligned offset.
  const enc = (t: { dtype: string; shape: number[]; data: ArrayBufferView }) => ({ dtype: t.dtype, shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  const body = packr.pack({ priority: 1, context: Object.fromEntries(Object.entries(request!.context ?? {}).map(([k, t]) => [k, enc(t)])), candidates: Object.fromEntries(Object.entries(request!.candidates).map(([k, t]) => [k, enc(t)])) });
  const res = await post("/v1/models/dcnv2/rank", body, { "Content-Type": "application/msgpack", Accept: "application/msgpack" });
  expect(res.status).toBe(200);
  const out = packr.unpack(new Uint8Array(await res.arrayBuffer())) as { outputs: { ctr: { data: Uint8Array } } };
  const bytes = new Uint8Array(out.outputs.ctr.data);
  expect(Array.from(new Float32Array(bytes.buffer))).toEqual(Array.from(inProcess.rankSync(request!).outputs.ctr!.data));
});

describe("bad requests get a 4xx naming the problem, and the server stays up", () => {
  const expectError = async (res: Response, status: number, message: string) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toContain(message);
  };
  test("authentication", async () => {
    await expectError(await fetch(`${url}/v1/models`), 401, "missing or wrong API key");
    await expectError(await fetch(`${url}/v1/models`, { headers: { "x-api-key": "s3cret-kez" } }), 401, "missing or wrong API key");
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
  test("malformed bodies, fields and values", async () => {
    const json = { "Content-Type": "application/json" };
    await expectError(await post("/v1/models/dcnv2/rank", "{not json", json), 400, "body: not valid JSON");
    await expectError(await post("/v1/models/dcnv2/rank", new Uint8Array([0xc1, 0xff, 0x00]), { "Content-Type": "application/msgpack" }), 400, "body: not valid msgpack");
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ candidates: {}, colour: 1 }), json), 400, "colour: unknown field");
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ candidates: { dense: [[1, 2], [3]] } }), json), 400, "candidates.dense: ragged nested arrays");
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ candidates: { dense: { dtype: "f99", shape: [1], data: [1] } } }), json), 400, 'candidates.dense.dtype: unknown dtype "f99"');
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ candidates: { dense: { dtype: "f32", shape: [100000, 100000], data: [] } } }), json), 400, "candidates.dense: 10000000000 elements exceed the limit");
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ context: { cat_0: [[1]] }, candidates: { dense: [[1, 2]] } }), json), 400, "candidates.dense: expected shape [rows, 13]");
    const nan = { ...request!, candidates: { ...request!.candidates } };
    const dense = new Float32Array(request!.candidates.dense!.data as Float32Array);
    dense[5] = NaN;
    nan.candidates.dense = { dtype: "f32", shape: request!.candidates.dense!.shape, data: dense };
    await expect(new RankingClient({ url, apiKey: API_KEY }).rank("dcnv2", nan)).rejects.toThrow("candidates.dense: row 0 has a non-finite value (NaN)");
    await expectError(await post("/v1/models/dcnv2/rank", JSON.stringify({ candidates: {}, deadline_ms: -5 }), json), 400, "deadline_ms: must be a positive number");
    await expectError(await post("/v1/models/nope/rank", JSON.stringify({ candidates: {} }), json), 404, 'model "nope" is not loaded');
    await expectError(await post("/v1/models/dcnv2/rank", new Uint8Array(2 << 20), json), 413, "exceeds the limit of 1048576");
    // Still serving.
    expect((await new RankingClient({ url, apiKey: API_KEY }).rank("dcnv2", request!)).outputs.ctr!.shape).toEqual([12, 1]);
  });
  test("model paths must stay under the model root", async () => {
    const put = (body: unknown) => fetch(`${url}/v1/models/evil`, { method: "PUT", body: JSON.stringify(body), headers: { ...auth, "Content-Type": "application/json" } });
    await expectError(await put({ path: "../../etc/passwd" }), 403, "is outside the model root");
    await expectError(await put({ path: "/etc/passwd" }), 403, "is outside the model root");
    await expectError(await put({ nope: 1 }), 400, 'expected {"path"');
  });
});

test("model management: list, describe, hot swap under load with zero failed requests, delete", async () => {
  const client = new RankingClient({ url, apiKey: API_KEY });
  const info = (await (await fetch(`${url}/v1/models/dcnv2`, { headers: auth })).json()) as { inputs: { name: string; shape: number[]; role: string }[]; outputs: { name: string }[]; version: number };
  expect(info.inputs.find((i) => i.name === "dense")).toEqual({ name: "dense", dtype: "f32", shape: [-1, 13], role: "candidate" } as never);
  expect(info.inputs.find((i) => i.name === "cat_0")!.role).toBe("context");
  expect(info.outputs.map((o) => o.name)).toEqual(["ctr"]);
  const before = info.version;
  // Keep requests flowing while the new version loads and swaps in.
  let failures = 0;
  const versions = new Set<number>();
  let stop = false;
  const load = (async () => {
    while (!stop) {
      try {
        versions.add((await client.rank("dcnv2", request!)).version);
      } catch {
        failures++;
      }
    }
  })();
  const put = await fetch(`${url}/v1/models/dcnv2`, { method: "PUT", body: JSON.stringify({ path: "dcnv2-v2.safetensors" }), headers: { ...auth, "Content-Type": "application/json" } });
  expect(put.status).toBe(200);
  expect(((await put.json()) as { version: number }).version).toBe(before + 1);
  for (let i = 0; i < 5; i++) versions.add((await client.rank("dcnv2", request!)).version);
  stop = true;
  await load;
  expect(failures).toBe(0);
  expect(versions.has(before + 1)).toBe(true);
  // The new version scores like the new file.
  const swapped = await client.rank("dcnv2", request!);
  const otherModel = loadModel(other);
  expect(Array.from(swapped.outputs.ctr!.data)).toEqual(Array.from(otherModel.rankSync(request!).outputs.ctr!.data));
  otherModel.dispose();
  expect(await client.models()).toEqual([{ name: "dcnv2", version: before + 1, loaded: true, path: "dcnv2-v2.safetensors" }] as never);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  expect(metrics).toMatch(/rankfn_requests_total\{model="dcnv2",status="200"\} \d+/);
  expect(metrics).toMatch(/rankfn_requests_total\{model="dcnv2",status="400"\} \d+/);
  expect(metrics).toMatch(/rankfn_cold_starts_total\{model="dcnv2"\} 2/);
  expect((await fetch(`${url}/v1/models/dcnv2`, { method: "DELETE", headers: auth })).status).toBe(204);
  await expect(client.rank("dcnv2", request!)).rejects.toThrow(ServerError);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
});

test("a bad coalescing setting fails when the app is created, not on the first request", async () => {
  const { createApp } = await import("../../runtime/server/app");
  expect(() => createApp({ coalescing: { policy: "adaptive" } })).toThrow("coalescer: the adaptive policy needs sloP99Ms");
  expect(() => createApp({ coalescing: { maxBatchRows: 0 } })).toThrow("coalescer: maxBatchRows must be an integer ≥ 1, got 0");
});
