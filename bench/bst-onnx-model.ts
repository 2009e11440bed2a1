// The zoo bst model (sdk/zoo/bst.ts) written as plain ONNX ops, in the
// per-request form a practitioner exports for onnxruntime: one request per run,
// the history [L] encoded once in the graph (causal multi-head self-attention as
// MatMul / additive mask / Softmax / MatMul, LayerNormalization, the FFN), its
// target K/V shared by all C candidates as [H, L, ·] matrices. The same weights
// as the rankfn model (built.weights); full histories (no padding: what the
// benchmark sends; ONNX Gather would read id -1 as the last row).
import type { BuiltModel } from "../runtime/graph/builder";
import type { Tensor } from "../runtime/tensor/tensor";
import { type BstOptions, bstOptions } from "../sdk/zoo/bst";
import { F32, I64, OnnxGraph } from "./onnx-graph";

/** The ONNX model of `built` (a zoo bst with options `options`): inputs hist [L], item_id [C, 1]; output ctr [C, 1]. */
export function bstOnnxModel(built: BuiltModel, options: Partial<BstOptions>): Uint8Array {
  const o = bstOptions(options);
  const { embeddingDim: d, heads: H, historyLength: L } = o;
  const dh = d / H;
  const g = new OnnxGraph("b");
  const weight = (name: string): string => {
    const t: Tensor | undefined = built.weights.get(name);
    if (!t || t.dtype !== "f32") throw new Error(`bstOnnxModel: missing f32 weight ${name}`);
    return g.floats(name, t.shape, t.data as Float32Array);
  };
  const hist = g.input("hist", I64, [L]);
  const itemId = g.input("item_id", I64, ["C", 1]);
  const itemTable = weight("item.table");
  const gemm = (x: string, prefix: string) => g.op("Gemm", [x, weight(`${prefix}.weight`), weight(`${prefix}.bias`)], { transB: 1 });
  const ln = (x: string, prefix: string) => g.op("LayerNormalization", [x, weight(`${prefix}.gamma`), weight(`${prefix}.beta`)], { axis: -1, epsilon: { f: 1e-5 } });
  const heads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, g.ints([-1, H, dh])])], { perm: { ints: [1, 0, 2] } }); // [H, rows, dh]
  const tokens = (t: string) => g.op("Reshape", [g.op("Transpose", [t], { perm: { ints: [1, 0, 2] } }), g.ints([-1, d])]);
  const scale = g.scalar(1 / Math.sqrt(dh));
  // softmax(q·kᵀ·scale (+ mask)) · v over [H, ·, dh] heads.
  const attend = (q: string, k: string, v: string, mask?: string) => {
    let s = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: { ints: [0, 2, 1] } })]), scale]);
    if (mask) s = g.op("Add", [s, mask]);
    return tokens(g.op("MatMul", [g.op("Softmax", [s], { axis: -1 }), v]));
  };
  const causal = g.floats("causal", [L, L], Float32Array.from({ length: L * L }, (_, t) => (t % L <= Math.floor(t / L) ? 0 : -1e9)));
  let x = g.op("Gather", [itemTable, hist]); // [L, d]
  for (let l = 0; l < o.layers; l++) {
    const p = `block_${l}`;
    const [q, k, v] = g.multi("Split", [gemm(x, `${p}.qkv`), g.ints([d, d, d])], 3, { axis: 1 });
    const att = attend(heads(q!), heads(k!), heads(v!), causal);
    const h1 = ln(g.op("Add", [gemm(att, `${p}.out`), x]), `${p}.ln1`);
    x = ln(g.op("Add", [gemm(g.op("Relu", [gemm(h1, `${p}.ffn1`)]), `${p}.ffn2`), h1]), `${p}.ln2`);
  }
  const target = g.op("Gather", [itemTable, g.op("Squeeze", [itemId, g.ints([1])])]); // [C, d]
  const [tk, tv] = g.multi("Split", [gemm(x, "target.kv"), g.ints([d, d])], 2, { axis: 1 });
  const attended = attend(heads(gemm(target, "target.q")), heads(tk!), heads(tv!));
  let h = g.op("Concat", [attended, target], { axis: 1 });
  o.head.forEach((_, i) => {
    h = g.op(i === o.head.length - 1 ? "Sigmoid" : "Relu", [gemm(h, `head.${i}`)]);
  });
  g.nodes.push({ opType: "Identity", name: "ctr", input: [h], output: ["ctr"] });
  g.output("ctr", F32, ["C", 1]);
  return g.encode("bst");
}
