// ONNX variants against onnxruntime-node: a two-tower graph written for opset
// 13 (ReduceMean axes as an attribute) and for opset 18 (axes as an input),
// with nn.Linear-style Transpose+MatMul, Cast of ids, and weights stored as
// external data next to the model file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";
import { loadModel } from "../../sdk";

const dir = mkdtempSync(join(tmpdir(), "rankfn-onnx-variants-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;
const INT = onnx.AttributeProto.AttributeType.INT;
const INTS = onnx.AttributeProto.AttributeType.INTS;

/** user ids [N,2] (mean bag) and item features [N,6] -> MLP -> sigmoid. */
function build(opset: number, external: boolean): { path: string; bytes: Uint8Array } {
  const rng = new Rng(opset);
  const weights: Record<string, [number[], Float32Array]> = {
    table: [[300, 8], rng.floats(2400, -0.2, 0.2)],
    w1: [[16, 14], rng.floats(224, -0.4, 0.4)], // stored [out, in] like nn.Linear, transposed in the graph
    b1: [[16], rng.floats(16, -0.1, 0.1)],
    w2: [[16, 1], rng.floats(16, -0.4, 0.4)],
    b2: [[1], new Float32Array([0.05])],
  };
  const blob: Uint8Array[] = [];
  let offset = 0;
  const initializer = Object.entries(weights).map(([name, [dims, data]]) => {
    const raw = new Uint8Array(data.buffer);
    if (!external) return { name, dims, dataType: F, rawData: raw };
    const entry = { name, dims, dataType: F, dataLocation: 1, externalData: [{ key: "location", value: "weights.bin" }, { key: "offset", value: String(offset) }, { key: "length", value: String(raw.byteLength) }] };
    blob.push(raw);
    offset += raw.byteLength;
    return entry;
  });
  const reduce = opset >= 18
    ? { opType: "ReduceMean", input: ["emb3", "axes"], output: ["user"], attribute: [{ name: "keepdims", type: INT, i: 0 }] }
    : { opType: "ReduceMean", input: ["emb3"], output: ["user"], attribute: [{ name: "keepdims", type: INT, i: 0 }, { name: "axes", type: INTS, ints: [1] }] };
  if (opset >= 18) initializer.push({ name: "axes", dims: [1], dataType: I64, int64Data: [1] } as never);
  const io = (name: string, type: number, width: number) => ({ name, type: { tensorType: { elemType: type, shape: { dim: [{ dimParam: "N" }, { dimValue: width }] } } } });
  const graph = onnx.GraphProto.create({
    name: `two_tower_${opset}`,
    node: [
      { opType: "Cast", input: ["user_ids"], output: ["ids64"], attribute: [{ name: "to", type: INT, i: I64 }] },
      { opType: "Gather", input: ["table", "ids64"], output: ["emb3"] },
      reduce,
      { opType: "Concat", input: ["user", "item"], output: ["x"], attribute: [{ name: "axis", type: INT, i: 1 }] },
      { opType: "Transpose", input: ["w1"], output: ["w1t"], attribute: [{ name: "perm", type: INTS, ints: [1, 0] }] },
      { opType: "MatMul", input: ["x", "w1t"], output: ["xw"] },
      { opType: "Add", input: ["xw", "b1"], output: ["h"] },
      { opType: "Tanh", input: ["h"], output: ["ht"] },
      { opType: "MatMul", input: ["ht", "w2"], output: ["l"] },
      { opType: "Add", input: ["b2", "l"], output: ["logit"] },
      { opType: "Sigmoid", input: ["logit"], output: ["score"] },
    ],
    initializer,
    input: [io("user_ids", I64, 2), io("item", F, 6)],
    output: [io("score", F, 1)],
  });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: opset }], graph })).finish();
  const sub = mkdtempSync(join(dir, `o${opset}-`));
  const path = join(sub, "model.onnx");
  writeFileSync(path, bytes);
  if (external) writeFileSync(join(sub, "weights.bin"), Buffer.concat(blob));
  return { path, bytes };
}

for (const [opset, external] of [[13, false], [18, false], [18, true]] as const) {
  test(`opset ${opset}${external ? " with external data" : ""} matches onnxruntime-node`, async () => {
    const { path } = build(opset, external);
    const session = await ort.InferenceSession.create(path);
    const rng = new Rng(9);
    const n = 6;
    const user = BigInt64Array.from({ length: 2 }, () => BigInt(rng.int(300)));
    const items = rng.floats(n * 6);
    const want = Object.values(await session.run({ user_ids: new ort.Tensor("int64", BigInt64Array.from({ length: n * 2 }, (_, i) => user[i % 2]!), [n, 2]), item: new ort.Tensor("float32", items, [n, 6]) }))[0]!.data as Float32Array;
    using model = loadModel(path, { context: ["user_ids"] });
    const got = (await model.rank({ context: { user_ids: tensor("i64", [1, 2], user) }, candidates: { item: tensor("f32", [n, 6], items) } })).outputs.score!.data;
    got.forEach((v, i) => expect(Math.abs(v - want[i]!) / Math.max(1e-3, Math.abs(want[i]!))).toBeLessThan(1e-4));
  });
}

test("external data outside the model's folder is refused", () => {
  const { path } = build(18, true);
  const bytes = onnx.ModelProto.decode(readFileSync(path));
  bytes.graph!.initializer![0]!.externalData![0]!.value = "../../etc/passwd";
  const evil = join(dir, "evil.onnx");
  writeFileSync(evil, onnx.ModelProto.encode(bytes).finish());
  expect(() => loadModel(evil)).toThrow("is outside the model's folder");
});
