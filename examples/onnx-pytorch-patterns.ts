// ONNX as PyTorch exports a DLRM: nn.EmbeddingBag as a Loop, x.view(N, -1, d)
// as Shape arithmetic, the interaction as bmm + advanced indexing, GELU via
// Erf. rankfn rewrites each into one fused op at load (the report lists which)
// and scores like onnxruntime-node. `bun examples/onnx-pytorch-patterns.ts`
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { F32, I64, OnnxGraph } from "../bench/onnx-graph";
import { Rng } from "../runtime/tensor/random";
import { loadModel, tensor } from "../sdk";

const rng = new Rng(5);
const g = new OnnxGraph();
const weight = (name: string, dims: number[]) => g.floats(name, dims, rng.floats(dims.reduce((a, b) => a * b, 1), -0.3, 0.3));
const dense = g.input("dense", F32, ["N", 4]);
const user = g.input("user_tags", I64, ["N", 3]);
const item = g.input("item_tags", I64, ["N", 2]);
const bottom = g.linear(dense, weight("bottom.weight", [8, 4]), weight("bottom.bias", [8]), "Relu");
const userBag = g.embeddingBagLoop(weight("user_table", [100, 8]), user, "sum");
const itemBag = g.embeddingBagLoop(weight("item_table", [60, 8]), item, "mean");
const features = g.viewRows(g.op("Concat", [bottom, userBag, itemBag], { axis: 1 }), 8);
const pairs = g.interaction(features, 3, false);
const hidden = g.erfGelu(g.linear(g.op("Concat", [bottom, pairs], { axis: 1 }), weight("top.weight", [16, 11]), weight("top.bias", [16])));
g.output(g.linear(hidden, weight("out.weight", [1, 16]), weight("out.bias", [1]), "Sigmoid"));
const path = join(mkdtempSync(join(tmpdir(), "rankfn-onnx-")), "pt_dlrm.onnx");
// The exporter can name the per-request inputs in the model's metadata.
writeFileSync(path, g.encode("pt_dlrm", 17, { "rankfn.context": "user_tags" }));

using model = loadModel(path);
console.log(model.inspect().compiler[0]);
const { outputs } = await model.rank({
  context: { user_tags: tensor("i64", [1, 3], new BigInt64Array([3n, 14n, 15n])) },
  candidates: {
    dense: tensor("f32", [2, 4], rng.floats(8, 0, 1)),
    item_tags: tensor("i64", [2, 2], new BigInt64Array([1n, 2n, 40n, 41n])),
  },
});
console.log("scores", Array.from(Object.values(outputs)[0]!.data, (x) => x.toFixed(4)).join(" "));
