// How often a request's rows are copied between the wire and the kernels,
// counted by the staging buffers themselves (the body decoder, the stager and
// the executor each count what they read in place and what they copy), over
// real HTTP on a real model:
//   - an aligned msgpack body, one request: 0 copies (the kernels read the body's bytes);
//   - an unaligned body: 1 (validation reads it in place; staging copies it to the plan's slots);
//   - several requests coalesced into one batch: 1 (staged straight into the plan's slots);
//   - worker mode: 1 (staged into the shared lane the worker's kernels read);
// and the outputs are written by the kernels into the batch's own arrays, then
// copied once, into the response body. Every response is checked against the
// model ranking the same request in-process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MSGPACK, encodeTensor, packr } from "../../runtime/server/wire";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type Model, loadModel, writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import type { RankingRequest } from "../../sdk/request";
import { sampleRequests } from "../../sdk/sample-requests";
import { type LoopbackServer, startServer } from "./loopback";

const dir = mkdtempSync(join(tmpdir(), "rankfn-copies-"));
const built = zoo.dlrm.build({ seed: 5, scale: 0.0005 });
const path = join(dir, "m.safetensors");
const inputs = built.graph.inputs.length;
let reference: Model;

beforeAll(() => {
  writeModel(path, built);
  reference = loadModel(path);
});
afterAll(() => {
  reference.dispose();
  rmSync(dir, { recursive: true, force: true });
});

type Counts = { inPlace: number; copied: number; bytesCopied: number };
type Copies = { wire: { inPlace: number; unaligned: number }; staging: Counts; plan: { inputsInPlace: number; inputsCopied: number; outputsInPlace: number; outputsCopied: number; bytesCopied: number } };

async function copies(server: LoopbackServer): Promise<Copies> {
  const res = await fetch(`${server.url}/v1/models/m`);
  return ((await res.json()) as { stats: { copies: Copies } }).stats.copies;
}

/** The counters' growth between two readings. */
function delta(before: Copies, after: Copies): Copies {
  const sub = <T extends Record<string, number>>(a: T, b: T) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k]! - a[k]!])) as T;
  return { wire: sub(before.wire, after.wire), staging: sub(before.staging, after.staging), plan: sub(before.plan, after.plan) };
}

const tensorCount = (req: RankingRequest) => Object.keys(req.context ?? {}).length + Object.keys(req.candidates).length;
const expected = async (req: RankingRequest) => Array.from((await reference.rank(req)).outputs.ctr!.data);

/** A msgpack body whose every tensor payload starts at an odd offset (a `pad` string of the right length before each "data"). */
function unalignedBody(req: RankingRequest): Uint8Array {
  const group = (g: Record<string, Tensor>) => Object.fromEntries(Object.entries(g).map(([k, t]) => [k, { pad: "", ...encodeTensor(t) }]));
  const body = { context: group(req.context ?? {}), candidates: group(req.candidates) };
  for (const tensors of [body.context, body.candidates]) {
    for (const t of Object.values(tensors)) {
      for (let k = 0; k < 8; k++) {
        t.pad = " ".repeat(k);
        const bytes = packr.pack(body);
        const at = Buffer.from(bytes).indexOf(Buffer.from(t.data));
        if (at % 2 === 1) break;
      }
    }
  }
  return packr.pack(body);
}

async function scoresOf(res: Response): Promise<number[]> {
  expect(res.status).toBe(200);
  const body = packr.unpack(new Uint8Array(await res.arrayBuffer())) as { outputs: { ctr: { data: Uint8Array } } };
  return Array.from(new Float32Array(body.outputs.ctr.data.slice().buffer));
}

describe("inline", () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    // A long static delay: requests sent together always share a batch.
    server = await startServer({ models: { m: path }, modelRoot: dir, coalescing: { policy: "static", maxQueueDelayUs: 20_000 } });
  });
  afterAll(() => server.stop());

  test("an aligned body (RankingClient), alone in its batch: no copy on the way in, the kernels write the outputs in place", async () => {
    const [req] = sampleRequests(built, { count: 1, candidates: 40, seed: 3 });
    const client = new RankingClient({ url: server.url });
    const before = await copies(server);
    const { outputs } = await client.rank("m", req!);
    const d = delta(before, await copies(server));
    expect(Array.from(outputs.ctr!.data)).toEqual(await expected(req!));
    expect(d.wire).toEqual({ inPlace: tensorCount(req!), unaligned: 0 });
    expect(d.staging).toEqual({ inPlace: inputs, copied: 0, bytesCopied: 0 });
    expect(d.plan).toEqual({ inputsInPlace: inputs, inputsCopied: 0, outputsInPlace: 1, outputsCopied: 0, bytesCopied: 0 });
  });

  test("an unaligned body: checked where it lies, each tensor copied once, straight into the plan's slots", async () => {
    const [req] = sampleRequests(built, { count: 1, candidates: 33, seed: 4 });
    const body = unalignedBody(req!);
    const before = await copies(server);
    const res = await fetch(`${server.url}/v1/models/m/rank`, { method: "POST", headers: { "Content-Type": MSGPACK }, body });
    const got = await scoresOf(res);
    const d = delta(before, await copies(server));
    expect(got).toEqual(await expected(req!));
    const bytes = Object.values({ ...(req!.context ?? {}), ...req!.candidates }).reduce((a, t) => a + t.data.byteLength, 0);
    expect(d.wire).toEqual({ inPlace: 0, unaligned: tensorCount(req!) });
    expect(d.staging).toEqual({ inPlace: 0, copied: inputs, bytesCopied: bytes });
    expect(d.plan.inputsCopied).toBe(0);
  });

  test("unaligned bodies coalesced into one batch: still one copy each; a bad id in one is found in place and fails it alone", async () => {
    const reqs = sampleRequests(built, { count: 3, candidates: 9, seed: 8 });
    const bodies = reqs.map(unalignedBody);
    const bad = structuredClone(reqs[1]!);
    (bad.candidates.cat_8!.data as BigInt64Array)[5] = -3n;
    const before = await copies(server);
    const post = (body: Uint8Array) => fetch(`${server.url}/v1/models/m/rank`, { method: "POST", headers: { "Content-Type": MSGPACK }, body });
    const [a, b, c] = await Promise.all([post(bodies[0]!), post(unalignedBody(bad)), post(bodies[2]!)]);
    expect(await scoresOf(a!)).toEqual(await expected(reqs[0]!));
    expect(await scoresOf(c!)).toEqual(await expected(reqs[2]!));
    expect(b!.status).toBe(400);
    expect(await b!.text()).toContain("candidates.cat_8: id -3 at row 5, position 0 is outside table");
    const d = delta(before, await copies(server));
    expect(d.staging).toMatchObject({ inPlace: 0, copied: 2 * inputs });
    expect(d.plan.inputsCopied).toBe(0);
  });

  test("three requests coalesced into one batch: each staged once, straight into the plan's slots", async () => {
    const reqs = sampleRequests(built, { count: 3, candidates: 20, seed: 6 });
    const client = new RankingClient({ url: server.url });
    const before = await copies(server);
    const results = await Promise.all(reqs.map((r) => client.rank("m", r)));
    const d = delta(before, await copies(server));
    for (let i = 0; i < reqs.length; i++) expect(Array.from(results[i]!.outputs.ctr!.data)).toEqual(await expected(reqs[i]!));
    expect(d.wire.unaligned).toBe(0);
    expect(d.staging).toMatchObject({ inPlace: 0, copied: 3 * inputs });
    expect(d.plan).toEqual({ inputsInPlace: inputs, inputsCopied: 0, outputsInPlace: 1, outputsCopied: 0, bytesCopied: 0 });
  });
});

describe("worker mode", () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await startServer({ models: { m: path }, modelRoot: dir, modelOptions: { worker: true }, coalescing: { policy: "off" } });
  });
  afterAll(() => server.stop());

  test("staged once into the shared lane; the worker's kernels read it and write the outputs there in place", async () => {
    const [req] = sampleRequests(built, { count: 1, candidates: 24, seed: 7 });
    const client = new RankingClient({ url: server.url });
    await client.rank("m", req!); // the worker reports its counts with each batch
    const before = await copies(server);
    const { outputs } = await client.rank("m", req!);
    const d = delta(before, await copies(server));
    expect(Array.from(outputs.ctr!.data)).toEqual(await expected(req!));
    expect(d.wire.unaligned).toBe(0);
    expect(d.staging).toMatchObject({ inPlace: 0, copied: inputs });
    expect(d.plan).toEqual({ inputsInPlace: inputs, inputsCopied: 0, outputsInPlace: 1, outputsCopied: 0, bytesCopied: 0 });
  });
});
