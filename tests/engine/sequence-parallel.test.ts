// Sequence parallelism (issue 16) through the real kernels on CPU core groups:
// the zoo HSTU model with `sequenceParallel` on 2 and 3 devices (uneven shards,
// empty shards and query blocks for short histories with minLength lowered,
// position and time bias, a batch mixing a long and a short history) scores as
// the single-device model within 1e-5 (relative to max(|want|, 1)) and really
// ran split (its counters), also for a returning user's new events over K/V from the KV cache; softmax and HSTU attention split into kv shards
// over 2 and 3 devices equal the unsplit kernel; a device made to fail fails
// only that batch; bad options are 400s before any device opens.
import { afterAll, describe, expect, test } from "bun:test";
import { type Device, DeviceError, openDevices } from "../../runtime/devices";
import { Model } from "../../runtime/engine/model";
import type { RankingRequest } from "../../runtime/engine/request";
import { RankfnError } from "../../runtime/errors";
import * as k from "../../runtime/ffi";
import { ShardedAttention } from "../../runtime/sequence-parallel/sharded-attention";
import { causalWork, contiguousSpans, zigzagBlocks } from "../../runtime/sequence-parallel/sharding";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";
import { zoo } from "../../sdk/zoo";
import { hstuOptions } from "../../sdk/zoo/hstu";

const L = 64;
const opened: { dispose(): void }[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));
const keep = <T extends { dispose(): void }>(m: T): T => (opened.push(m), m);

/** max |got - want| / max(max |want|, 1). */
function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let err = 0, scale = 1;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return err / scale;
}

/** Item ids must fall in the zoo model's item table (its row count for itemRows 100,000). */
const itemTable = hstuOptions({ itemRows: 100_000 }).itemTableRows;

function request(n: number, seed: number, rab: "position" | "time"): RankingRequest {
  const rng = new Rng(seed);
  const items = Array.from({ length: n }, () => rng.int(itemTable));
  const times: number[] = [];
  let t = 1_000_000;
  for (let i = 0; i < n; i++) times.push((t += 1 + rng.int(5000)));
  const seq = (xs: number[]) => tensor("i64", [n], BigInt64Array.from(xs, BigInt));
  const cands = [5, 17, 333, 1999, 42, 7].map((c) => c % itemTable);
  return {
    context: {
      hist_items: seq(items),
      hist_actions: seq(items.map((x) => x % 6)),
      ...(rab === "time" ? { hist_ts: seq(times), request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt(t + 100))) } : {}),
    },
    candidates: { item_id: tensor("i64", [cands.length, 1], BigInt64Array.from(cands, BigInt)) },
  };
}

describe.each(["position", "time"] as const)("zoo hstu with rab %s", (rab) => {
  const options = { historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 24, itemRows: 100_000, actions: 6, rab };
  expect(hstuOptions(options).historyLength).toBe(L);
  const built = zoo.hstu.build(options);
  const single = keep(new Model(built));

  test.each([["cpu:2x1", 2], ["cpu:3x1", 3]] as const)("on %s, histories of 64, 41, 5, 2, 1 and 0 events score as on one device (1e-5)", (spec, devices) => {
    const parallel = keep(new Model(built, { sequenceParallel: { devices: spec, minLength: 1 } }));
    for (const [n, seed] of [[64, 1], [41, 2], [5, 3], [2, 4], [1, 5], [0, 6]] as const) {
      const req = request(n, seed + (rab === "time" ? 10 : 0), rab);
      const want = single.rankSync(req).outputs.ctr!.data;
      expect(relError(parallel.rankSync(req).outputs.ctr!.data, want)).toBeLessThan(1e-5);
    }
    const stats = parallel.stats().sequenceParallel!;
    expect(stats.devices.length).toBe(devices);
    // Layer 0 of the 5 non-empty histories ran split (the last layer's history tokens feed nothing:
    // it computes only its K/V), and both layers' candidate attention.
    expect(stats.historyLayers).toBe(5);
    expect(stats.candidateRuns).toBe(10);
    expect(stats.devices.every((d) => d.busyMs > 0)).toBe(true);
  });

  test("a batch of a long and a short history: only the long one runs split, both score as alone", async () => {
    const parallel = keep(new Model(built, { sequenceParallel: { devices: "cpu:2x1", minLength: 40 } }));
    const reqs = [request(60, 21, rab), request(12, 22, rab)];
    const got = await parallel.rankMany(reqs);
    for (let i = 0; i < reqs.length; i++) expect(relError(got[i]!.outputs.ctr!.data, single.rankSync(reqs[i]!).outputs.ctr!.data)).toBeLessThan(1e-5);
    expect(parallel.stats().sequenceParallel!.historyLayers).toBe(1); // layer 0 of the long one
  });
});

test("with the KV cache, a returning user's new events run split over the cached prefix and score as one device", () => {
  const built = zoo.hstu.build({ historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, itemRows: 100_000 });
  const single = keep(new Model(built));
  const parallel = keep(new Model(built, { kvCache: { mb: 16 }, sequenceParallel: { devices: "cpu:3x1", minLength: 8 } }));
  // The same seed: the 45-event history extends the 30-event one (ids first, actions derived from them).
  for (const n of [30, 45]) {
    const req = request(n, 51, "position");
    expect(relError(parallel.rankSync({ ...req, user: "u1" }).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  }
  expect(parallel.stats().kvCache!.tokensReused).toBeGreaterThanOrEqual(30);
  expect(parallel.stats().sequenceParallel!.historyLayers).toBe(2); // layer 0 of both visits
});

test("on a worker (devices opened there from the spec) it scores as one device", async () => {
  const built = zoo.hstu.build({ historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 1, itemRows: 100_000 });
  const single = keep(new Model(built));
  const worker = keep(new Model(built, { worker: true, sequenceParallel: { devices: "cpu:2x1", minLength: 8 } }));
  const req = request(33, 61, "position");
  expect(relError((await worker.rank(req)).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  const opened = openDevices("cpu:1x1");
  expect(() => new Model(built, { worker: true, sequenceParallel: { devices: opened } })).toThrow('pass sequenceParallel.devices as a spec ("cpu:2")');
  opened.forEach((d) => d.dispose());
});

test("a device made to fail fails only that batch; the next one scores as before", () => {
  const built = zoo.hstu.build({ historyLength: L, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 1, itemRows: 100_000 });
  const single = keep(new Model(built));
  const devices: Device[] = openDevices("cpu:2x1");
  const parallel = new Model(built, { sequenceParallel: { devices, minLength: 8 } });
  const req = request(50, 31, "position");
  devices[1]!.failNextBatch();
  let err: unknown;
  try {
    parallel.rankSync(req);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DeviceError);
  expect((err as DeviceError).message).toContain("device cpu:1 failed the batch: command 0 (fail): injected fault");
  expect((err as DeviceError).status).toBe(503);
  expect(relError(parallel.rankSync(req).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  parallel.dispose(); // devices passed in stay open: the caller owns them
  expect(devices[0]!.stats().commands).toBeGreaterThan(0);
  devices.forEach((d) => d.dispose());
});

test("bad sequenceParallel options are 400s naming the field", () => {
  const built = zoo.hstu.build({ historyLength: 16, embeddingDim: 16, heads: 1, qkDim: 8, vDim: 8, layers: 1, itemRows: 1000 });
  for (const [opt, field] of [[{ devices: "cpu:2", minLength: 0 }, "sequenceParallel.minLength"], [{ devices: [] as Device[] }, "sequenceParallel.devices"]] as const) {
    let err: unknown;
    try {
      new Model(built, { sequenceParallel: opt });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as Error).message).toContain(field);
  }
});

describe("attention split into kv shards over devices equals the unsplit kernel", () => {
  const rng = new Rng(77);
  const heads = 2, d = 16, dv = 24, nq = 7;
  test.each([
    ["softmax", "cpu:2x1", 301], ["softmax", "cpu:3x1", 301], ["softmax", "cpu:3x1", 2], ["softmax", "cpu:2x1", 0],
    ["hstu", "cpu:2x1", 301], ["hstu", "cpu:3x1", 2], ["hstu", "cpu:3x1", 1],
  ] as const)("%s on %s, kv length %i (uneven and empty shards)", (kind, spec, nk) => {
    const devices = openDevices(spec);
    try {
      const q = rng.floats(nq * heads * d), kk = rng.floats(Math.max(nk, 1) * heads * d), v = rng.floats(Math.max(nk, 1) * heads * dv);
      const table = rng.floats(heads * 9, -0.5, 0.5);
      const qPos = BigInt64Array.from({ length: nq }, () => BigInt(2000 + rng.int(50)));
      const kvPos = BigInt64Array.from({ length: Math.max(nk, 1) }, (_, j) => BigInt(j * 3));
      const out = new Float32Array(nq * heads * dv);
      new ShardedAttention(devices).run({ kind, heads, d, dv, q, k: kk, v, nq, nk, scale: 0.25, normLen: nk + 3, rab: { table, buckets: 9, qPos, kvPos }, out });
      const args: k.SeqAttentionArgs = {
        q: tensor("f32", [nq, heads * d], q), k: tensor("f32", [nk, heads * d], kk.subarray(0, nk * heads * d)), v: tensor("f32", [nk, heads * dv], v.subarray(0, nk * heads * dv)),
        heads, qOffsets: tensor("i64", [2], BigInt64Array.of(0n, BigInt(nq))), kvOffsets: tensor("i64", [2], BigInt64Array.of(0n, BigInt(nk))), mask: "none", scale: 0.25,
        rab: { table: tensor("f32", [heads, 9], table), qPos: tensor("i64", [nq], qPos), kvPos: tensor("i64", [nk], kvPos.subarray(0, nk)) },
      };
      const want = kind === "softmax" ? k.seqAttention(args).data : k.hstuAttention({ ...args, normLen: nk + 3 }).data;
      expect(relError(out, want)).toBeLessThan(1e-5);
      if (nk > 0) expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(0); // a real comparison, not zeros against zeros
    } finally {
      devices.forEach((dev) => dev.dispose());
    }
  });
});

test("the splits: contiguous shards cover the range, zig-zag blocks balance the causal triangle", () => {
  expect(contiguousSpans(5, 3)).toEqual([{ start: 0, end: 1 }, { start: 1, end: 3 }, { start: 3, end: 5 }]);
  expect(contiguousSpans(1, 3).filter((s) => s.end === s.start).length).toBe(2);
  const blocks = zigzagBlocks(8192, 2);
  expect(blocks[0]).toEqual([{ start: 0, end: 2048 }, { start: 6144, end: 8192 }]);
  const work = blocks.map(causalWork);
  expect(Math.max(...work) / Math.min(...work)).toBeLessThan(1.001);
  expect(work.reduce((a, b) => a + b, 0)).toBe((8192 * 8193) / 2);
  expect(zigzagBlocks(2, 3).flat().reduce((a, s) => a + s.end - s.start, 0)).toBe(2);
});
