// ONNX import: a small CTR model as PyTorch exports it (an EmbeddingBag as
// Gather + ReduceSum, Linear layers as Gemm), written with onnx-proto, then
// loaded by rankfn — the item's tags are per candidate, the user id is context.
// `bun examples/onnx-import.ts`
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { Rng } from "../runtime/tensor/random";
import { loadModel, tensor } from "../sdk";

const rng = new Rng(3);
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;
const init = (name: string, dims: number[], data: Float32Array) => ({ name, dims, dataType: F, rawData: new Uint8Array(data.buffer) });
const io = (name: string, type: number, width: number) => ({ name, type: { tensorType: { elemType: type, shape: { dim: [{ dimParam: "N" }, { dimValue: width }] } } } });
const graph = onnx.GraphProto.create({
  name: "ctr",
  node: [
    { opType: "Gather", input: ["user_table", "user_id"], output: ["u3"] },
    { opType: "ReduceSum", input: ["u3", "axes"], output: ["user"], attribute: [{ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: "Gather", input: ["tag_table", "tags"], output: ["t3"] },
    { opType: "ReduceMean", input: ["t3", "axes"], output: ["item"], attribute: [{ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: "Concat", input: ["user", "item"], output: ["x"], attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    { opType: "Gemm", input: ["x", "w1", "b1"], output: ["h"], attribute: [{ name: "transB", type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    { opType: "Relu", input: ["h"], output: ["hr"] },
    { opType: "Gemm", input: ["hr", "w2", "b2"], output: ["logit"], attribute: [{ name: "transB", type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    { opType: "Sigmoid", input: ["logit"], output: ["ctr"] },
  ],
  initializer: [
    init("user_table", [1000, 16], rng.floats(16000, -0.1, 0.1)),
    init("tag_table", [500, 16], rng.floats(8000, -0.1, 0.1)),
    init("w1", [32, 32], rng.floats(1024, -0.3, 0.3)),
    init("b1", [32], rng.floats(32, -0.1, 0.1)),
    init("w2", [1, 32], rng.floats(32, -0.3, 0.3)),
    init("b2", [1], new Float32Array([0.1])),
    { name: "axes", dims: [1], dataType: I64, int64Data: [1] },
  ],
  input: [io("user_id", I64, 1), io("tags", I64, 3)],
  output: [io("ctr", F, 1)],
});
const path = join(mkdtempSync(join(tmpdir(), "rankfn-onnx-")), "ctr.onnx");
writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph })).finish());

using model = loadModel(path, { context: ["user_id"] });
console.log(model.inspect().compiler.filter((l) => /fuse|infer/.test(l)).join("\n"));
const { outputs } = await model.rank({
  context: { user_id: tensor("i64", [1, 1], new BigInt64Array([42n])) },
  candidates: { tags: tensor("i64", [3, 3], new BigInt64Array([1n, 2n, 3n, 7n, 8n, 9n, 400n, 401n, 402n])) },
});
console.log(`ctr for 3 candidates: ${Array.from(outputs.ctr!.data, (v) => v.toFixed(4)).join(", ")}`);
