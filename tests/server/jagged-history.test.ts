// Jagged histories over real HTTP on loopback (issue 15, Deliver 1): a history sent
// at its own length (a JSON list of n ids, or a msgpack [n] tensor from the typed
// client) scores as the in-process model scores it (1e-6), an over-long one reports
// `truncated` in both JSON and msgpack answers and in RankingClient's response, an
// empty history works, concurrent requests of mixed lengths coalesced into batches
// each score as alone while a malformed one among them is a 400 naming its field,
// and a non-integer id in JSON is a 400 before anything runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackServer, startServer } from "./loopback";
import { Model, writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { packr } from "../../runtime/server/wire";
import { tensor } from "../../runtime/tensor/tensor";
import type { RankingRequest } from "../../runtime/engine/request";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { rng } from "../kv/seeded-random";

const L = 32;
const options = { historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 12, itemRows: 2_000_000, actions: 6 };
const itemRows = hstuOptions(options).itemTableRows;
const built = zoo.hstu.build(options);
const root = mkdtempSync(join(tmpdir(), "rankfn-jagged-"));
writeModel(join(root, "hstu.safetensors"), built);
const plain = new Model(built);
let served: LoopbackServer;

beforeAll(async () => {
  served = await startServer({ models: { hstu: "hstu.safetensors" }, modelRoot: root, coalescing: { policy: "static", maxBatchRows: 256, maxQueueDelayUs: 5000 } });
});
afterAll(async () => {
  await served.stop();
  plain.dispose();
  rmSync(root, { recursive: true, force: true });
});

const candidates = [7, 70, 700, 1999];

/** A history of `n` events as plain numbers (seeded). */
function history(n: number, seed: number): { items: number[]; actions: number[] } {
  const rand = rng(seed);
  return { items: Array.from({ length: n }, () => Math.floor(rand() * itemRows)), actions: Array.from({ length: n }, () => Math.floor(rand() * options.actions)) };
}

/** The JSON body: the history as a flat list of its n events (no padding). */
function jsonBody(h: { items: unknown[]; actions: unknown[] }): string {
  return JSON.stringify({ context: { hist_items: h.items, hist_actions: h.actions }, candidates: { item_id: candidates.map((c) => [c]) } });
}

/** The same request as tensors, for the in-process model and the typed client. */
function tensors(h: { items: number[]; actions: number[] }): RankingRequest {
  const seq = (xs: number[]) => tensor("i64", [xs.length], BigInt64Array.from(xs, BigInt));
  return { context: { hist_items: seq(h.items), hist_actions: seq(h.actions) }, candidates: { item_id: tensor("i64", [candidates.length, 1], BigInt64Array.from(candidates, BigInt)) } };
}

async function post(body: string | Uint8Array, format: "json" | "msgpack" = "json"): Promise<{ status: number; body: Record<string, any> }> {
  const type = format === "json" ? "application/json" : "application/msgpack";
  const res = await fetch(`${served.url}/v1/models/hstu/rank`, { method: "POST", headers: { "content-type": type, accept: type }, body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body: format === "json" ? JSON.parse(new TextDecoder().decode(bytes)) : (packr.unpack(bytes) as Record<string, any>) };
}

const inProcess = async (h: { items: number[]; actions: number[] }) => Array.from((await plain.rank(tensors(h))).outputs.ctr!.data);
const maxDiff = (a: number[], b: number[]) => (expect(a.length).toBe(b.length), Math.max(...a.map((x, i) => Math.abs(x - b[i]!))));

describe("jagged histories on the wire", () => {
  test("a JSON list of n events scores as in process; empty and one-event histories too; no truncated field", async () => {
    for (const n of [0, 1, 13, 32]) {
      const h = history(n, n + 1);
      const { status, body } = await post(jsonBody(h));
      expect(status).toBe(200);
      expect(maxDiff((body.outputs.ctr as number[][]).flat(), await inProcess(h))).toBeLessThanOrEqual(1e-6);
      expect("truncated" in body).toBe(false);
    }
  });

  test("an over-long history reports truncated in JSON and msgpack bodies and in RankingClient's response", async () => {
    const h = history(45, 99);
    const last = await inProcess({ items: h.items.slice(-L), actions: h.actions.slice(-L) });
    const cut = { length: 45, kept: L };
    const json = await post(jsonBody(h));
    expect(json.status).toBe(200);
    expect(json.body.truncated).toEqual({ hist_items: cut, hist_actions: cut });
    expect(maxDiff((json.body.outputs.ctr as number[][]).flat(), last)).toBeLessThanOrEqual(1e-6);
    const mp = await post(packr.pack({ context: { hist_items: { dtype: "i64", shape: [45], data: new Uint8Array(BigInt64Array.from(h.items, BigInt).buffer) }, hist_actions: h.actions }, candidates: { item_id: candidates.map((c) => [c]) } }), "msgpack");
    expect(mp.status).toBe(200);
    expect(mp.body.truncated).toEqual({ hist_items: cut, hist_actions: cut });
    for (const format of ["msgpack", "json"] as const) {
      const client = new RankingClient({ url: served.url, format });
      const res = await client.rank("hstu", tensors(h));
      expect(res.truncated).toEqual({ hist_items: cut, hist_actions: cut });
      expect(maxDiff(Array.from(res.outputs.ctr!.data), last)).toBeLessThanOrEqual(1e-6);
      const short = await client.rank("hstu", tensors(history(5, 3)));
      expect(short.truncated).toBeUndefined();
    }
  });

  test("concurrent requests of mixed lengths each score as alone; a malformed one among them is a 400 naming its field", async () => {
    const lengths = [1, 50, 3, 32, 0, 20, 8];
    const hs = lengths.map((n, i) => history(n, 300 + i));
    const bad = { items: [1, 2, itemRows + 5], actions: [0, 1, 2] };
    const mismatched = { items: [1, 2, 3], actions: [0, 1] };
    const answers = await Promise.all([...hs.map((h) => post(jsonBody(h))), post(jsonBody(bad)), post(jsonBody(mismatched))]);
    for (let i = 0; i < hs.length; i++) {
      expect(answers[i]!.status).toBe(200);
      const want = await inProcess(lengths[i]! > L ? { items: hs[i]!.items.slice(-L), actions: hs[i]!.actions.slice(-L) } : hs[i]!);
      expect(maxDiff((answers[i]!.body.outputs.ctr as number[][]).flat(), want)).toBeLessThanOrEqual(1e-6);
    }
    const [outOfRange, lengthMismatch] = answers.slice(hs.length);
    expect(outOfRange!.status).toBe(400);
    expect(outOfRange!.body.error.code).toBe("id_out_of_range");
    expect(outOfRange!.body.error.message).toContain("context.hist_items: id");
    expect(lengthMismatch!.status).toBe(400);
    expect(lengthMismatch!.body.error.code).toBe("sequence_length_mismatch");
    expect(lengthMismatch!.body.error.message).toContain("context.hist_actions");
    expect(lengthMismatch!.body.error.message).toContain("context.hist_items");
  });

  test("a non-integer id or a [2, n] history in JSON is a 400 naming the field", async () => {
    const frac = await post(jsonBody({ items: [1, 2.5, 3], actions: [0, 1, 2] }));
    expect(frac.status).toBe(400);
    expect(frac.body.error.message).toContain("context.hist_items");
    const two = await post(JSON.stringify({ context: { hist_items: [[1, 2], [3, 4]], hist_actions: [[1, 2], [3, 4]] }, candidates: { item_id: [[1]] } }));
    expect(two.status).toBe(400);
    expect(two.body.error.code).toBe("bad_shape");
    expect(two.body.error.message).toContain("context.hist_items");
  });
});
