// ONNX import with onnxruntime-node as the oracle: the same file, the same
// inputs, the same outputs (fp32 within 1e-4 relative); unsupported graphs
// fail at load naming the op, the node and what is supported.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { importOnnx, importOnnxFile } from "../../runtime/onnx/importer";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";
import { loadModel, zoo } from "../../sdk";
import { dlrmOptions } from "../../sdk/zoo/dlrm";
import { dlrmOnnx } from "../../bench/dlrm-onnx";

const dir = mkdtempSync(join(tmpdir(), "rankfn-onnx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a DLRM exported with EmbeddingBag-style Gather+ReduceSum and DCN cross formulas scores like onnxruntime-node", async () => {
  const o = dlrmOptions({ scale: 0.0001, seed: 8 });
  const bytes = dlrmOnnx(zoo.dlrm.build({ scale: 0.0001, seed: 8 }), o);
  const path = join(dir, "dlrm.onnx");
  writeFileSync(path, bytes);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  const context = o.multiHot.slice(0, 4).map((_, i) => `cat_${i}`);
  const imported = importOnnxFile(path, { context });
  expect(imported.graph.inputs.filter((i) => i.role === "context").map((i) => i.name)).toEqual(context);
  const model = loadModel(imported);
  // Which rankfn ops the exported patterns became (after compilation).
  const ops = model.inspect().compiler.join("\n");
  expect(ops).toMatch(/fuse-embeddings: 26 bags fused/);
  expect(ops).toMatch(/fuse-linear: .*matmul->linear/);
  expect(ops).toMatch(/fuse-cross: 3 DCN cross formulas -> cross op/);
  const rng = new Rng(2);
  const n = 7;
  const feeds: Record<string, ort.Tensor> = {};
  const ctx: Record<string, ReturnType<typeof tensor>> = {};
  const cand: Record<string, ReturnType<typeof tensor>> = {};
  const dense = rng.floats(n * 13, 0, 1);
  feeds.dense = new ort.Tensor("float32", dense, [n, 13]);
  cand.dense = tensor("f32", [n, 13], dense);
  o.multiHot.forEach((l, i) => {
    const one = BigInt64Array.from({ length: l }, () => BigInt(rng.int(o.tableRows[i]!)));
    const rows = i < 4 ? BigInt64Array.from({ length: n * l }, (_, j) => one[j % l]!) : BigInt64Array.from({ length: n * l }, () => BigInt(rng.int(o.tableRows[i]!)));
    feeds[`cat_${i}`] = new ort.Tensor("int64", rows, [n, l]);
    if (i < 4) ctx[`cat_${i}`] = tensor("i64", [1, l], one);
    else cand[`cat_${i}`] = tensor("i64", [n, l], rows);
  });
  const want = Object.values(await session.run(feeds))[0]!.data as Float32Array;
  const got = (await model.rank({ context: ctx, candidates: cand })).outputs;
  const scores = Object.values(got)[0]!.data;
  scores.forEach((v, i) => expect(Math.abs(v - want[i]!) / Math.max(1e-3, Math.abs(want[i]!))).toBeLessThan(1e-4));
  model.dispose();
});

/** A small ONNX graph: X [N, 4] -> op -> Y. */
function tiny(opType: string, attrs: onnx.IAttributeProto[] = [], name = "the_node"): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const io = (n: string) => ({ name: n, type: { tensorType: { elemType: F, shape: { dim: [{ dimParam: "N" }, { dimValue: 4 }] } } } });
  const graph = onnx.GraphProto.create({ name: "tiny", node: [{ opType, name, input: ["X"], output: ["Y"], attribute: attrs }], input: [io("X")], output: [io("Y")] });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph })).finish();
}

test("unsupported operators and attributes fail at load with the op, the node and the supported list", () => {
  expect(() => importOnnx(tiny("Einsum"))).toThrow(/node "the_node" \(Einsum\): unsupported operator \(supported: Abs, Add, .*, Where, Xor\)/);
  expect(() => importOnnx(tiny("Softmax", [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }]))).toThrow('node "the_node" (Softmax): axis 0 holds the batch; rankfn scores rows independently, so no op may reduce or move it');
  expect(() => importOnnx(tiny("Relu"), { context: ["nope"] })).toThrow('context input "nope" is not an input of the graph');
  expect(() => importOnnx(new Uint8Array([1, 2, 3, 255]))).toThrow("not an ONNX model");
  const model = importOnnx(tiny("Relu"));
  expect(model.graph.nodes.map((n) => n.op)).toEqual(["relu"]);
});

test("rankfn convert writes a model file that scores like the ONNX file, and loadModel takes .onnx directly", () => {
  const o = dlrmOptions({ scale: 0.00005, seed: 4 });
  const onnxPath = join(dir, "small.onnx");
  writeFileSync(onnxPath, dlrmOnnx(zoo.dlrm.build({ scale: 0.00005, seed: 4 }), o));
  const out = join(dir, "small.safetensors");
  const cli = join(import.meta.dir, "..", "..", "sdk", "cli.ts");
  const run = Bun.spawnSync([process.execPath, cli, "convert", onnxPath, out, "--context", "cat_0,cat_1"], { env: { ...process.env, RANKFN_DEBUG: "1" } });
  expect(run.exitCode).toBe(0);
  // A progress bar while the weights are read, and (RANKFN_DEBUG=1) what the compiler fused.
  expect(run.stderr.toString()).toMatch(/importing .*small\.onnx \[#{30}\] 100%/);
  expect(run.stderr.toString()).toContain("[rankfn compile] fuse-lookup-pool: 26 lookups -> embedding_bag(sum) (×26)");
  expect(run.stdout.toString()).toMatch(/^inputs {4}dense \[13\] candidate, cat_0 \[3\] context, cat_1 \[2\] context, cat_2/m);
  expect(run.stderr.toString()).toContain("fuse-embeddings: 26 bags fused");
  const fromOnnx = loadModel(onnxPath, { context: ["cat_0", "cat_1"] });
  const converted = loadModel(out);
  const rng = new Rng(5);
  const rows: Record<string, ReturnType<typeof tensor>> = { dense: tensor("f32", [3, 13], rng.floats(39, 0, 1)) };
  o.multiHot.forEach((l, i) => (rows[`cat_${i}`] = tensor("i64", [3, l], BigInt64Array.from({ length: 3 * l }, () => BigInt(rng.int(o.tableRows[i]!))))));
  const a = Object.values(fromOnnx.rankSync({ rows }).outputs)[0]!.data;
  const b = Object.values(converted.rankSync({ rows }).outputs)[0]!.data;
  expect(Array.from(b)).toEqual(Array.from(a));
  fromOnnx.dispose();
  converted.dispose();
  // It spawns the CLI (a second Bun process importing and compiling the model): a loaded machine needs more than 5 s.
}, 30_000);
