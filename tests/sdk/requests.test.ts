// Bad requests to the in-process SDK: each gets a typed error (status 400,
// a code, the field named) or its documented behaviour — and the model keeps
// scoring correctly afterwards.
import { afterAll, describe, expect, test } from "bun:test";
import { RankfnError } from "../../runtime/errors";
import { GraphBuilder, loadModel, RequestError, tensor } from "../../sdk";

function build(policy: "error" | "modulo") {
  const b = new GraphBuilder("policies", 5);
  const user = b.input("user", "f32", 3, "context");
  const price = b.input("price", "f32", 1, "candidate", { nonFinite: "zero" });
  const item = b.input("item", "i64", 2, "candidate", { padding: -1 });
  const emb = b.node("embedding_bag", [item, b.randomWeight("item.table", [10, 4], 0.5)], 4, { mode: "sum", idPolicy: policy }, "item_emb");
  b.output("ctr", b.linear(b.concat([user, price, emb]), 1, "sigmoid", "head"));
  return b.build();
}

const strict = loadModel(build("error"));
const hashing = loadModel(build("modulo"));
afterAll(() => {
  strict.dispose();
  hashing.dispose();
});

const user = () => tensor("f32", [1, 3], new Float32Array([0.1, 0.2, 0.3]));
const price = (n: number) => tensor("f32", [n, 1], Float32Array.from({ length: n }, (_, i) => i));
const item = (...ids: bigint[]) => tensor("i64", [ids.length / 2, 2], BigInt64Array.from(ids));
const good = () => ({ context: { user: user() }, candidates: { price: price(2), item: item(1n, 2n, 3n, -1n) } });

async function rejects(p: Promise<unknown>, code: string, message: string) {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as RankfnError).code).toBe(code);
    expect((err as Error).message).toContain(message);
    return;
  }
  throw new Error(`expected a ${code} error`);
}

describe("every malformed field is named", () => {
  test("unknown, missing and misplaced features", async () => {
    await rejects(strict.rank({ ...good(), candidates: { ...good().candidates, colour: price(2) } }), "unknown_feature", "candidates.colour: unknown feature (the model's inputs are user, price, item)");
    await rejects(strict.rank({ context: { user: user() }, candidates: { price: price(2) } }), "missing_feature", "candidates.item: missing feature");
    await rejects(strict.rank({ context: {}, candidates: { ...good().candidates, user: user() } }), "missing_feature", 'context.user: missing (it is a context feature: put it in "context")');
  });
  test("shapes, row counts, dtypes and tensors", async () => {
    await rejects(strict.rank({ ...good(), candidates: { price: price(2), item: tensor("i64", [2, 3], new BigInt64Array(6)) } }), "bad_shape", "candidates.item: expected shape [rows, 2], got [2, 3]");
    await rejects(strict.rank({ ...good(), candidates: { price: price(3), item: item(1n, 2n, 3n, 4n) } }), "row_mismatch", "candidates.item: has 2 rows, other features have 3");
    await rejects(strict.rank({ ...good(), context: { user: tensor("f32", [2, 3], new Float32Array(6)) } }), "bad_shape", "context.user: context features have exactly 1 row, got 2");
    await rejects(strict.rank({ ...good(), candidates: { price: tensor("i32", [2, 1], new Int32Array(2)), item: item(1n, 2n, 3n, 4n) } }), "bad_dtype", "candidates.price: expected dtype f32, got i32");
    await rejects(strict.rank({ ...good(), candidates: { price: { dtype: "f32", shape: [2, 1], data: new Float32Array(1) }, item: item(1n, 2n, 3n, 4n) } }), "bad_tensor", "candidates.price: shape [2, 1] (f32) needs 2 elements, data has 1");
  });
  test("an empty candidate list is rejected", async () => {
    await rejects(strict.rank({ context: { user: user() }, candidates: { price: price(0), item: tensor("i64", [0, 2], new BigInt64Array(0)) } }), "empty_request", "candidates: empty — nothing to score");
  });
  test("NaN/Inf: rejected where the input says so, zeroed where it declares nonFinite: zero", async () => {
    await rejects(strict.rank({ ...good(), context: { user: tensor("f32", [1, 3], new Float32Array([0, NaN, 0])) } }), "non_finite", "context.user: row 0 has a non-finite value (NaN)");
    const zeroed = await strict.rank({ ...good(), candidates: { price: tensor("f32", [2, 1], new Float32Array([Infinity, 1])), item: item(1n, 2n, 3n, -1n) } });
    const clean = await strict.rank({ ...good(), candidates: { price: tensor("f32", [2, 1], new Float32Array([0, 1])), item: item(1n, 2n, 3n, -1n) } });
    expect(Array.from(zeroed.outputs.ctr!.data)).toEqual(Array.from(clean.outputs.ctr!.data));
  });
});

describe("ids outside a table follow the model's declared policy", () => {
  test('"error": a 400 naming the input and the id', async () => {
    await rejects(strict.rank({ ...good(), candidates: { price: price(2), item: item(1n, 10n, 3n, -1n) } }), "id_out_of_range", 'candidates.item: id 10 at row 0, position 1 is outside table "item.table" (10 rows)');
  });
  test('"modulo": folded into the table (id 13 scores as id 3, -7 as 3)', async () => {
    const folded = await hashing.rank({ ...good(), candidates: { price: price(2), item: item(13n, -7n, 3n, -1n) } });
    const plain = await hashing.rank({ ...good(), candidates: { price: price(2), item: item(3n, 3n, 3n, -1n) } });
    expect(Array.from(folded.outputs.ctr!.data)).toEqual(Array.from(plain.outputs.ctr!.data));
  });
  test("padding ids are skipped (a bag of only padding pools to zeros)", async () => {
    const padded = await strict.rank({ ...good(), candidates: { price: price(2), item: item(-1n, -1n, 3n, -1n) } });
    expect(padded.outputs.ctr!.data.every(Number.isFinite)).toBe(true);
  });
});

test("after every rejected request the model still scores correctly", async () => {
  const a = await strict.rank(good());
  for (const bad of [{ context: {}, candidates: {} }, { rows: {} }, null]) {
    await expect(strict.rank(bad as never)).rejects.toBeInstanceOf(RequestError);
  }
  const b = await strict.rank(good());
  expect(Array.from(b.outputs.ctr!.data)).toEqual(Array.from(a.outputs.ctr!.data));
});
