// The executor runs graphs through the real kernels: a small two-tower model
// against a hand-written float64 forward pass, context broadcast against flat
// rows, padding ids, bad ids, and buffer reuse across batches of many sizes.
import { afterAll, expect, test } from "bun:test";
import { RankfnError } from "../../runtime/errors";
import { Executor } from "../../runtime/engine/executor";
import { GraphBuilder } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";

function build() {
  const b = new GraphBuilder("two-tower", 3);
  const user = b.input("user_dense", "f32", 4, "context");
  const item = b.input("item_ids", "i64", 3, "candidate", { padding: -1 });
  const u = b.mlp(user, [8, 6], "relu", "relu", "user");
  const e = b.embeddingBag(item, 50, 6, "mean", "item_emb");
  const y = b.linear(b.concat([u, e]), 1, "sigmoid", "head");
  b.output("ctr", y);
  return b.build();
}

const model = build();
const exec = new Executor(model);
afterAll(() => exec.dispose());

const W = (name: string) => model.weights.get(name)!.data as Float32Array;
function linear(x: number[], w: Float32Array, bias: Float32Array, n: number): number[] {
  const k = x.length;
  return Array.from({ length: n }, (_, j) => x.reduce((acc, xv, l) => acc + xv * w[j * k + l]!, bias[j]!));
}
const relu = (v: number[]) => v.map((x) => Math.max(0, x));

/** Float64 forward pass of one candidate. */
function reference(user: number[], ids: number[]): number {
  const u = relu(linear(relu(linear(user, W("user.0.weight"), W("user.0.bias"), 8)), W("user.1.weight"), W("user.1.bias"), 6));
  const valid = ids.filter((id) => id !== -1);
  const table = W("item_emb.table");
  const e = Array.from({ length: 6 }, (_, c) => (valid.length ? valid.reduce((a, id) => a + table[id * 6 + c]!, 0) / valid.length : 0));
  const z = linear([...u, ...e], W("head.weight"), W("head.bias"), 1)[0]!;
  return 1 / (1 + Math.exp(-z));
}

function batch(rng: Rng, perRequest: number[]) {
  const n = perRequest.reduce((a, b) => a + b, 0);
  const r = perRequest.length;
  const users = Array.from({ length: r }, () => Array.from({ length: 4 }, () => rng.uniform()));
  const ids = Array.from({ length: n }, () => Array.from({ length: 3 }, () => (rng.next() < 0.3 ? -1 : rng.int(50))));
  const requestOfRow = Int32Array.from(perRequest.flatMap((c, i) => Array(c).fill(i)));
  return {
    n,
    r,
    users,
    ids,
    requestOfRow,
    inputs: { user_dense: Float32Array.from(users.flat()), item_ids: BigInt64Array.from(ids.flat(), BigInt) },
  };
}

test("a two-tower model matches the float64 reference, context run once per request", () => {
  const rng = new Rng(9);
  for (const sizes of [[3, 2], [1], [40, 1, 7], [300]]) {
    const b = batch(rng, sizes);
    const out = exec.run(b).ctr!;
    expect(out.rows).toBe(b.n);
    for (let i = 0; i < b.n; i++) {
      const want = reference(b.users[b.requestOfRow[i]!]!, b.ids[i]!);
      expect(Math.abs(out.data[i * out.ld]! - want)).toBeLessThan(1e-5);
    }
  }
});

test("scoring rows flat (each its own request) equals the context-broadcast batch", () => {
  const b = batch(new Rng(4), [5, 6]);
  const ctx = Float32Array.from(exec.run(b).ctr!.data.subarray(0, b.n));
  const flatUsers = Float32Array.from(Array.from(b.requestOfRow).flatMap((req) => b.users[req]!));
  const flat = exec.run({ n: b.n, r: b.n, requestOfRow: Int32Array.from({ length: b.n }, (_, i) => i), inputs: { user_dense: flatUsers, item_ids: b.inputs.item_ids } });
  for (let i = 0; i < b.n; i++) expect(Math.abs(flat.ctr!.data[i]! - ctx[i]!)).toBeLessThan(1e-6);
});

test("an id outside the table is a 400 naming the input", () => {
  const b = batch(new Rng(1), [2]);
  b.inputs.item_ids[4] = 50n;
  try {
    exec.run(b);
    throw new Error("expected an error");
  } catch (err) {
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as Error).message).toMatch(/^input "item_ids": .*50/);
  }
  // The executor keeps working after a rejected batch.
  const ok = batch(new Rng(2), [2]);
  expect(Number.isFinite(exec.run(ok).ctr!.data[0]!)).toBe(true);
});

test("buckets share one arena: plans rebuilt on a larger one score exactly as before", () => {
  const shared = new Executor(model);
  const rng = new Rng(8);
  const batches = [3, 40, 9, 200, 17].map((n) => batch(rng, [n]));
  const first = batches.map((b) => Float32Array.from(shared.run(b).ctr!.data.subarray(0, b.n)));
  // The 200-row bucket grew the arena after the smaller plans were built on the old one.
  const again = batches.map((b) => Float32Array.from(shared.run(b).ctr!.data.subarray(0, b.n)));
  expect(again).toEqual(first);
  const alone = batches.map((b) => {
    const own = new Executor(model);
    const out = Float32Array.from(own.run(b).ctr!.data.subarray(0, b.n));
    own.dispose();
    return out;
  });
  expect(first).toEqual(alone);
  shared.dispose();
});

test("plans are built once per size bucket and reuse their arena", () => {
  const fresh = new Executor(model);
  const rng = new Rng(5);
  for (const n of [1, 3, 16, 17, 100, 64]) fresh.run(batch(rng, [n]));
  const buckets = fresh.memory().map((m) => m.capacity).sort((a, b) => a - b);
  expect(buckets).toEqual([16, 32, 64, 128]);
  for (const m of fresh.memory()) expect(m.arenaBytes).toBeLessThan(m.naiveBytes);
  // One arena serves every bucket: the largest plan's, not the sum of all of them.
  expect(fresh.arenaBytes).toBe(Math.max(...fresh.memory().map((m) => m.arenaBytes)));
  fresh.dispose();
  expect(() => fresh.plan(1)).toThrow("model used after dispose()");
});
