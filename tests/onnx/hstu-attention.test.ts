// The branches of fuse-hstu-attention on ONNX graphs written the way torch
// exports an HSTU layer (Split, Reshape/Transpose per head, MatMul, x·Sigmoid(x),
// scalar ÷ n, constant and key-padding masks, MatMul back): each variant runs
// with onnxruntime-node and with rankfn on rows with different padding (leading,
// holes, none) and every output token is compared (1e-4 relative), and the
// compile report says whether the chain became pointwise_attention. A form the
// kernel cannot express (a bias that is no bucket table, a mask that is not
// causal, a factor that is not 1/n, an f32 mask input, another activation) must
// stay general and still match.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { F32, I64, OnnxGraph, ints } from "../../bench/onnx-graph";
import { Rng } from "../../runtime/tensor/random";
import { type Feed, matchesOrt, scratchDir } from "./oracle";

afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

const [L, H, D] = [7, 2, 4];
const HD = H * D;

interface Variant {
  /** The constant mask [L, L]: causal (tril ones), none (all ones), or causal with one visible entry hidden. */
  mask: "causal" | "none" | "causal_gap";
  /** The factor after SiLU (1/L: generative-recommenders' n). */
  factor: number;
  /** How the factor is written: Div by n, Mul by 1/n, or folded into the mask constant. */
  factorAs?: "div" | "mul" | "in_mask";
  bias: "none" | "table" | "table_off" | "free";
  /** The scale after the bias add ((q·kᵀ + rab)·α) instead of before it. */
  scaleAfterBias?: boolean;
  /** The keys' padding flags: from the ids (cast(ids != 0)), from an f32 input, or none. */
  flags: "ids" | "f32" | "none";
  activation?: "silu" | "relu";
}

const bitWidth = (x: number) => (x === 0 ? 0 : 32 - Math.clz32(x));

/** One HSTU attention over x [N, L, 3·H·D] (q | k | v); output every token [N, L·H·D]. */
function hstuGraph(v: Variant, rng: Rng): Uint8Array {
  const g = new OnnxGraph();
  const x = g.input("x", F32, ["N", L, 3 * HD]);
  const idsIn = g.input("ids", I64, ["N", L]);
  const keepIn = v.flags === "f32" ? g.input("keep", F32, ["N", L]) : undefined;
  const [q, k, vv] = g.multi("Split", [x, g.ints([HD, HD, HD])], 3, { axis: 2 });
  const heads = (t: string, perm: number[]) => g.op("Transpose", [g.op("Reshape", [t, g.ints([0, L, H, D])])], { perm: ints(perm) });
  let s = g.op("MatMul", [heads(q!, [0, 2, 1, 3]), heads(k!, [0, 2, 3, 1])]); // [N, H, L, L]
  const alpha = g.scalar(1 / Math.sqrt(D));
  if (!v.scaleAfterBias) s = g.op("Mul", [s, alpha]);
  if (v.bias !== "none") {
    const table = rng.floats(H * 4, -0.5, 0.5);
    const bias = Float32Array.from({ length: H * L * L }, (_, t) => {
      const [h, i, j] = [Math.floor(t / (L * L)), Math.floor(t / L) % L, t % L];
      return v.bias === "free" ? rng.floats(1, -0.5, 0.5)[0]! : table[h * 4 + Math.min(3, bitWidth(Math.abs(i - j)))]!;
    });
    if (v.bias === "table_off") bias[H * L * L - 2] = bias[H * L * L - 2]! + 0.25; // head 1, query L-1, key L-2
    s = g.op("Add", [s, g.floats("rab", [H, L, L], bias)]);
  }
  if (v.scaleAfterBias) s = g.op("Mul", [s, alpha]);
  let a = v.activation === "relu" ? g.op("Relu", [s]) : g.op("Mul", [s, g.op("Sigmoid", [s])]);
  const maskData = Float32Array.from({ length: L * L }, (_, t) => (v.mask === "none" || t % L <= Math.floor(t / L) ? 1 : 0));
  if (v.mask === "causal_gap") maskData[(L - 1) * L + 2] = 0;
  const factorAs = v.factorAs ?? "div";
  if (factorAs === "div") a = g.op("Div", [a, g.scalar(1 / v.factor)]);
  if (factorAs === "mul") a = g.op("Mul", [a, g.scalar(v.factor)]);
  if (factorAs === "in_mask") maskData.forEach((m, t) => (maskData[t] = m * v.factor));
  a = g.op("Mul", [a, g.floats("mask", [L, L], maskData)]);
  if (v.flags !== "none") {
    const keep = keepIn ?? g.op("Cast", [g.op("Not", [g.op("Equal", [idsIn, g.ints([0], [])])])], { to: F32 });
    a = g.op("Mul", [a, g.op("Unsqueeze", [keep, g.ints([1, 2])])]);
  }
  const o = g.op("MatMul", [a, heads(vv!, [0, 2, 1, 3])]); // [N, H, L, D]
  const out = g.op("Reshape", [g.op("Transpose", [o], { perm: ints([0, 2, 1, 3]) }), g.ints([0, L * HD])]);
  // The ids feed the output too, so the graph reads them whatever the variant.
  const idsTerm = g.op("ReduceSum", [g.op("Cast", [idsIn], { to: F32 }), g.ints([1])], { keepdims: 1 });
  g.nodes.push({ opType: "Add", name: "tokens", input: [out, g.op("Mul", [idsTerm, g.scalar(0)])], output: ["tokens"] });
  g.output("tokens", F32, ["N", L * HD]);
  return g.encode("hstu_attention");
}

/** Rows with leading padding, a hole between events, one event, and none. */
const ID_ROWS = [
  [0, 0, 0, 5, 9, 2, 7],
  [0, 4, 8, 0, 0, 3, 6],
  [0, 0, 0, 0, 0, 0, 1],
  [3, 1, 4, 1, 5, 9, 2],
];

async function run(name: string, v: Variant): Promise<string> {
  const rng = new Rng(7);
  const n = ID_ROWS.length;
  const ids = BigInt64Array.from(ID_ROWS.flat(), (x) => BigInt(x));
  const feeds: Record<string, Feed> = { x: { dtype: "f32", dims: [n, L, 3 * HD], data: rng.floats(n * L * 3 * HD, -1, 1) }, ids: { dtype: "i64", dims: [n, L], data: ids } };
  if (v.flags === "f32") feeds.keep = { dtype: "f32", dims: [n, L], data: Float32Array.from(ID_ROWS.flat(), (x) => (x === 0 ? 0 : 1)) };
  const report = (await matchesOrt(name, hstuGraph(v, rng), feeds)).join("\n");
  return /fuse-hstu-attention: .*/.exec(report)![0];
}

const fused = (summary: string) => `fuse-hstu-attention: 1 pointwise attention -> pointwise_attention (heads=${H}, L=${L}, d=${D}, ${summary})`;
const unfused = "fuse-hstu-attention: 0 pointwise attention -> pointwise_attention";

test("causal mask, key padding from the ids, a bucketed bias and ÷ n fuse (every padding pattern matches)", async () => {
  expect(await run("hstu_causal", { mask: "causal", factor: 1 / L, bias: "table", flags: "ids" })).toBe(fused(`mask causal, key padding, rab 4 buckets, n=${L}`));
});

test("no constant mask (bidirectional), the scale after the bias add and × 1/n fuse", async () => {
  expect(await run("hstu_none", { mask: "none", factor: 1 / L, factorAs: "mul", bias: "table", scaleAfterBias: true, flags: "ids" })).toBe(
    fused(`mask none, key padding, rab 4 buckets, n=${L}`),
  );
});

test("1/n folded into the causal constant, no bias, no padding flags fuse", async () => {
  expect(await run("hstu_folded", { mask: "causal", factor: 1 / 5, factorAs: "in_mask", bias: "none", flags: "none" })).toBe(fused("mask causal, no rab, n=5"));
});

test("forms the kernel cannot express stay general and still match onnxruntime", async () => {
  const base: Variant = { mask: "causal", factor: 1 / L, bias: "table", flags: "ids" };
  const cases: [string, Partial<Variant>][] = [
    ["free_bias", { bias: "free" }],
    ["bias_off_table", { bias: "table_off" }],
    ["mask_gap", { mask: "causal_gap" }],
    ["factor_not_reciprocal", { factor: 0.3, factorAs: "mul" }],
    ["f32_flags", { flags: "f32" }],
    ["relu", { activation: "relu" }],
  ];
  for (const [name, change] of cases) expect({ name, report: await run(`hstu_${name}`, { ...base, ...change }) }).toEqual({ name, report: unfused });
});
