// ONNX graphs written the way PyTorch exports ranking models — EmbeddingBag
// Loops, x.view() shape arithmetic, bmm + advanced-indexing interaction, erf
// GELU, stacked experts — checked against onnxruntime-node (fp32 within 1e-4
// relative) and for the fused rankfn ops they must become.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { BOOL, F32, I64, OnnxGraph, ints } from "../../bench/onnx-graph";
import { compile } from "../../runtime/compiler/compile";
import { importOnnx } from "../../runtime/onnx/importer";
import { Rng } from "../../runtime/tensor/random";
import { type Feed, matchesOrt, scratchDir } from "./oracle";

afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

const rng = new Rng(41);
const f32 = (dims: number[], lo = -1, hi = 1): Feed => ({ dtype: "f32", dims, data: rng.floats(dims.reduce((a, b) => a * b, 1), lo, hi) });
const ids = (dims: number[], rows: number): Feed => ({ dtype: "i64", dims, data: BigInt64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => BigInt(rng.int(rows))) });
/** Ids whose rows all equal row 0 (a context input sent once to rankfn). */
const sameIds = (dims: number[], rows: number): Feed => {
  const one = ids([1, ...dims.slice(1)], rows).data as BigInt64Array;
  return { dtype: "i64", dims, data: BigInt64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => one[i % one.length]!) };
};
const w = (g: OnnxGraph, name: string, dims: number[], scale = 0.4) => g.floats(name, dims, rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale));

test("a PyTorch-style DLRM (EmbeddingBag Loops, view, bmm + advanced indexing, erf GELU) matches onnxruntime-node", async () => {
  const g = new OnnxGraph();
  const d = 8;
  const dense = g.input("dense", F32, ["N", 4]);
  const cats = [g.input("cat_0", I64, ["N", 3]), g.input("cat_1", I64, ["N", 2]), g.input("cat_2", I64, ["N", 1])];
  const rows = [50, 20, 30];
  const tables = rows.map((r, i) => w(g, `emb_${i}`, [r, d], 0.5));
  const x = g.linear(dense, w(g, "bot.w", [d, 4]), w(g, "bot.b", [d]), "Relu");
  const e0 = g.embeddingBagLoop(tables[0]!, cats[0]!, "sum");
  const e1 = g.embeddingBagLoop(tables[1]!, cats[1]!, "mean");
  const e2 = g.op("Flatten", [g.op("Gather", [tables[2]!, cats[2]!])], { axis: 1 });
  const t = g.viewRows(g.op("Concat", [x, e0, e1, e2], { axis: 1 }), d);
  const z = g.interaction(t, 4, false);
  const r = g.op("Concat", [x, z], { axis: 1 });
  const h = g.erfGelu(g.linear(r, w(g, "top0.w", [16, d + 6]), w(g, "top0.b", [16])));
  g.output(g.linear(h, w(g, "top1.w", [1, 16]), w(g, "top1.b", [1]), "Sigmoid"));
  const bytes = g.encode("pt_dlrm", 17, { "rankfn.context": "cat_0" });
  const report = await matchesOrt("pt_dlrm", bytes, { dense: f32([5, 4], 0, 1), cat_0: sameIds([5, 3], 50), cat_1: ids([5, 2], 20), cat_2: ids([5, 1], 30) }, ["cat_0"]);
  const fused = report.join("\n");
  expect(fused).toContain("fuse-lookup-pool: 3 lookups -> embedding_bag(sum); embedding_bag(mean); embedding_bag(gather)");
  expect(fused).toContain("fuse-interaction: 1 bmm(T, Tᵀ) + triangle gathers -> dot_interaction(f=4, d=8)\n");
  expect(fused).toContain("fuse-gelu: 1 x·0.5·(1 + erf(x/√2)) -> gelu");
  // The context input is mapped by the model's metadata, the Loop's trip/offset shape arithmetic left no node
  // behind, and the compiled graph is the fused ops (its bags batched into one call) and nothing else.
  const model = importOnnx(bytes);
  expect(model.graph.inputs.find((i) => i.name === "cat_0")!.role).toBe("context");
  expect(compile(model).model.graph.nodes.map((n) => n.op).sort()).toEqual(
    // cat_0 is per request: its bag runs once and is broadcast to the candidates.
    ["embedding_bag", "broadcast", "embedding_bags", "concat", "dot_interaction", "concat", "linear", "linear", "gelu", "linear"].sort(),
  );
});

test("the per-row form of the interaction (Z reshaped to [N, F·F], Gather over axis 1) with self interaction", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 12]);
  const t = g.viewRows(x, 4);
  const z = g.op("MatMul", [t, g.op("Transpose", [t], { perm: ints([0, 2, 1]) })]);
  const pairs: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j <= i; j++) pairs.push(i * 3 + j);
  g.output(g.op("Gather", [g.op("Reshape", [z, g.ints([0, -1])]), g.ints(pairs)], { axis: 1 }), F32, ["N", 6]);
  const report = await matchesOrt("self_interaction", g.encode("self_interaction"), { x: f32([4, 12]) });
  expect(report.join("\n")).toContain("dot_interaction(f=3, d=4, self)");
});

test("near misses of the fused patterns stay general ops and still match onnxruntime-node", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 12]);
  const t = g.viewRows(x, 4);
  const z = g.op("MatMul", [t, g.op("Transpose", [t], { perm: ints([0, 2, 1]) })]);
  // Half of the triangle's pairs, one of them twice: not what dot_interaction computes.
  const partial = g.op("Gather", [g.op("Reshape", [z, g.ints([0, -1])]), g.ints([3, 6, 3])], { axis: 1 });
  // 0.6 where GELU has 0.5: not a GELU.
  const e = g.op("Erf", [g.op("Div", [x, g.scalar(Math.SQRT2)])]);
  const notGelu = g.op("Mul", [g.op("Mul", [x, g.op("Add", [e, g.scalar(1)])]), g.scalar(0.6)]);
  g.output(g.op("Concat", [partial, notGelu], { axis: 1 }), F32, ["N", 15]);
  const report = (await matchesOrt("near_misses", g.encode("near_misses", 17), { x: f32([4, 12]) })).join("\n");
  expect(report).toContain("fuse-interaction: 0 ");
  expect(report).toContain("fuse-gelu: 0 ");
});

test("a DCN-v2 (full-rank cross formulas next to a deep tower) matches onnxruntime-node and fuses into cross ops", async () => {
  const g = new OnnxGraph();
  const dense = g.input("dense", F32, ["N", 6]);
  const cat = g.input("cat", I64, ["N", 3]);
  const bag = g.op("ReduceSum", [g.op("Gather", [w(g, "emb", [40, 4]), cat]), g.ints([1])], { keepdims: 0 });
  const x0 = g.op("Concat", [dense, bag], { axis: 1 });
  let xl = x0;
  for (let l = 0; l < 2; l++) xl = g.op("Add", [g.op("Mul", [x0, g.op("Add", [g.op("MatMul", [xl, w(g, `cross${l}.w`, [10, 10], 0.2)]), w(g, `cross${l}.b`, [10], 0.1)])]), xl]);
  const deep = g.linear(g.linear(x0, w(g, "deep0.w", [16, 10]), w(g, "deep0.b", [16]), "Relu"), w(g, "deep1.w", [8, 16]), w(g, "deep1.b", [8]), "Relu");
  g.output(g.linear(g.op("Concat", [xl, deep], { axis: 1 }), w(g, "head.w", [1, 18]), w(g, "head.b", [1]), "Sigmoid"));
  const report = await matchesOrt("dcn_v2", g.encode("dcn_v2", 13), { dense: f32([6, 6], 0, 1), cat: ids([6, 3], 40) });
  expect(report.join("\n")).toMatch(/fuse-cross: 2 DCN cross formulas -> cross op/);
});

test("an MMoE with two towers (Mul + ReduceSum over stacked experts, and bmm(gate, experts)) matches onnxruntime-node", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 12]);
  const experts = [0, 1, 2].map((e) => g.linear(x, w(g, `expert${e}.w`, [8, 12]), w(g, `expert${e}.b`, [8]), "Relu"));
  const stack = g.op("Concat", experts.map((e) => g.op("Unsqueeze", [e, g.ints([1])])), { axis: 1 });
  const gate = (t: number) => g.op("Softmax", [g.op("Add", [g.op("MatMul", [x, w(g, `gate${t}.w`, [12, 3])]), w(g, `gate${t}.b`, [3])])], { axis: -1 });
  const mixA = g.op("ReduceSum", [g.op("Mul", [stack, g.op("Unsqueeze", [gate(0), g.ints([2])])]), g.ints([1])], { keepdims: 0 });
  const mixB = g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [gate(1), g.ints([1])]), stack]), g.ints([1])]);
  const towerA = g.linear(mixA, w(g, "towerA.w", [1, 8]), w(g, "towerA.b", [1]), "Sigmoid");
  const towerB = g.linear(mixB, w(g, "towerB.w", [1, 8]), w(g, "towerB.b", [1]), "Sigmoid");
  g.output(towerA);
  g.output(towerB);
  const report = await matchesOrt("mmoe", g.encode("mmoe", 18), { x: f32([7, 12]) });
  // One tower sums gate ⊙ stack over the experts, the other multiplies bmm(gate, stack): both fuse.
  expect(report.join("\n")).toContain("fuse-mixture: 2 gate-weighted expert stacks -> mixture(E=3) (×2)");
});

test("Slice with a step, Where with a constant condition, TopK + GatherElements, Unsqueeze/Squeeze, ReduceMean and constant-first Sub match onnxruntime-node", async () => {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", 10]);
  const strided = g.op("Slice", [x, g.ints([1]), g.ints([9]), g.ints([1]), g.ints([2])]);
  g.initializers.push({ name: "mask", dims: [10], dataType: BOOL, rawData: Uint8Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? 1 : 0)) });
  const kept = g.op("Where", ["mask", x, g.scalar(0.5)]);
  const [values, indices] = g.multi("TopK", [x, g.ints([3])], 2, { axis: -1 });
  const again = g.op("GatherElements", [x, indices!], { axis: 1 });
  const round = g.op("Squeeze", [g.op("Unsqueeze", [x, g.ints([1])]), g.ints([1])]);
  const mean = g.op("ReduceMean", [round], { axes: ints([1]), keepdims: 1 });
  const flipped = g.op("Sub", [g.scalar(1), g.op("Sigmoid", [x])]);
  const cols = g.op("Gather", [x, g.ints([7, 2])], { axis: 1 });
  g.output(g.op("Concat", [strided, kept, values!, again, mean, flipped, cols], { axis: 1 }), F32, ["N", 33]);
  await matchesOrt("misc_ops", g.encode("misc_ops", 17), { x: f32([5, 10]) });
});

/** A model whose one node is built by `make` on input X [N, 6]. */
function one(make: (g: OnnxGraph, x: string) => string): Uint8Array {
  const g = new OnnxGraph();
  const x = g.input("X", F32, ["N", 6]);
  g.output(make(g, x), F32, ["N", 6]);
  return g.encode("one");
}

test("graphs rankfn cannot run fail at load, naming the node, the op and why", () => {
  expect(() => importOnnx(one((g, x) => g.op("Einsum", [x])))).toThrow(/\(Einsum\): unsupported operator \(supported: .*Loop \(PyTorch's EmbeddingBag\).*TopK.*Where, Xor\)/);
  expect(() => importOnnx(one((g, x) => g.op("Softmax", [x], { axis: 0 })))).toThrow("(Softmax): axis 0 holds the batch; rankfn scores rows independently");
  expect(() => importOnnx(one((g, x) => g.op("Conv", [x, w(g, "k3", [6, 6, 3])])))).toThrow("(Conv): only 1×1 convolutions");
  // [N, 6] -> [6N] keeps each row's elements together, but an output must be one row per candidate.
  expect(() => importOnnx(one((g, x) => g.op("Reshape", [x, g.ints([-1])])))).toThrow('graph output "v1_Reshape" has the batch inside axis 0 of its shape');
  expect(() => importOnnx(one((g, x) => g.op("Reshape", [x, g.ints([2, 3])])))).toThrow("(Reshape): reshape to [2, 3]: the target shape has no batch dimension");
  expect(() => importOnnx(one((g, x) => g.op("ReduceSum", [x, g.ints([0])])))).toThrow("(ReduceSum): axis 0 holds the batch");
  expect(() => importOnnx(one((g, x) => g.op("MatMul", [x, x])))).toThrow('(MatMul): input 0 ("X") is [N, 6]; a MatMul of it would mix rows of the batch');
  // An EmbeddingBag Loop whose bags are weighted by something other than the per-sample weights input.
  const weighted = new OnnxGraph();
  const catIds = weighted.input("ids", I64, ["N", 2]);
  const loop = weighted.embeddingBagLoop(weighted.floats("table", [5, 6], rng.floats(30)), catIds, "sum");
  const body = weighted.nodes.at(-1)!.attribute![0]!.g!;
  const gatherNode = body.node!.find((n) => n.opType === "Gather" && n.input![0] === "table")!;
  body.node!.push({ opType: "Mul", name: "per_sample", input: [gatherNode.output![0]!, "table"], output: ["weighted_rows"] });
  body.node!.find((n) => n.opType === "ReduceSum")!.input![0] = "weighted_rows";
  weighted.output(loop, F32, ["N", 6]);
  expect(() => importOnnx(weighted.encode("weighted_bag"))).toThrow(/\(Loop\): only the Loop PyTorch emits for nn.EmbeddingBag .* per-sample weights must be a Slice of the flattened weights/);
});
