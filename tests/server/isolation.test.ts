// A bad request never fails the good requests coalesced with it: each request
// is validated alone (against the model, ids included) before it is queued,
// so with coalescing on, over real HTTP, every valid request gets exactly its
// own rows — checked against the model ranking it alone — and every invalid
// one gets its own 4xx naming its field.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MSGPACK, encodeTensor, packr } from "../../runtime/server/wire";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type Model, loadModel, writeModel, zoo } from "../../sdk";
import type { RankingRequest } from "../../sdk/request";
import { sampleRequests } from "../../sdk/sample-requests";
import { type LoopbackServer, startServer } from "./loopback";

const dir = mkdtempSync(join(tmpdir(), "rankfn-isolation-"));
const built = zoo.dcnv2.build({ seed: 4 });
let server: LoopbackServer;
let reference: Model;

beforeAll(async () => {
  writeModel(join(dir, "m.safetensors"), built);
  reference = loadModel(join(dir, "m.safetensors"));
  // A long static delay: requests sent together always share a batch.
  server = await startServer({ models: { m: join(dir, "m.safetensors") }, modelRoot: dir, coalescing: { policy: "static", maxQueueDelayUs: 20_000 } });
});
afterAll(async () => {
  await server.stop();
  reference.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const wireGroup = (group: Record<string, Tensor>) => Object.fromEntries(Object.entries(group).map(([k, v]) => [k, encodeTensor(v)]));
const post = (body: unknown) =>
  fetch(`${server.url}/v1/models/m/rank`, { method: "POST", headers: { "Content-Type": MSGPACK, Accept: MSGPACK }, body: packr.pack(body) });
/** Batches executed and rows scored so far, from the server's own metrics. */
const batchTotals = () => {
  const text = server.rankfn.metrics.render();
  const read = (series: string) => Number(text.match(new RegExp(`^${series}\\{model="m"\\} (\\S+)$`, "m"))?.[1] ?? 0);
  return { batches: read("rankfn_batch_rows_count"), rows: read("rankfn_batch_rows_sum") };
};

async function scores(res: Response): Promise<Float32Array> {
  const body = packr.unpack(new Uint8Array(await res.arrayBuffer())) as { outputs: { ctr: { data: Uint8Array } } };
  const bytes = body.outputs.ctr.data;
  return new Float32Array(bytes.slice().buffer);
}

/** An error body, in whichever format the server answered. */
async function errorBody(res: Response): Promise<{ error: { code: string; message: string } }> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  return (res.headers.get("content-type") ?? "").startsWith(MSGPACK) ? packr.unpack(bytes) : JSON.parse(new TextDecoder().decode(bytes));
}

const expected = async (req: RankingRequest) => Array.from((await reference.rank(req)).outputs.ctr!.data);

test("three concurrent JSON requests, the middle one lacking dense: only the middle one fails", async () => {
  const reqs = sampleRequests(built, { count: 3, candidates: 4, seed: 11 });
  const asJson = (req: RankingRequest, drop?: string) => {
    const nested = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, r) => Array.from(t.data.subarray(r * t.shape[1]!, (r + 1) * t.shape[1]!) as ArrayLike<number | bigint>, Number));
    const group = (g: Record<string, Tensor>) => Object.fromEntries(Object.entries(g).filter(([k]) => k !== drop).map(([k, v]) => [k, nested(v)]));
    return JSON.stringify({ context: group(req.context ?? {}), candidates: group(req.candidates) });
  };
  const send = (body: string) => fetch(`${server.url}/v1/models/m/rank`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  const before = batchTotals();
  const [a, b, c] = await Promise.all([send(asJson(reqs[0]!)), send(asJson(reqs[1]!, "dense")), send(asJson(reqs[2]!))]);
  expect(b.status).toBe(400);
  expect(((await b.json()) as { error: { code: string; message: string } }).error).toEqual({ code: "missing_feature", message: "candidates.dense: missing feature" });
  for (const [res, req] of [[a, reqs[0]!], [c, reqs[2]!]] as const) {
    expect(res.status).toBe(200);
    const got = ((await res.json()) as { outputs: { ctr: number[][] } }).outputs.ctr.flat();
    const want = await expected(req);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-6));
  }
  // The two valid requests were scored together, in one batch of 8 rows.
  expect(batchTotals()).toEqual({ batches: before.batches + 1, rows: before.rows + 8 });
});

test("six valid requests and one with id -5, sent together: the six score their own rows, the bad one gets 400", async () => {
  const reqs = sampleRequests(built, { count: 7, candidates: 5, seed: 12 });
  const bad = structuredClone(reqs[3]!);
  const ids = bad.candidates.cat_3!.data as BigInt64Array;
  ids[4] = -5n;
  const before = batchTotals();
  const responses = await Promise.all(reqs.map((r, i) => post({ context: wireGroup((i === 3 ? bad : r).context ?? {}), candidates: wireGroup((i === 3 ? bad : r).candidates) })));
  for (let i = 0; i < reqs.length; i++) {
    const res = responses[i]!;
    if (i === 3) {
      expect(res.status).toBe(400);
      const err = await errorBody(res);
      expect(err.error.code).toBe("id_out_of_range");
      expect(err.error.message).toStartWith("candidates.cat_3: id -5 at row 2, position 0 is outside table");
      continue;
    }
    expect(res.status).toBe(200);
    const got = await scores(res);
    const want = await expected(reqs[i]!);
    expect(got.length).toBe(want.length);
    got.forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-6));
  }
  expect(batchTotals()).toEqual({ batches: before.batches + 1, rows: before.rows + 30 });
});

test("valid and mutated requests sent concurrently with coalescing on: each valid one gets its own rows, each invalid one its own 4xx", async () => {
  const rng = new Rng(21);
  const pool = sampleRequests(built, { count: 40, candidates: 3, seed: 13 });
  const mutations: ((o: Record<string, any>) => void)[] = [
    (o) => delete o.candidates.dense,
    (o) => (o.candidates.dense.shape = [3, 1e9]),
    (o) => (o.candidates.cat_4.dtype = "f16"),
    (o) => (o.candidates.cat_6.data = new Uint8Array(5)),
    (o) => (o.candidates.extra = o.candidates.dense),
    (o) => (o.deadline_ms = -1),
    (o) => {
      const ids = new BigInt64Array(o.candidates.cat_6.data.slice().buffer);
      ids[rng.int(ids.length)] = 1n << 40n;
      o.candidates.cat_6.data = new Uint8Array(ids.buffer);
    },
  ];
  const before = batchTotals();
  let valid = 0;
  for (let wave = 0; wave < 4; wave++) {
    const sent = pool.slice(wave * 10, wave * 10 + 10).map((req) => {
      const body: Record<string, any> = { context: wireGroup(req.context ?? {}), candidates: wireGroup(req.candidates) };
      const mutated = rng.int(2) === 1;
      if (mutated) mutations[rng.int(mutations.length)]!(body);
      return { req, mutated, res: post(body) };
    });
    for (const { req, mutated, res: pending } of sent) {
      const res = await pending;
      if (mutated) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        const err = await errorBody(res);
        expect(err.error.message.length).toBeGreaterThan(0);
        continue;
      }
      expect(res.status).toBe(200);
      valid++;
      const got = await scores(res);
      const want = await expected(req);
      got.forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-6));
    }
  }
  // Every wave's valid requests shared one batch.
  expect(valid).toBeGreaterThan(10);
  expect(batchTotals()).toEqual({ batches: before.batches + 4, rows: before.rows + valid * 3 });
});
