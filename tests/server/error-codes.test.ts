// Every error a client can trigger over HTTP is a typed answer: a 4xx with a
// code and a message naming what was wrong, walked here one code at a time on
// a real server over loopback. A failure of ours is a 500 carrying an error
// id that is also in the server's log.
import { afterAll, beforeAll, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { gzipSync } from "node:zlib";
import { errorResponse } from "../../runtime/server/error-response";
import { MSGPACK, encodeTensor, packr } from "../../runtime/server/wire";
import { writeModel, zoo } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";
import { type LoopbackServer, startServer } from "./loopback";

const dir = mkdtempSync(join(tmpdir(), "rankfn-error-codes-"));
const built = zoo.dcnv2.build({ seed: 6 });
let server: LoopbackServer;
let keyed: LoopbackServer;

beforeAll(async () => {
  writeModel(join(dir, "m.safetensors"), built);
  const models = { m: join(dir, "m.safetensors") };
  server = await startServer({ models, modelRoot: dir, maxBodyBytes: 1 << 20, limits: { maxRows: 64 }, coalescing: { policy: "off", maxQueueRows: 32 } });
  keyed = await startServer({ models, modelRoot: dir, apiKey: "s3cret" });
});
afterAll(async () => {
  await server.stop();
  await keyed.stop();
  rmSync(dir, { recursive: true, force: true });
});

const [sample] = sampleRequests(built, { count: 1, candidates: 2, seed: 1 });
const wire = (g: Record<string, Parameters<typeof encodeTensor>[0]>) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, encodeTensor(v)]));
const good = () => ({ context: wire(sample!.context ?? {}), candidates: wire(sample!.candidates) }) as Record<string, any>;
const msgpack = (body: unknown, headers: Record<string, string> = {}) => ({ body: packr.pack(body), headers: { "Content-Type": MSGPACK, ...headers } });
const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
const edit = (f: (o: Record<string, any>) => void) => {
  const o = good();
  f(o);
  return msgpack(o);
};
const idsWith = (value: bigint) => {
  const ids = new BigInt64Array(2 * 2);
  ids[3] = value;
  return { dtype: "i64", shape: [2, 2], data: new Uint8Array(ids.buffer) };
};

type Case = { name: string; status: number; code: string; message: RegExp; path?: string; method?: string; target?: () => LoopbackServer; request: () => { body?: string | Uint8Array; headers: Record<string, string> } };

const cases: Case[] = [
  { name: "a body that is not msgpack", status: 400, code: "bad_body", message: /^body: not valid msgpack/, request: () => ({ body: new Uint8Array([0xc1, 0xc1]), headers: { "Content-Type": MSGPACK } }) },
  { name: "a body that is not JSON", status: 400, code: "bad_body", message: /^body: not valid JSON/, request: () => ({ body: "{", headers: { "Content-Type": "application/json" } }) },
  { name: "an unknown top-level field", status: 400, code: "unknown_field", message: /^tenant: unknown field/, request: () => edit((o) => (o.tenant = 1)) },
  { name: "a bad user", status: 400, code: "bad_user", message: /^user: expected a non-empty string/, request: () => edit((o) => (o.user = "")) },
  { name: "no candidates", status: 400, code: "missing_field", message: /^candidates: missing/, request: () => msgpack({ context: good().context }) },
  { name: "a bad deadline", status: 400, code: "bad_deadline", message: /^deadline_ms: must be a positive number/, request: () => edit((o) => (o.deadline_ms = -3)) },
  { name: "a bad priority", status: 400, code: "bad_priority", message: /^priority: must be an integer/, request: () => edit((o) => (o.priority = 1.5)) },
  { name: "a tensor that is not a tensor", status: 400, code: "bad_tensor", message: /^candidates\.dense: expected a tensor/, request: () => edit((o) => (o.candidates.dense = 7)) },
  { name: "an unknown dtype", status: 400, code: "bad_dtype", message: /^candidates\.dense\.dtype: unknown dtype "f8"/, request: () => edit((o) => (o.candidates.dense.dtype = "f8")) },
  { name: "a dtype the model does not take", status: 400, code: "bad_dtype", message: /^candidates\.dense: expected dtype f32, got i32/, request: () => edit((o) => (o.candidates.dense = { ...o.candidates.dense, dtype: "i32" })) },
  { name: "a malformed shape", status: 400, code: "bad_shape", message: /^candidates\.dense\.shape: expected up to 4 non-negative integers/, request: () => edit((o) => (o.candidates.dense.shape = [-1, 13])) },
  { name: "a shape the model does not take", status: 400, code: "bad_shape", message: /^candidates\.dense: expected shape \[rows, 13\]/, request: () => edit((o) => (o.candidates.dense = { ...o.candidates.dense, shape: [1, 26] })) },
  { name: "data shorter than its shape", status: 400, code: "length_mismatch", message: /^candidates\.dense\.data: f32 \[2, 13\] needs 104 bytes, got 8/, request: () => edit((o) => (o.candidates.dense.data = new Uint8Array(8))) },
  { name: "a tensor over the element limit", status: 400, code: "too_large", message: /elements exceed the limit/, request: () => edit((o) => (o.candidates.dense.shape = [64, 1 << 20])) },
  { name: "more rows than a request may carry", status: 400, code: "too_many_rows", message: /^candidates\.dense: 65 rows exceed the limit of 64/, request: () => edit((o) => (o.candidates.dense.shape = [65, 13])) },
  { name: "a non-number in nested JSON", status: 400, code: "bad_value", message: /^candidates\.dense\[0\]: expected a number/, request: () => json({ candidates: { dense: [["x"]] } }) },
  { name: "an unknown feature", status: 400, code: "unknown_feature", message: /^candidates\.extra: unknown feature/, request: () => edit((o) => (o.candidates.extra = o.candidates.dense)) },
  { name: "a missing feature", status: 400, code: "missing_feature", message: /^candidates\.dense: missing feature$/, request: () => edit((o) => delete o.candidates.dense) },
  { name: "a context feature sent per candidate", status: 400, code: "missing_feature", message: /^context\.cat_0: missing \(it is a context feature: put it in "context"\)/, request: () => edit((o) => ((o.candidates.cat_0 = o.context.cat_0), delete o.context.cat_0)) },
  { name: "features with different row counts", status: 400, code: "row_mismatch", message: /^candidates\.cat_3: has 1 rows, other features have 2/, request: () => edit((o) => (o.candidates.cat_3 = { dtype: "i64", shape: [1, 2], data: new Uint8Array(16) })) },
  { name: "no candidate rows", status: 400, code: "empty_request", message: /^candidates: empty/, request: () => edit((o) => { for (const k of Object.keys(o.candidates)) o.candidates[k] = { ...o.candidates[k], shape: [0, ...o.candidates[k].shape.slice(1)], data: new Uint8Array(0) }; }) },
  { name: "a NaN feature", status: 400, code: "non_finite", message: /^candidates\.dense: row 1 has a non-finite value \(NaN\)/, request: () => edit((o) => { const f = new Float32Array(26); f[20] = NaN; o.candidates.dense.data = new Uint8Array(f.buffer); }) },
  { name: "an id outside its table", status: 400, code: "id_out_of_range", message: /^candidates\.cat_3: id 99999 at row 1, position 1 is outside table/, request: () => edit((o) => (o.candidates.cat_3 = idsWith(99999n))) },
  { name: "an id past 32 bits", status: 400, code: "id_out_of_range", message: /^candidates\.cat_3: id 1099511627776 at row 1, position 1/, request: () => edit((o) => (o.candidates.cat_3 = idsWith(1n << 40n))) },
  { name: "an unknown model", status: 404, code: "model_not_found", message: /^model "nope" is not loaded/, path: "/v1/models/nope/rank", request: () => msgpack(good()) },
  { name: "no API key", status: 401, code: "unauthorized", message: /API key/, target: () => keyed, request: () => msgpack(good()) },
  { name: "an Accept that allows neither format", status: 406, code: "not_acceptable", message: /msgpack/, request: () => msgpack(good(), { Accept: "text/html" }) },
  { name: "a body over the limit", status: 413, code: "body_too_large", message: /exceeds the limit of 1048576/, request: () => ({ body: new Uint8Array((1 << 20) + 1), headers: { "Content-Type": MSGPACK } }) },
  { name: "a zip bomb", status: 413, code: "body_too_large", message: /limit/, request: () => ({ body: gzipSync(new Uint8Array(4 << 20)), headers: { "Content-Type": MSGPACK, "Content-Encoding": "gzip" } }) },
  { name: "more rows than the queue holds", status: 413, code: "request_too_large", message: /exceeds the queue bound of 32/, request: () => edit((o) => { for (const k of Object.keys(o.candidates)) { const t = o.candidates[k]; const w = t.shape[1]; const bytes = t.data.byteLength / t.shape[0]; o.candidates[k] = { ...t, shape: [40, w], data: new Uint8Array(40 * bytes) }; } }) },
  { name: "an unsupported encoding", status: 415, code: "unsupported_encoding", message: /br/, request: () => ({ ...msgpack(good()), headers: { "Content-Type": MSGPACK, "Content-Encoding": "br" } }) },
  { name: "PUT outside the model root", status: 403, code: "forbidden_path", message: /outside the model root .* \(--model-root\)/, method: "PUT", path: "/v1/models/m", request: () => json({ path: "/etc/passwd" }) },
  { name: "PUT without a path", status: 400, code: "bad_body", message: /^body: expected \{"path"/, method: "PUT", path: "/v1/models/m", request: () => json({}) },
  { name: "PUT with a bad model name", status: 400, code: "bad_model_name", message: /must be 1-64 letters/, method: "PUT", path: "/v1/models/a%20b", request: () => json({ path: "m.safetensors" }) },
];

for (const c of cases) {
  test(`${c.status} ${c.code}: ${c.name}`, async () => {
    const target = c.target?.() ?? server;
    const { body, headers } = c.request();
    const res = await fetch(`${target.url}${c.path ?? "/v1/models/m/rank"}`, { method: c.method ?? "POST", headers, body });
    const text = await res.text();
    expect({ status: res.status, text }).toMatchObject({ status: c.status });
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    expect(error.code).toBe(c.code);
    expect(error.message).toMatch(c.message);
  });
}

test("the server still scores after every error above", async () => {
  const res = await fetch(`${server.url}/v1/models/m/rank`, { method: "POST", ...msgpack(good()) });
  expect(res.status).toBe(200);
});

test("a failure of ours is a 500 whose error id is in the log", async () => {
  const app = new Hono();
  app.onError(errorResponse);
  app.get("/boom", () => {
    throw new TypeError("cannot read properties of undefined");
  });
  const log = spyOn(console, "error").mockImplementation(() => {});
  try {
    const res = await app.fetch(new Request("http://rankfn/boom"));
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: { code: string; message: string; id: string } };
    expect(error.code).toBe("internal");
    expect(error.id).toMatch(/^[0-9a-f]{12}$/);
    expect(error.message).toBe(`internal server error (error id ${error.id})`);
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0]![0]);
    expect(line).toContain(`error ${error.id} on GET /boom`);
    expect(line).toContain("TypeError: cannot read properties of undefined");
  } finally {
    log.mockRestore();
  }
});
