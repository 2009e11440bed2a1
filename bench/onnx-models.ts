// The ONNX files `bench onnx` runs through both engines, written the way
// PyTorch exports them (nn.Linear as Gemm(transB), Gather + ReduceSum bags,
// torch.stack of experts): a DCN-v2 ranker and an MMoE with two towers. The
// DLRM-v2-shaped file is the zoo DLRM's twin (dlrm-onnx.ts).
import { Rng } from "../runtime/tensor/random";
import { F32, I64, OnnxGraph } from "./onnx-graph";

export interface OnnxBenchModel {
  name: string;
  bytes: Uint8Array;
  /** Rows of the table each id input indexes. */
  idRows: Record<string, number>;
  /** Inputs that are per request (user features) when ranking requests are sampled. */
  context: string[];
}

const TABLE_ROWS = 20_000;

/** He-style uniform weights [out, in] for nn.Linear. */
function linearWeights(g: OnnxGraph, rng: Rng, name: string, out: number, inp: number): [string, string] {
  const bound = Math.sqrt(6 / inp);
  return [g.floats(`${name}.weight`, [out, inp], rng.floats(out * inp, -bound, bound)), g.floats(`${name}.bias`, [out], rng.floats(out, -0.01, 0.01))];
}

function mlp(g: OnnxGraph, rng: Rng, x: string, widths: number[], inp: number, name: string, lastAct = true): string {
  widths.forEach((w, i) => {
    const [wt, b] = linearWeights(g, rng, `${name}.${i}`, w, i === 0 ? inp : widths[i - 1]!);
    x = g.linear(x, wt, b, i < widths.length - 1 || lastAct ? "Relu" : undefined);
  });
  return x;
}

/** Dense features plus pooled embedding bags (Gather + ReduceSum over the ids). */
function features(g: OnnxGraph, rng: Rng, dense: number, bags: number[], dim: number): { x: string; idRows: Record<string, number> } {
  const idRows: Record<string, number> = {};
  const pooled = bags.map((hot, i) => {
    const ids = g.input(`cat_${i}`, I64, ["N", hot]);
    idRows[ids] = TABLE_ROWS;
    const table = g.floats(`emb_${i}.weight`, [TABLE_ROWS, dim], rng.floats(TABLE_ROWS * dim, -0.05, 0.05));
    return g.op("ReduceSum", [g.op("Gather", [table, ids]), g.ints([1])], { keepdims: 0 });
  });
  return { x: g.op("Concat", [g.input("dense", F32, ["N", dense]), ...pooled], { axis: 1 }), idRows };
}

/** DCN-v2: 13 dense + 26 bags of dim 16 (429 wide), 3 full-rank cross layers next to a 512-256 deep tower. */
export function dcnV2Onnx(seed = 1): OnnxBenchModel {
  const rng = new Rng(seed);
  const g = new OnnxGraph();
  const { x: x0, idRows } = features(g, rng, 13, Array.from({ length: 26 }, (_, i) => 1 + (i % 3)), 16);
  const width = 13 + 26 * 16;
  let x = x0;
  for (let l = 0; l < 3; l++) {
    const bound = Math.sqrt(6 / (2 * width));
    const w = g.floats(`cross_${l}.weight`, [width, width], rng.floats(width * width, -bound, bound));
    const b = g.floats(`cross_${l}.bias`, [width], rng.floats(width, -0.01, 0.01));
    x = g.op("Add", [g.op("Mul", [x0, g.op("Add", [g.op("MatMul", [x, w]), b])]), x]);
  }
  const deep = mlp(g, rng, x0, [512, 256], width, "deep");
  const [hw, hb] = linearWeights(g, rng, "head", 1, width + 256);
  g.output(g.linear(g.op("Concat", [x, deep], { axis: 1 }), hw, hb, "Sigmoid"));
  return { name: "dcn-v2", bytes: g.encode("dcn_v2"), idRows, context: Array.from({ length: 8 }, (_, i) => `cat_${i}`) };
}

/** MMoE: 64 dense + 8 bags of dim 16 (192 wide), 4 experts 256-128, 2 softmax gates, towers 64-1 (stack+Mul+ReduceSum and bmm). */
export function mmoeOnnx(seed = 2): OnnxBenchModel {
  const rng = new Rng(seed);
  const g = new OnnxGraph();
  const { x, idRows } = features(g, rng, 64, [2, 2, 2, 2, 4, 4, 1, 1], 16);
  const width = 64 + 8 * 16;
  const experts = [0, 1, 2, 3].map((e) => mlp(g, rng, x, [256, 128], width, `expert_${e}`));
  const stack = g.op("Concat", experts.map((e) => g.op("Unsqueeze", [e, g.ints([1])])), { axis: 1 });
  const gate = (t: number) => {
    const w = g.floats(`gate_${t}.weight`, [width, 4], rng.floats(width * 4, -0.1, 0.1));
    return g.op("Softmax", [g.op("MatMul", [x, w])], { axis: -1 });
  };
  const mixed = [
    g.op("ReduceSum", [g.op("Mul", [stack, g.op("Unsqueeze", [gate(0), g.ints([2])])]), g.ints([1])], { keepdims: 0 }),
    g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [gate(1), g.ints([1])]), stack]), g.ints([1])]),
  ];
  mixed.forEach((m, t) => {
    const h = mlp(g, rng, m, [64], 128, `tower_${t}`);
    const [w, b] = linearWeights(g, rng, `tower_${t}.out`, 1, 64);
    g.output(g.linear(h, w, b, "Sigmoid"));
  });
  return { name: "mmoe", bytes: g.encode("mmoe", 18), idRows, context: ["cat_0", "cat_1"] };
}
