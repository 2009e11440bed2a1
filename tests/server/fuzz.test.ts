// Malformed rank requests get a 4xx and the server stays healthy: a valid
// msgpack body with bytes flipped, cut short, or fields replaced (shapes,
// dtypes — BigInt ones included —, data lengths, ragged arrays, deadlines)
// never produces a 5xx, and a valid request still scores afterwards.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../runtime/server/app";
import { MSGPACK, encodeTensor, packr } from "../../runtime/server/wire";
import { Rng } from "../../runtime/tensor/random";
import { writeModel, zoo } from "../../sdk";
import { sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-wire-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("500 mutated msgpack rank requests: each a 200 or a 4xx with an error body, never a 5xx", async () => {
  const built = zoo.dcnv2.build({ seed: 2 });
  writeModel(join(dir, "m.safetensors"), built);
  const { app, ready, close } = createApp({ models: { m: "m.safetensors" }, modelRoot: dir, coalescing: { policy: "off" } });
  await ready;
  const [req] = sampleRequests(built, { count: 1, candidates: 3 });
  const wire = (group: Record<string, Parameters<typeof encodeTensor>[0]>) => Object.fromEntries(Object.entries(group).map(([k, v]) => [k, encodeTensor(v)]));
  const good = { context: wire(req!.context ?? {}), candidates: wire(req!.candidates) };
  const goodBytes = packr.pack(good);
  const post = (body: Uint8Array<ArrayBufferLike>) => app.fetch(new Request("http://rankfn/v1/models/m/rank", { method: "POST", headers: { "Content-Type": MSGPACK }, body }));
  const rng = new Rng(5);
  const statuses = new Map<number, number>();
  for (let t = 0; t < 500; t++) {
    let body: Uint8Array = new Uint8Array(goodBytes);
    const kind = rng.int(3);
    if (kind === 0) for (let k = 0; k < 1 + rng.int(4); k++) body[rng.int(body.length)] = rng.int(256);
    else if (kind === 1) body = body.subarray(0, rng.int(body.length));
    else {
      const o = structuredClone(good) as Record<string, any>;
      const g = o[rng.int(2) ? "context" : "candidates"];
      const keys = Object.keys(g);
      const key = keys[rng.int(keys.length)]!;
      const bad = [
        () => (g[key].shape = [rng.int(5) - 1, 1e9]),
        () => (g[key].dtype = ["f32", "i64", "i32", "u8", "f16", "x", 7n][rng.int(7)]),
        () => (g[key].data = new Uint8Array(rng.int(40))),
        () => (g[key] = [[1, 2], [3]]),
        () => (o.deadline_ms = [-1, 0, "x", 1e12, 5n][rng.int(5)]),
      ];
      bad[rng.int(bad.length)]!();
      body = new Uint8Array(packr.pack(o));
    }
    const res = await post(body);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status !== 200) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const err = (await res.json()) as { error: { code: string; message: string } };
      expect(err.error.message.length).toBeGreaterThan(0);
    } else await res.arrayBuffer();
  }
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  expect((await post(goodBytes)).status).toBe(200);
  await close();
});
