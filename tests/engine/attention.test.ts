// The fused attention op (runtime/graph/sequence-ops.ts, runtime/engine/steps/attention.ts)
// against the general-op chain it replaces, built the way torch 1.13 exports
// nn.MultiheadAttention (slices of a fused QKV value, reshape / transpose to
// heads, scaled Q·Kᵀ, additive mask, softmax, ·V, back to tokens): the compiled
// graph (fuse-attention fired) and the lowered one (general ops only) run the
// same batches through the real kernels. Odd sizes: heads 1 and 3, L 1 and 7,
// head widths 5 and 3; no mask, causal, key padding (ids == 0). Masks the
// kernel cannot express must leave the chain alone.
import { expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { Executor } from "../../runtime/engine/executor";
import { inferGraph } from "../../runtime/graph/infer";
import { parseGraph, type Node, type Role } from "../../runtime/graph/schema";
import type { BuiltModel } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";

interface Case {
  heads: number;
  lq: number;
  lk: number;
  d: number;
  /**
   * Additive mask weight [1, lq, lk] by (i, j); "input": an f32 additive input [1, 1, lk]; "padding": key ids
   * [lk] whose 0s are padding, as torch exports key_padding_mask = ids == 0 (where(expand(flags), -inf, 0) · 1
   * added to the scores).
   */
  mask?: ((i: number, j: number) => number) | "input" | "padding";
  /** "padding": the rows whose keys are all hidden (the rest keep at least key 0). */
  allHidden?: number[];
  /** A scalar multiplying the masked scores (between the mask's add and the softmax). */
  after?: number;
  role?: Role;
}

/** q [Lq, H·d] and kv [Lk, 2·H·d] inputs (self-attention reads one QKV input when Lq = Lk), as torch exports the chain. */
function chain(c: Case): BuiltModel {
  const { heads, lq, lk, d, mask, role = "candidate" } = c;
  const e = heads * d;
  const self = lq === lk;
  const nodes: Node[] = [];
  const weights = new Map<string, Tensor>();
  const add = (op: string, inputs: string[], attrs: Record<string, unknown> = {}) => {
    const name = `n${nodes.length}`;
    nodes.push({ name, op, inputs, outputs: [name], attrs });
    return name;
  };
  const slice = (x: string, start: number) => add("slice_nd", [x], { axes: [2], starts: [start], counts: [e], steps: [1] });
  const heads4 = (x: string, l: number, perm: number[]) => add("transpose", [add("reshape", [x], { shape: [l, heads, d] })], { perm });
  const inputs = self
    ? [{ name: "qkv", dtype: "f32" as const, shape: [lq, 3 * e], role }]
    : [{ name: "q", dtype: "f32" as const, shape: [lq, e], role }, { name: "kv", dtype: "f32" as const, shape: [lk, 2 * e], role }];
  const [qIn, kIn, vIn] = self ? [slice("qkv", 0), slice("qkv", e), slice("qkv", 2 * e)] : ["q", slice("kv", 0), slice("kv", e)];
  weights.set("sqrt_d", tensor("f32", [1], Float32Array.of(Math.sqrt(d))));
  const q = add("binary", [heads4(qIn, lq, [0, 2, 1, 3]), "sqrt_d"], { op: "div" });
  let scores = add("batch_matmul", [q, heads4(kIn, lk, [0, 2, 3, 1])]);
  if (mask === "padding") {
    inputs.push({ name: "ids", dtype: "i64" as never, shape: [lk], role });
    weights.set("padding_id", tensor("i64", [1], BigInt64Array.of(0n)));
    weights.set("minus_inf", tensor("f32", [1], Float32Array.of(-Infinity)));
    weights.set("zeros", tensor("f32", [1, 1, lk], new Float32Array(lk)));
    weights.set("one", tensor("f32", [1], Float32Array.of(1)));
    const pad = add("binary", ["ids", "padding_id"], { op: "eq" });
    const flags = add("expand", [add("reshape", [pad], { shape: [1, 1, lk] })], { shape: [heads, 1, 1] });
    scores = add("binary", [scores, add("binary", [add("where", [flags, "minus_inf", "zeros"]), "one"], { op: "mul" })], { op: "add" });
  } else if (mask === "input") {
    inputs.push({ name: "pad", dtype: "f32", shape: [1, 1, lk], role });
    scores = add("binary", [scores, "pad"], { op: "add" });
  } else if (mask) {
    weights.set("mask", tensor("f32", [1, lq, lk], Float32Array.from({ length: lq * lk }, (_, t) => mask(Math.floor(t / lk), t % lk))));
    scores = add("binary", [scores, "mask"], { op: "add" });
  }
  if (c.after !== undefined) {
    weights.set("after", tensor("f32", [1], Float32Array.of(c.after)));
    scores = add("binary", ["after", scores], { op: "mul" });
  }
  const p = add("softmax_axis", [scores], { axis: -1 });
  const out = add("reshape", [add("transpose", [add("batch_matmul", [p, heads4(vIn, lk, [0, 2, 1, 3])])], { perm: [0, 2, 1, 3] })], { shape: [lq, e] });
  const spec = Object.fromEntries([...weights].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]));
  const graph = parseGraph({ format: "rankfn.graph/1", name: "mha", inputs, weights: spec, nodes, outputs: { y: out } });
  inferGraph(graph);
  return { graph, weights };
}

const causal = (i: number, j: number) => (j <= i ? 0 : -Infinity);

/** The compiled and the lowered executor of a case, the batch's outputs of both, and whether it fused. */
function runBoth(c: Case, perRequest: number[], seed: number) {
  const model = chain(c);
  const compiled = compile(model);
  const fused = compiled.model.graph.nodes.filter((n) => n.op === "attention");
  const plain = new Executor(compile(model, { optimize: false }).model);
  const fast = new Executor(compiled.model);
  try {
  const rng = new Rng(seed);
  const n = perRequest.reduce((a, b) => a + b, 0);
  const r = perRequest.length;
  const rows = (c.role ?? "candidate") === "candidate" ? n : r;
  const inputs = Object.fromEntries(model.graph.inputs.map((i) => {
    const width = i.shape.reduce((a, b) => a * b, 1);
    // A padding mask input: 0 or -1e9 per key, never all keys hidden.
    const data =
      i.name === "ids"
        ? BigInt64Array.from({ length: rows * width }, (_, t) => (c.allHidden?.includes(Math.floor(t / width)) || (t % width !== 0 && rng.next() < 0.4) ? 0n : BigInt(1 + rng.int(50))))
        : i.name === "pad"
          ? Float32Array.from({ length: rows * width }, (_, t) => (t % width !== 0 && rng.next() < 0.4 ? -1e9 : 0))
          : rng.floats(rows * width, -2, 2);
    return [i.name, data];
  }));
  const batch = { n, r, requestOfRow: Int32Array.from(perRequest.flatMap((k, i) => Array(k).fill(i))), inputs };
  const want = Float32Array.from(plain.run(batch).y!.data.subarray(0, rows * c.lq * c.heads * c.d));
  const got = Float32Array.from(fast.run(batch).y!.data.subarray(0, rows * c.lq * c.heads * c.d));
  return { fused, summary: compiled.summaries.find((s) => s.startsWith("fuse-attention"))!, got, want, ops: compiled.model.graph.nodes.map((x) => x.op) };
  } finally {
    plain.dispose();
    fast.dispose();
  }
}

function expectClose(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  expect(want.some((v) => v !== 0)).toBe(true);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= 1e-5 + 1e-4 * Math.abs(want[i]!))) throw new Error(`element ${i}: fused ${got[i]}, general ops ${want[i]}`);
  }
}

for (const heads of [1, 3]) {
  for (const l of [1, 7]) {
    for (const [label, mask] of [["no mask", undefined], ["causal mask", causal]] as const) {
      test(`self-attention, ${heads} head(s), L = ${l}, ${label}: fused matches the general ops`, () => {
        const c: Case = { heads, lq: l, lk: l, d: 5, mask };
        const { fused, summary, got, want, ops } = runBoth(c, [3, 1, 9], 7 * heads + l);
        expect(fused).toHaveLength(1);
        // A causal mask over one token hides nothing: it is the unmasked kernel.
        expect(fused[0]!.attrs).toMatchObject({ heads, headDim: 5, qStart: 0, kStart: heads * 5, vStart: 2 * heads * 5, mask: mask && l > 1 ? "causal" : "none" });
        expect(fused[0]!.attrs.scale as number).toBeCloseTo(1 / Math.sqrt(5), 6);
        expect(summary).toStartWith("fuse-attention: 1 multi-head attention -> attention");
        for (const gone of ["softmax_axis", "batch_matmul", "transpose", "slice_nd"]) expect(ops).not.toContain(gone);
        expectClose(got, want);
      });
    }
  }
}

test("cross-attention: one query over 7 keys (q and kv from different values), per request", () => {
  const { fused, got, want } = runBoth({ heads: 3, lq: 1, lk: 7, d: 3, role: "context" }, [2, 5, 1], 41);
  expect(fused).toHaveLength(1);
  expect(fused[0]!.attrs).toMatchObject({ heads: 3, headDim: 3, qStart: 0, kStart: 0, vStart: 9, mask: "none" });
  expectClose(got, want);
});

test("a causal mask aligned to the end of the keys fuses; one aligned to their start (what tril gives for Lq < Lk) does not", () => {
  const end = runBoth({ heads: 3, lq: 3, lk: 7, d: 3, mask: (i, j) => (j <= i + 4 ? 0 : -Infinity) }, [4], 5);
  expect(end.fused).toHaveLength(1);
  expect(end.fused[0]!.attrs.mask).toBe("causal");
  expectClose(end.got, end.want);
  const start = runBoth({ heads: 3, lq: 3, lk: 7, d: 3, mask: causal }, [4], 5);
  expect(start.fused).toHaveLength(0);
  expect(start.summary).toBe("fuse-attention: 0 multi-head attention -> attention");
  expectClose(start.got, start.want);
});

for (const [heads, l] of [[1, 1], [3, 7], [2, 7]] as const) {
  test(`key padding (ids == 0, different in every row), ${heads} head(s), L = ${l}: fused matches the general ops`, () => {
    const { fused, summary, got, want, ops } = runBoth({ heads, lq: l, lk: l, d: 5, mask: "padding" }, [5, 2, 6], 3 * heads + l);
    expect(fused).toHaveLength(1);
    expect(fused[0]!.inputs).toHaveLength(4);
    expect(fused[0]!.attrs.mask).toBe("none");
    expect(summary).toBe(`fuse-attention: 1 multi-head attention -> attention (heads=${heads}, L=${l}, d=5, mask key padding)`);
    for (const gone of ["softmax_axis", "where", "expand"]) expect(ops).not.toContain(gone);
    expectClose(got, want);
  });
}

test("key padding that hides every key of a row: that row gets zeros (PyTorch and the general ops give NaN), the others match", () => {
  const { fused, got, want } = runBoth({ heads: 3, lq: 7, lk: 7, d: 5, mask: "padding", allHidden: [1] }, [4], 17);
  expect(fused).toHaveLength(1);
  const width = 7 * 15;
  expect(want.subarray(width, 2 * width).every(Number.isNaN)).toBe(true);
  expect(got.subarray(width, 2 * width).every((x) => x === 0)).toBe(true);
  expectClose(Float32Array.of(...got.subarray(0, width), ...got.subarray(2 * width)), Float32Array.of(...want.subarray(0, width), ...want.subarray(2 * width)));
});

test("a scalar after the mask scales the scores and the mask: a positive one fuses into the scale, a negative one (which unhides keys) does not", () => {
  const pos = runBoth({ heads: 3, lq: 7, lk: 7, d: 5, mask: causal, after: 0.5 }, [3], 23);
  expect(pos.fused).toHaveLength(1);
  expect(pos.fused[0]!.attrs.mask).toBe("causal");
  expect(pos.fused[0]!.attrs.scale as number).toBeCloseTo(0.5 / Math.sqrt(5), 6);
  expectClose(pos.got, pos.want);
  const padded = runBoth({ heads: 3, lq: 7, lk: 7, d: 5, mask: "padding", after: 2 }, [3], 29);
  expect(padded.fused).toHaveLength(1);
  expectClose(padded.got, padded.want);
  const neg = runBoth({ heads: 3, lq: 7, lk: 7, d: 5, mask: causal, after: -0.5 }, [3], 23);
  expect(neg.fused).toHaveLength(0);
  expect(neg.ops).toContain("softmax_axis");
});

test("masks the kernel cannot express leave the chain as it is: arbitrary constants, and an additive f32 mask that is an input", () => {
  for (const mask of [(i: number, j: number) => (j === 2 ? -Infinity : 0), (i: number, j: number) => 0.5 * (i - j), "input" as const]) {
    const { fused, ops, got, want } = runBoth({ heads: 1, lq: 7, lk: 7, d: 5, mask }, [2, 3], 9);
    expect(fused).toHaveLength(0);
    expect(ops).toContain("softmax_axis");
    expectClose(got, want);
  }
});

test("attention's shape inference names the node and the window that does not fit", () => {
  const g = parseGraph({
    format: "rankfn.graph/1",
    name: "t",
    inputs: [{ name: "x", dtype: "f32", shape: [4, 12], role: "candidate" }],
    weights: {},
    nodes: [{ name: "att", op: "attention", inputs: ["x", "x", "x"], outputs: ["y"], attrs: { heads: 2, headDim: 4, kStart: 8, scale: 0.5 } }],
    outputs: { y: "y" },
  });
  expect(() => inferGraph(g)).toThrow('node "att" (attention): k columns [8, 16) (heads × head width) leave its 12 columns');
  g.nodes[0]!.attrs = { heads: 2, headDim: 3, qStart: 0, kStart: 6, vStart: 6, scale: 0.5 };
  expect(inferGraph(g).values.get("y")).toMatchObject({ dtype: "f32", shape: [4, 6] });
  g.inputs.push({ name: "pad", dtype: "bool", shape: [4], role: "candidate" });
  g.nodes[0]!.inputs.push("pad");
  expect(inferGraph(g).values.get("y")).toMatchObject({ dtype: "f32", shape: [4, 6] });
  g.nodes[0]!.attrs = { ...g.nodes[0]!.attrs, mask: "causal" };
  expect(() => inferGraph(g)).toThrow('node "att" (attention): a key padding mask works with mask "none" only, not "causal"');
  g.inputs[1] = { name: "pad", dtype: "bool", shape: [5], role: "candidate" };
  g.nodes[0]!.attrs = { ...g.nodes[0]!.attrs, mask: "none" };
  expect(() => inferGraph(g)).toThrow("the key padding mask must be bool [N, 4] (one flag per key), got [N, 5]");
});
