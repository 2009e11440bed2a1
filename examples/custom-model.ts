// A custom model with the builder API: a two-tower ranker (user tower runs once
// per request, item tower per candidate) with a dot-product-style head, saved
// as a model file and loaded back. `bun examples/custom-model.ts`
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder, loadModel, tensor, writeModel } from "../sdk";

const b = new GraphBuilder("two-tower", 42);
// Inputs: per-request user features, per-candidate item ids (up to 4, padded with -1) and price.
const userDense = b.input("user_dense", "f32", 8, "context");
const userId = b.input("user_id", "i64", 1, "context");
const itemIds = b.input("item_tags", "i64", 4, "candidate", { padding: -1 });
const price = b.input("price", "f32", 1, "candidate", { nonFinite: "zero" });

const user = b.mlp(b.concat([userDense, b.embeddingBag(userId, 10_000, 32, "sum", "user_emb")]), [64, 32], "relu", "relu", "user_tower");
const item = b.mlp(b.concat([b.embeddingBag(itemIds, 5_000, 32, "mean", "tag_emb"), price]), [64, 32], "relu", "relu", "item_tower");
const score = b.linear(b.node("mul", [user, item], 32), 1, "sigmoid", "head");
b.output("ctr", score);

const path = join(mkdtempSync(join(tmpdir(), "rankfn-")), "two-tower.safetensors");
writeModel(path, b.build());
using model = loadModel(path);
console.log(model.inspect().compiler.join("\n"));

const n = 3;
const { outputs } = await model.rank({
  context: { user_dense: tensor("f32", [1, 8], new Float32Array(8).fill(0.5)), user_id: tensor("i64", [1, 1], new BigInt64Array([1234n])) },
  candidates: {
    item_tags: tensor("i64", [n, 4], BigInt64Array.from([1n, 2n, -1n, -1n, 7n, -1n, -1n, -1n, 3n, 4n, 5n, 6n])),
    price: tensor("f32", [n, 1], new Float32Array([9.99, NaN, 4.5])), // NaN becomes 0 (nonFinite: "zero")
  },
});
console.log(`scores: ${Array.from(outputs.ctr!.data, (v) => v.toFixed(4)).join(", ")}`);
