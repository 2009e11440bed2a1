// Malformed ONNX never gets past validation as anything but a clear error:
// a PyTorch-style model (EmbeddingBag Loop, shape arithmetic, interaction,
// erf GELU, TopK + GatherElements) mutated at random — inputs dropped or
// rewired, op types swapped, attributes changed or removed, initializer
// dims and types changed, input ranks cut — either imports and ranks, or
// throws a RankfnError naming what is wrong. Never a TypeError, never a crash.
import { expect, test } from "bun:test";
import { onnx } from "onnx-proto";
import { F32, I64, OnnxGraph } from "../../bench/onnx-graph";
import { RankfnError } from "../../runtime/errors";
import { importOnnx } from "../../runtime/onnx/importer";
import { Rng } from "../../runtime/tensor/random";
import { loadModel } from "../../sdk";
import { sampleFlatRequest } from "../../sdk/sample-requests";

function seedModel(): Uint8Array {
  const rng = new Rng(3);
  const g = new OnnxGraph();
  const w = (n: string, d: number[]) => g.floats(n, d, rng.floats(d.reduce((a, b) => a * b, 1)));
  const dense = g.input("dense", F32, ["N", 4]);
  const cat = g.input("cat", I64, ["N", 2]);
  const x = g.linear(dense, w("b.w", [8, 4]), w("b.b", [8]), "Relu");
  const e = g.embeddingBagLoop(w("t", [10, 8]), cat, "sum");
  const t = g.viewRows(g.op("Concat", [x, e], { axis: 1 }), 8);
  const h = g.erfGelu(g.linear(g.op("Concat", [x, g.interaction(t, 2, true)], { axis: 1 }), w("h.w", [4, 11]), w("h.b", [4])));
  const [v, i] = g.multi("TopK", [h, g.ints([2])], 2);
  g.output(g.linear(g.op("Concat", [v!, g.op("GatherElements", [h, i!], { axis: 1 })], { axis: 1 }), w("o.w", [1, 4]), w("o.b", [1]), "Sigmoid"));
  return g.encode("fuzz");
}

const OPS = ["Add", "MatMul", "Gather", "Reshape", "Concat", "Loop", "TopK", "Slice", "Erf", "Unsqueeze", "Squeeze", "Shape", "Where", "Range", "Transpose"];

function mutate(m: onnx.ModelProto, rng: Rng): void {
  const nodes = m.graph!.node!;
  const inits = m.graph!.initializer!;
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const n = nodes[rng.int(nodes.length)]!;
    switch (rng.int(8)) {
      case 0: if (n.input!.length) n.input!.splice(rng.int(n.input!.length), 1); break;
      case 1: n.opType = OPS[rng.int(OPS.length)]!; break;
      case 2: if (n.input!.length) n.input![rng.int(n.input!.length)] = nodes[rng.int(nodes.length)]!.output![0]!; break;
      case 3: if (n.attribute!.length) n.attribute![rng.int(n.attribute!.length)]!.i = [-5, -1, 0, 1, 2, 7, 1e9][rng.int(7)]!; break;
      case 4: if (n.attribute!.length) n.attribute!.splice(rng.int(n.attribute!.length), 1); break;
      case 5: { const t = inits[rng.int(inits.length)]!; t.dims = t.dims!.map((d) => Number(d) + rng.int(3) - 1); break; }
      case 6: inits[rng.int(inits.length)]!.dataType = [1, 6, 7, 9, 10, 11][rng.int(6)]!; break;
      default: { const inp = m.graph!.input![rng.int(m.graph!.input!.length)]!; inp.type!.tensorType!.shape!.dim = inp.type!.tensorType!.shape!.dim!.slice(0, rng.int(3)); }
    }
  }
}

test("randomly mutated ONNX models import and rank, or fail with a RankfnError — never another exception or a crash", () => {
  const seed = seedModel();
  const rng = new Rng(11);
  let imported = 0;
  let refused = 0;
  for (let trial = 0; trial < 400; trial++) {
    const m = onnx.ModelProto.decode(seed);
    mutate(m, rng);
    let bytes: Uint8Array;
    try {
      bytes = onnx.ModelProto.encode(m).finish();
    } catch {
      continue; // protobuf itself cannot write this mutation
    }
    try {
      const built = importOnnx(bytes);
      using model = loadModel(built, { maxBatch: 32 });
      model.rankSync(sampleFlatRequest(built, 1 + rng.int(20), trial));
      imported++;
    } catch (err) {
      if (!(err instanceof RankfnError)) throw new Error(`trial ${trial}: ${(err as Error).name}: ${(err as Error).message}`);
      refused++;
    }
  }
  expect(refused).toBeGreaterThan(200);
  expect(imported).toBeGreaterThan(10);
});
