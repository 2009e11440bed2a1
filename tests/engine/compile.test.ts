// The compiler: every pass preserves the model's outputs (compiled vs only
// lowered, through the real kernels), and each rewrite actually fires.
import { afterAll, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { headWeights } from "../../runtime/compiler/quantize";
import { zoo } from "../../sdk/zoo";
import { Executor } from "../../runtime/engine/executor";
import { GraphBuilder } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";

/** A model with something for every pass to do. */
function build() {
  const b = new GraphBuilder("passes", 11);
  const dense = b.input("dense", "f32", 5, "candidate");
  const user = b.input("user_ids", "i32", 2, "context");
  const itemA = b.input("item_a", "i64", 3, "candidate", { padding: -1 });
  const itemB = b.input("item_b", "i32", 1, "candidate");
  // linear -> batch norm -> relu (folding + activation fusion)
  const l1 = b.node("linear", [dense, b.randomWeight("l1.w", [8, 5], 0.5), b.randomWeight("l1.b", [8], 0.1)], 8, {}, "l1");
  const bn = b.node("batch_norm", [l1, b.weight("bn.g", tensor("f32", [8], new Rng(1).floats(8, 0.5, 1.5))), b.randomWeight("bn.b", [8], 0.1), b.randomWeight("bn.m", [8], 0.1), b.weight("bn.v", tensor("f32", [8], new Rng(2).floats(8, 0.5, 2)))], 8, { eps: 1e-3 }, "bn");
  const h1 = b.node("relu", [bn], 8);
  // matmul + bias add + (x - c) / c' (constant folding), then a residual add
  const mm = b.node("matmul", [h1, b.randomWeight("mm.w", [8, 8], 0.3)], 8, {}, "mm");
  const biased = b.node("add", [mm, b.randomWeight("mm.b", [8], 0.1)], 8);
  const shifted = b.node("div", [b.node("sub", [biased, b.randomWeight("c1", [8], 0.2)], 8), b.weight("c2", tensor("f32", [8], new Rng(3).floats(8, 1, 2)))], 8);
  const h2 = b.node("add", [b.node("linear", [shifted, b.randomWeight("l2.w", [8, 8], 0.3), b.randomWeight("l2.b", [8], 0.1)], 8, {}, "l2"), h1], 8);
  // embeddings: a context table and two candidate tables, into one concat
  const u = b.embeddingBag(user, 30, 4, "sum", "user_emb");
  const ea = b.embeddingBag(itemA, 40, 6, "mean", "item_a_emb");
  const eb = b.embeddingBag(itemB, 20, 6, "gather", "item_b_emb");
  const x = b.concat([h2, u, ea, eb]);
  const y = b.mlp(x, [16, 1], "relu", "sigmoid", "top");
  b.node("softmax", [y], 1); // dead
  b.output("ctr", y);
  return b.build();
}

const model = build();
const plain = new Executor(compile(model, { optimize: false }).model);
const compiled = compile(model);
const fast = new Executor(compiled.model);
afterAll(() => {
  plain.dispose();
  fast.dispose();
});

function batch(rng: Rng, perRequest: number[]) {
  const n = perRequest.reduce((a, b) => a + b, 0);
  const r = perRequest.length;
  return {
    n,
    r,
    requestOfRow: Int32Array.from(perRequest.flatMap((c, i) => Array(c).fill(i))),
    inputs: {
      dense: rng.floats(n * 5),
      user_ids: Int32Array.from({ length: r * 2 }, () => rng.int(30)),
      item_a: BigInt64Array.from({ length: n * 3 }, () => BigInt(rng.next() < 0.2 ? -1 : rng.int(40))),
      item_b: Int32Array.from({ length: n }, () => rng.int(20)),
    },
  };
}

test("every rewrite fires", () => {
  const ops = compiled.model.graph.nodes.map((n) => n.op);
  for (const gone of ["batch_norm", "relu", "matmul", "sub", "div", "softmax"]) expect(ops).not.toContain(gone);
  expect(ops.filter((o) => o === "embedding_bags")).toHaveLength(1); // the two candidate tables in one call
  expect(ops.filter((o) => o === "embedding_bag")).toHaveLength(1); // the context table runs once per request
  expect(Object.keys(compiled.model.graph.aliases ?? {}).length).toBeGreaterThanOrEqual(3);
  expect(compiled.summaries.map((s) => s.split(":")[0])).toEqual(["infer-shapes", "insert-broadcast", "fold-constants", "simplify-arithmetic", "fuse-gelu", "fuse-mixture", "fuse-interaction", "fuse-linear", "fuse-cross", "fuse-lookup-pool", "fuse-attention", "fuse-hstu-attention", "split-history", "dce", "fuse-embeddings", "quantize", "eliminate-concat"]);
  expect(compiled.summaries.find((s) => s.startsWith("fuse-linear"))).toMatch(/batch-norm.*activation|activation.*batch-norm/);
});

test("the compiled model computes what the lowered model computes", () => {
  const rng = new Rng(8);
  for (const sizes of [[4, 9], [1], [64, 3, 30]]) {
    const b = batch(rng, sizes);
    const want = Float32Array.from(plain.run(b).ctr!.data.subarray(0, b.n));
    const got = fast.run(b).ctr!;
    for (let i = 0; i < b.n; i++) expect(Math.abs(got.data[i * got.ld]! - want[i]!)).toBeLessThan(1e-5);
  }
});

test("quantization keeps the output head's last layers in fp32", () => {
  const dlrm = zoo.dlrm.build({ scale: 0.00001 });
  expect([...headWeights(dlrm.graph, 3)].sort()).toEqual(["top.2.weight", "top.3.weight", "top.4.weight"]);
  const q = compile(dlrm, { precision: "int8" }).model.graph.weights;
  expect(q["top.4.weight"]!.dtype).toBe("f32");
  expect(q["top.1.weight"]!.dtype).toBe("i8");
  expect(q["cross_0.V"]!.dtype).toBe("i8");
  expect(compile(dlrm, { precision: "int8", headLayers: 0 }).model.graph.weights["top.4.weight"]!.dtype).toBe("i8");
});

test("quantized variants stay close to fp32", () => {
  const b = batch(new Rng(21), [50]);
  const want = Float32Array.from(plain.run(b).ctr!.data.subarray(0, b.n));
  for (const [precision, tables, tol] of [["bf16", "f16", 2e-2], ["int8", "u8q", 3e-2]] as const) {
    const q = compile(model, { precision, tables });
    const exec = new Executor(q.model);
    const got = exec.run(b).ctr!;
    let worst = 0;
    for (let i = 0; i < b.n; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want[i]!));
    expect(worst).toBeLessThan(tol);
    expect(worst).toBeGreaterThan(0); // it really ran quantized
    exec.dispose();
  }
});
