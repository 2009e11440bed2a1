// The general path of the importer against onnxruntime-node (fp32 within 1e-4
// relative): ops that run with their ONNX semantics on the general tensor
// kernels because no fusion applies — ids computed on, runtime conditions,
// rank-3 and rank-4 activations, attention-style matmuls of two activations,
// a batch that moves inside the shape, and a context history run once per
// request. Each graph is small and checks a real outcome.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { BOOL, F32, I64, OnnxGraph, ints } from "../../bench/onnx-graph";
import { importOnnx } from "../../runtime/onnx/importer";
import { Rng } from "../../runtime/tensor/random";
import { type Feed, matchesOrt, scratchDir } from "./oracle";
import { join } from "node:path";
import { loadModel, tensor } from "../../sdk";

afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

const rng = new Rng(77);
const f32 = (dims: number[], lo = -1, hi = 1): Feed => ({ dtype: "f32", dims, data: rng.floats(dims.reduce((a, b) => a * b, 1), lo, hi) });
const ids = (dims: number[], rows: number): Feed => ({ dtype: "i64", dims, data: BigInt64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => BigInt(rng.int(rows))) });
const w = (g: OnnxGraph, name: string, dims: number[], scale = 0.5) => g.floats(name, dims, rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale));

test("ids computed on (integer Add, Concat of id tensors, x[:, i] columns) feed embedding lookups", async () => {
  const g = new OnnxGraph();
  const a = g.input("a", I64, ["N", 3]);
  const b = g.input("b", I64, ["N", 2]);
  const table = w(g, "table", [40, 4]);
  const shifted = g.op("Add", [a, g.ints([0, 10, 20])]);
  const all = g.op("Concat", [shifted, b], { axis: 1 });
  const rows = g.op("Gather", [table, all]); // [N, 5, 4] unpooled
  const column = g.op("Gather", [all, g.ints([1], [])], { axis: 1 }); // x[:, 1] -> [N]
  const one = g.op("Gather", [table, column]); // [N, 4]
  const fm = g.op("ReduceSum", [g.op("Pow", [rows, g.scalar(2)]), g.ints([1])], { keepdims: 0 });
  g.output(g.op("Concat", [fm, one, g.op("Flatten", [rows], { axis: 1 })], { axis: 1 }), F32, ["N", 28]);
  const report = await matchesOrt("computed_ids", g.encode("computed_ids", 17), { a: ids([5, 3], 10), b: ids([5, 2], 40) });
  // The unpooled rows stay a lookup (Pow and Flatten read them); the one id per row of x[:, 1] is a gather.
  expect(report.join("\n")).toMatch(/fuse-lookup-pool: 1 lookups -> embedding_bag\(gather\)\n/);
});

test("a lookup read by another op before its ReduceSum/ReduceMean still becomes an embedding bag (a compiler pass over the general graph)", async () => {
  const g = new OnnxGraph();
  const x = g.input("ids", I64, ["N", 5]);
  const rows = g.op("Gather", [w(g, "table", [20, 4]), x]); // [N, 5, 4]
  const squares = g.op("ReduceSum", [g.op("Pow", [rows, g.scalar(2)]), g.ints([1])], { keepdims: 0 }); // read first
  const sum = g.op("ReduceSum", [rows, g.ints([1])], { keepdims: 0 });
  const mean = g.op("ReduceMean", [rows], { axes: ints([1]), keepdims: 1 }); // [N, 1, 4]
  g.output(g.op("Concat", [squares, sum, g.op("Flatten", [mean], { axis: 1 })], { axis: 1 }), F32, ["N", 12]);
  const report = (await matchesOrt("late_pool", g.encode("late_pool", 17), { ids: ids([4, 5], 20) })).join("\n");
  expect(report).toMatch(/fuse-lookup-pool: 2 lookups -> embedding_bag\(sum\); embedding_bag\(mean\)\n/);
  expect(report).toMatch(/fuse-embeddings: 2 bags fused/);
});

test("Equal/Not, Where with a runtime condition, Clip, Pow, ReduceL2 and Expand", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 3, 4]);
  const hist = g.input("hist", I64, ["N", 4]);
  const valid = g.op("Not", [g.op("Equal", [hist, g.ints([0], [])])]); // [N, 4] bool
  const masked = g.op("Where", [g.op("Unsqueeze", [valid, g.ints([1])]), x, g.scalar(-3)]); // [N, 3, 4]
  const clipped = g.op("Clip", [masked, g.scalar(-0.5), g.scalar(0.7)]);
  const cubed = g.op("Pow", [clipped, g.scalar(3)]);
  const norm = g.op("ReduceL2", [x], { axes: ints([2]), keepdims: 1 }); // [N, 3, 1]
  const spread = g.op("Expand", [norm, g.op("Shape", [x])]); // [N, 3, 4]
  const sum = g.op("Add", [cubed, spread]);
  g.output(g.op("Flatten", [sum], { axis: 1 }), F32, ["N", 12]);
  await matchesOrt("where_expand", g.encode("where_expand", 17), { x: f32([4, 3, 4]), hist: ids([4, 4], 3) });
});

test("attention by hand: a 4-D head transpose, Q·Kᵀ of two activations, Softmax and LayerNormalization over rank-3 values", async () => {
  const g = new OnnxGraph();
  const L = 5;
  const E = 8;
  const H = 2;
  const x = g.input("x", F32, ["N", L, E]);
  const heads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, g.ints([0, L, H, E / H])])], { perm: ints([0, 2, 1, 3]) }); // [N, H, L, d]
  const q = heads(g.op("MatMul", [x, w(g, "wq", [E, E])]));
  const k = heads(g.op("MatMul", [x, w(g, "wk", [E, E])]));
  const v = heads(g.op("MatMul", [x, w(g, "wv", [E, E])]));
  const scores = g.op("Div", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: ints([0, 1, 3, 2]) })]), g.scalar(2)]);
  const attn = g.op("Softmax", [scores], { axis: -1 });
  const ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [attn, v])], { perm: ints([0, 2, 1, 3]) }), g.ints([0, L, E])]);
  const normed = g.op("LayerNormalization", [g.op("Add", [ctx, x]), w(g, "gamma", [E]), w(g, "beta", [E])], { axis: -1 });
  g.output(g.op("ReduceMean", [normed], { axes: ints([1]), keepdims: 0 }), F32, ["N", E]);
  await matchesOrt("attention", g.encode("attention", 17), { x: f32([3, L, E]) });
});

test("a batch moved inside the shape ([L, N, E] and [N·H, L, d], as nn.MultiheadAttention exports) stays exact", async () => {
  const g = new OnnxGraph();
  const L = 4;
  const E = 6;
  const H = 2;
  const x = g.input("x", F32, ["N", L, E]);
  const n = g.op("Gather", [g.op("Shape", [x]), g.ints([0], [])], { axis: 0 });
  const seqFirst = g.op("Transpose", [x], { perm: ints([1, 0, 2]) }); // [L, N, E]
  const nh = g.op("Mul", [n, g.ints([H], [])]);
  const shape = g.op("Concat", [g.ints([L]), g.op("Unsqueeze", [nh, g.ints([0])]), g.ints([E / H])], { axis: 0 });
  const q = g.op("Transpose", [g.op("Reshape", [seqFirst, shape])], { perm: ints([1, 0, 2]) }); // [N·H, L, d]
  const scores = g.op("Softmax", [g.op("MatMul", [q, g.op("Transpose", [q], { perm: ints([0, 2, 1]) })])], { axis: -1 });
  const out = g.op("Transpose", [g.op("MatMul", [scores, q])], { perm: ints([1, 0, 2]) }); // [L, N·H, d]
  const flat = g.op("Reshape", [out, g.ints([-1, E])]); // [L·N, E]
  const proj = g.op("Gemm", [flat, w(g, "wo", [E, E]), w(g, "bo", [E])], { transB: 1 });
  const back = g.op("Transpose", [g.op("Reshape", [proj, g.ints([L, -1, E])])], { perm: ints([1, 0, 2]) }); // [N, L, E]
  g.output(g.op("Flatten", [back], { axis: 1 }), F32, ["N", L * E]);
  await matchesOrt("moved_batch", g.encode("moved_batch", 17), { x: f32([3, L, E]) });
});

test("a context history (ids [1, L] per request) is looked up and attended once per request, then broadcast to candidates", async () => {
  const g = new OnnxGraph();
  const L = 6;
  const D = 4;
  const hist = g.input("hist", I64, ["N", L]);
  const item = g.input("item", I64, ["N", 1]);
  const table = w(g, "items", [30, D]);
  const keys = g.op("Gather", [table, hist]); // [N, L, D]
  const query = g.op("Gather", [table, item]); // [N, 1, D]
  const mask = g.op("Unsqueeze", [g.op("Cast", [g.op("Not", [g.op("Equal", [hist, g.ints([0], [])])])], { to: F32 }), g.ints([1])]); // [N, 1, L]
  const scores = g.op("Add", [g.op("MatMul", [query, g.op("Transpose", [keys], { perm: ints([0, 2, 1]) })]), g.op("Mul", [g.op("Sub", [mask, g.scalar(1)]), g.scalar(1e4)])]);
  const pooled = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), keys]); // [N, 1, D]
  const both = g.op("Concat", [pooled, query], { axis: -1 });
  g.output(g.op("Sigmoid", [g.op("ReduceSum", [both, g.ints([1, 2])], { keepdims: 0 })]), F32, ["N"]);
  const one = ids([1, L], 30).data as BigInt64Array;
  one[0] = 0n; // a padded slot
  const feeds: Record<string, Feed> = { hist: { dtype: "i64", dims: [4, L], data: BigInt64Array.from({ length: 4 * L }, (_, i) => one[i % L]!) }, item: ids([4, 1], 30) };
  const report = await matchesOrt("context_history", g.encode("context_history", 17), feeds, ["hist"]);
  expect(report.join("\n")).toMatch(/insert-broadcast: [1-9]\d* context values broadcast/);
  // The history's lookup and its keys' transpose run once per request: they are context values.
  const model = importOnnx(g.encode("context_history_roles", 17), { context: ["hist"] });
  expect(model.graph.inputs.find((i) => i.name === "hist")!.role).toBe("context");
});

test("ops outside the supported set and ops on the batch axis fail at load, naming the ONNX node and op", () => {
  const one = (make: (g: OnnxGraph, x: string) => string) => {
    const g = new OnnxGraph();
    const x = g.input("X", F32, ["N", 3, 4]);
    g.output(make(g, x), F32, ["N", 3, 4]);
    return g.encode("one");
  };
  // Moving the batch inside the shape is fine; computing along it is not.
  expect(() => importOnnx(one((g, x) => g.op("Softmax", [g.op("Transpose", [x], { perm: ints([1, 0, 2]) })], { axis: 1 })))).toThrow("(Softmax): axis 1 holds the batch");
  expect(() => importOnnx(one((g, x) => g.op("Transpose", [x], { perm: ints([2, 1, 0]) })))).toThrow('has the batch inside axis 2 of its shape; rankfn outputs are [N, ...]');
  expect(() => importOnnx(one((g, x) => g.op("Tile", [x, g.ints([2, 1, 1])])))).toThrow("(Tile): repeats[0] = 2 repeats the batch");
  expect(() => importOnnx(one((g, x) => g.op("CumSum", [x, g.ints([0], [])])))).toThrow("(CumSum): axis 0 holds the batch");
  expect(() => importOnnx(one((g, x) => g.op("Where", [g.op("Cast", [x], { to: BOOL }), x, g.op("Einsum", [x])])))).toThrow(/\(Einsum\): unsupported operator \(supported: .*ScatterND.*\)/);
});

test("a bool graph input (a mask the caller sends) is staged and read like any other input, alone and batched", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 4]);
  const keep = g.input("keep", BOOL, ["N", 4]);
  const masked = g.op("Where", [keep, x, g.scalar(0)]);
  g.output(g.op("ReduceSum", [masked, g.ints([1])], { keepdims: 1 }), F32, ["N", 1]);
  const mask = { dtype: "bool" as const, dims: [6, 4], data: Uint8Array.from({ length: 24 }, () => (rng.int(2) ? 1 : 0)) };
  const dense = { dtype: "f32" as const, dims: [6, 4], data: rng.floats(24, -1, 1) };
  await matchesOrt("bool_input", g.encode("bool_input", 17), { x: dense, keep: mask });
  // Batched with another request (staged into the plan's slots), the same sums as computed here.
  using model = loadModel(join(scratchDir, "bool_input.onnx"));
  const want = Array.from({ length: 6 }, (_, r) => [0, 1, 2, 3].reduce((a, j) => a + (mask.data[r * 4 + j] ? dense.data[r * 4 + j]! : 0), 0));
  const req = (rows: number[]) => ({ rows: { x: tensor("f32", [rows.length, 4], Float32Array.from(rows.flatMap((r) => [...dense.data.subarray(r * 4, r * 4 + 4)]))), keep: tensor("bool", [rows.length, 4], Uint8Array.from(rows.flatMap((r) => [...mask.data.subarray(r * 4, r * 4 + 4)]))) } });
  const [a, b] = await model.rankMany([req([0, 1, 2]), req([3, 4, 5])]);
  const got = [...Object.values(a!.outputs)[0]!.data, ...Object.values(b!.outputs)[0]!.data];
  got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
  await expect(model.rank({ rows: { x: tensor("f32", [1, 4], new Float32Array(4)), keep: tensor("bool", [1, 4], Uint8Array.of(0, 2, 1, 0)) } })).rejects.toThrow("rows.keep: row 0 has 2 in a bool tensor (expected 0 or 1)");
});
