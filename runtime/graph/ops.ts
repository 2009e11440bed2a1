// The operators of the graph IR: each declares its attributes (zod) and infers
// its outputs' dtype and per-row shape from its inputs. Inputs that name a
// weight are constants (full shape); the rest are activations (per-row shape).
import { z } from "zod";
import type { DType } from "../tensor/dtype";
import { type Node, type WeightSpec, GraphError } from "./schema";
import { tensorLayoutOps } from "./tensor-layout-ops";
import { sequenceOps } from "./sequence-ops";
import { tensorMathOps } from "./tensor-math-ops";
import { sequenceLayerOps } from "./sequence-layer-ops";

export interface ValueType {
  dtype: DType;
  /** Per-row shape (the batch dimension is implicit). */
  shape: number[];
}

/** An op input: an activation (per-row type) or a weight (full spec). */
export type OpInput = { kind: "value"; name: string; type: ValueType } | { kind: "weight"; name: string; spec: WeightSpec };

export interface OpDef<A = Record<string, unknown>> {
  attrs: z.ZodType<A>;
  infer(inputs: OpInput[], attrs: A, node: Node): ValueType[];
}

const actSchema = z.enum(["none", "relu", "gelu", "silu", "sigmoid", "tanh"]);
const width = (t: ValueType) => t.shape.reduce((a, b) => a * b, 1);

function fail(node: Node, message: string): never {
  throw new GraphError(`node "${node.name}" (${node.op}): ${message}`);
}

function value(node: Node, inputs: OpInput[], i: number, dtypes: DType[] = ["f32"]): ValueType {
  const inp = inputs[i];
  if (!inp) fail(node, `missing input ${i}`);
  if (inp.kind !== "value") fail(node, `input ${i} ("${inp.name}") must be an activation, not a weight`);
  if (!dtypes.includes(inp.type.dtype)) fail(node, `input ${i} ("${inp.name}") has dtype ${inp.type.dtype}, expected ${dtypes.join(" or ")}`);
  return inp.type;
}

function weight(node: Node, inputs: OpInput[], i: number, shape: (number | null)[], dtypes: DType[] = ["f32"]): WeightSpec {
  const inp = inputs[i];
  if (!inp) fail(node, `missing weight input ${i}`);
  if (inp.kind !== "weight") fail(node, `input ${i} ("${inp.name}") must be a weight`);
  if (!dtypes.includes(inp.spec.dtype)) fail(node, `weight "${inp.name}" has dtype ${inp.spec.dtype}, expected ${dtypes.join(" or ")}`);
  const ok = inp.spec.shape.length === shape.length && shape.every((d, j) => d === null || d === inp.spec.shape[j]);
  if (!ok) fail(node, `weight "${inp.name}" has shape [${inp.spec.shape.join(", ")}], expected [${shape.map((d) => d ?? "*").join(", ")}]`);
  return inp.spec;
}

const gemmWeightDTypes: DType[] = ["f32", "bf16", "i8"];
const tableDTypes: DType[] = ["f32", "f16", "bf16", "u8q", "u4q"];
const idDTypes: DType[] = ["i32", "i64"];

const noAttrs = z.object({}).strict();

function unary(): OpDef<object> {
  return {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      if (inputs.length !== 1) fail(node, `expects 1 input, got ${inputs.length}`);
      return [value(node, inputs, 0)];
    },
  };
}

/** Elementwise with a same-shaped activation, a row-broadcast weight, or a context value. */
function binary(): OpDef<object> {
  return {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      if (inputs.length !== 2) fail(node, `expects 2 inputs, got ${inputs.length}`);
      const a = value(node, inputs, 0);
      const b = inputs[1]!;
      const bWidth = b.kind === "value" ? width(b.type) : b.spec.shape.reduce((x, y) => x * y, 1);
      if (b.kind === "value" && b.type.dtype !== "f32") fail(node, `input 1 has dtype ${b.type.dtype}, expected f32`);
      if (b.kind === "weight" && b.spec.dtype !== "f32") fail(node, `weight "${b.name}" has dtype ${b.spec.dtype}, expected f32`);
      if (bWidth !== width(a)) fail(node, `inputs have ${width(a)} and ${bWidth} elements per row`);
      return [a];
    },
  };
}

const linearAttrs = z.object({
  act: actSchema.default("none"),
  /** Per-slot linear (a MatMul of rows [...slots, k] by W): the slot dims; each row is slots × k, the output [...slots, n]. */
  slots: z.array(z.number().int().positive()).max(6).optional(),
}).strict();
const bagAttrs = z.object({ mode: z.enum(["sum", "mean", "gather"]).default("sum"), idPolicy: z.enum(["error", "modulo"]).default("error") }).strict();
const interactionAttrs = z.object({ f: z.number().int().positive(), d: z.number().int().positive(), concatDense: z.boolean().default(false), self: z.boolean().default(false) }).strict();
const epsAttrs = z.object({ eps: z.number().nonnegative().default(1e-5) }).strict();

export const ops: Record<string, OpDef<any>> = {
  /** y = act(x · Wᵀ + b) (+ residual): W [n, k] f32/bf16/i8, b [n]. */
  linear: {
    attrs: linearAttrs,
    infer: (inputs, a, node) => {
      const x = value(node, inputs, 0);
      const slots = (a.slots ?? []).reduce((p: number, q: number) => p * q, 1);
      if (width(x) % slots !== 0) fail(node, `rows of ${width(x)} elements are not ${slots} slots`);
      const w = weight(node, inputs, 1, [null, width(x) / slots], gemmWeightDTypes);
      const n = w.shape[0]!;
      if (inputs[2]) weight(node, inputs, 2, [n]);
      if (inputs[3]) {
        const r = value(node, inputs, 3);
        if (width(r) !== n * slots) fail(node, `residual has ${width(r)} elements per row, expected ${n * slots}`);
      }
      if (inputs.length > 4) fail(node, `expects at most 4 inputs (x, weight, bias, residual)`);
      return [{ dtype: "f32", shape: [...(a.slots ?? []), n] }];
    },
  },
  /** y = x · W with W [k, n] (ONNX orientation); the compiler turns it into linear. */
  matmul: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      const x = value(node, inputs, 0);
      const w = weight(node, inputs, 1, [width(x), null]);
      return [{ dtype: "f32", shape: [w.shape[1]!] }];
    },
  },
  add: binary(),
  sub: binary(),
  mul: binary(),
  div: binary(),
  relu: unary(),
  gelu: unary(),
  silu: unary(),
  sigmoid: unary(),
  tanh: unary(),
  softmax: unary(),
  /** Pooled lookup of a row's ids [L] (padding ids skipped) in table [rows, dim]. */
  embedding_bag: {
    attrs: bagAttrs,
    infer: (inputs, attrs, node) => {
      const ids = value(node, inputs, 0, idDTypes);
      const t = weight(node, inputs, 1, [null, null], tableDTypes);
      if (attrs.mode === "gather" && width(ids) !== 1) fail(node, `mode gather needs exactly 1 id per row, the input has ${width(ids)}`);
      return [{ dtype: "f32", shape: [t.shape[1]!] }];
    },
  },
  /**
   * Unpooled lookup of a row's ids [L] (a behaviour sequence): output [L · dim], slot t is
   * row(ids[t]) of table [rows, dim], or zeros where the slot holds the input's padding id.
   */
  embedding_sequence: {
    attrs: z.object({ idPolicy: z.enum(["error", "modulo"]).default("error") }).strict(),
    infer: (inputs, _a, node) => {
      const ids = value(node, inputs, 0, idDTypes);
      const t = weight(node, inputs, 1, [null, null], tableDTypes);
      return [{ dtype: "f32", shape: [width(ids) * t.shape[1]!] }];
    },
  },
  /**
   * Several embedding bags in one native call (made by the compiler's fusion):
   * inputs are the T id values then the T tables; one pooled output per table.
   */
  embedding_bags: {
    attrs: z.object({ modes: z.array(z.enum(["sum", "mean", "gather"])), idPolicies: z.array(z.enum(["error", "modulo"])) }).strict(),
    infer: (inputs, attrs, node) => {
      const t = inputs.length / 2;
      if (!Number.isInteger(t) || t < 1 || attrs.modes.length !== t || attrs.idPolicies.length !== t) {
        fail(node, `expects T id inputs, T tables and T modes/idPolicies, got ${inputs.length} inputs and ${attrs.modes.length} modes`);
      }
      return Array.from({ length: t }, (_, i) => {
        value(node, inputs, i, idDTypes);
        const table = weight(node, inputs, t + i, [null, null], tableDTypes);
        return { dtype: "f32" as const, shape: [table.shape[1]!] };
      });
    },
  },
  /** A context value (one row per request) repeated for each of the request's candidates. */
  broadcast: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => [value(node, inputs, 0, ["f32", "i32", "i64", "bool"])],
  },
  /** Per-row concatenation along the last dimension. */
  concat: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      if (inputs.length < 1) fail(node, "needs at least one input");
      return [{ dtype: "f32", shape: [inputs.reduce((acc, _i, j) => acc + width(value(node, inputs, j)), 0)] }];
    },
  },
  /** Columns [start, end) of each row. */
  slice: {
    attrs: z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive() }).strict(),
    infer: (inputs, attrs, node) => {
      const x = value(node, inputs, 0);
      if (attrs.end > width(x) || attrs.start >= attrs.end) fail(node, `slice [${attrs.start}, ${attrs.end}) is outside the row's ${width(x)} elements`);
      return [{ dtype: "f32", shape: [attrs.end - attrs.start] }];
    },
  },
  /** Columns `columns` of each row, in that order (constant gathers and strided slices). */
  select: {
    attrs: z.object({ columns: z.array(z.number().int().nonnegative()).min(1) }).strict(),
    infer: (inputs, attrs, node) => {
      const x = value(node, inputs, 0);
      const bad = attrs.columns.find((c: number) => c >= width(x));
      if (bad !== undefined) fail(node, `column ${bad} is outside the row's ${width(x)} elements`);
      return [{ dtype: "f32", shape: [attrs.columns.length] }];
    },
  },
  /** The k largest values of each row in descending order (ties: lower index first), and their indices (i32). */
  top_k: {
    attrs: z.object({ k: z.number().int().positive() }).strict(),
    infer: (inputs, attrs, node) => {
      const x = value(node, inputs, 0);
      if (attrs.k > width(x)) fail(node, `k = ${attrs.k} exceeds the row's ${width(x)} elements`);
      return [
        { dtype: "f32", shape: [attrs.k] },
        { dtype: "i32", shape: [attrs.k] },
      ];
    },
  },
  /** out[j] = x[idx[j]] per row (ONNX GatherElements over the feature axis); an index outside the row fails the request. */
  gather_elements: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      value(node, inputs, 0);
      const idx = value(node, inputs, 1, idDTypes);
      return [{ dtype: "f32", shape: [width(idx)] }];
    },
  },
  /** DLRM pairwise dots of f vectors of d (lower triangle), optionally after the first vector. */
  dot_interaction: {
    attrs: interactionAttrs,
    infer: (inputs, a, node) => {
      const x = value(node, inputs, 0);
      if (width(x) !== a.f * a.d) fail(node, `input has ${width(x)} elements per row, expected f × d = ${a.f * a.d}`);
      return [{ dtype: "f32", shape: [(a.concatDense ? a.d : 0) + (a.self ? (a.f * (a.f + 1)) / 2 : (a.f * (a.f - 1)) / 2)] }];
    },
  },
  /** DCN-v2 cross: x0 ⊙ (W x + b) + x, W [d, d]; low rank: V [r, d], U [d, r]. */
  cross: {
    attrs: z.object({ lowRank: z.boolean().default(false) }).strict(),
    infer: (inputs, a, node) => {
      const x0 = value(node, inputs, 0);
      const x = value(node, inputs, 1);
      const d = width(x);
      if (width(x0) !== d) fail(node, `x0 has ${width(x0)} elements per row, x has ${d}`);
      let next = 3;
      if (a.lowRank) {
        const v = weight(node, inputs, 2, [null, d], gemmWeightDTypes);
        weight(node, inputs, 3, [d, v.shape[0]!], gemmWeightDTypes);
        next = 4;
      } else {
        weight(node, inputs, 2, [d, d], gemmWeightDTypes);
      }
      if (inputs[next]) weight(node, inputs, next, [d]);
      return [{ dtype: "f32", shape: [d] }];
    },
  },
  layer_norm: {
    attrs: epsAttrs,
    infer: (inputs, _a, node) => {
      const x = value(node, inputs, 0);
      for (const i of [1, 2]) if (inputs[i]) weight(node, inputs, i, [width(x)]);
      return [x];
    },
  },
  rms_norm: {
    attrs: epsAttrs,
    infer: (inputs, _a, node) => {
      const x = value(node, inputs, 0);
      if (inputs[1]) weight(node, inputs, 1, [width(x)]);
      return [x];
    },
  },
  /** Inference batch norm: (x - mean) / sqrt(var + eps) * scale + bias; folded into linear. */
  batch_norm: {
    attrs: epsAttrs,
    infer: (inputs, _a, node) => {
      const x = value(node, inputs, 0);
      for (const i of [1, 2, 3, 4]) weight(node, inputs, i, [width(x)]);
      return [x];
    },
  },
  /** Second-order factorization machine term over f fields of d: 0.5 Σ_c ((Σ_i v_ic)² − Σ_i v_ic²). */
  fm: {
    attrs: z.object({ f: z.number().int().positive(), d: z.number().int().positive() }).strict(),
    infer: (inputs, a, node) => {
      const x = value(node, inputs, 0);
      if (width(x) !== a.f * a.d) fail(node, `input has ${width(x)} elements per row, expected f × d = ${a.f * a.d}`);
      return [{ dtype: "f32", shape: [1] }];
    },
  },
  /** Sum of each row's elements. */
  reduce_sum: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      value(node, inputs, 0);
      return [{ dtype: "f32", shape: [1] }];
    },
  },
  /** 1 where an id slot holds an id, 0 where it holds the padding id. */
  padding_mask: {
    attrs: z.object({ padding: z.number().int().default(-1) }).strict(),
    infer: (inputs, _a, node) => [{ dtype: "f32", shape: [width(value(node, inputs, 0, idDTypes))] }],
  },
  /**
   * DIN target attention of a candidate's query [d] over a behaviour sequence keys [T·d] with mask [T]:
   * a_t = w2 · act(W1 [q, k_t, q − k_t, q ⊙ k_t] + b1) + b2, masked; out = Σ_t a_t k_t.
   */
  target_attention: {
    attrs: z.object({ T: z.number().int().positive(), d: z.number().int().positive(), act: actSchema.default("sigmoid") }).strict(),
    infer: (inputs, a, node) => {
      const q = value(node, inputs, 0);
      const keys = value(node, inputs, 1);
      const mask = value(node, inputs, 2);
      if (width(q) !== a.d) fail(node, `query has ${width(q)} elements per row, expected d = ${a.d}`);
      if (width(keys) !== a.T * a.d) fail(node, `keys have ${width(keys)} elements per row, expected T × d = ${a.T * a.d}`);
      if (width(mask) !== a.T) fail(node, `mask has ${width(mask)} elements per row, expected T = ${a.T}`);
      const w1 = weight(node, inputs, 3, [null, 4 * a.d], gemmWeightDTypes);
      const h = w1.shape[0]!;
      weight(node, inputs, 4, [h]);
      weight(node, inputs, 5, [1, h], gemmWeightDTypes);
      weight(node, inputs, 6, [1]);
      return [{ dtype: "f32", shape: [a.d] }];
    },
  },
  /** Σ_e gate[e] · expert_e: inputs gate [E], then E expert outputs [d]. */
  mixture: {
    attrs: noAttrs,
    infer: (inputs, _a, node) => {
      const gate = value(node, inputs, 0);
      const e = width(gate);
      if (inputs.length !== e + 1) fail(node, `gate has ${e} entries, but ${inputs.length - 1} experts are given`);
      const d = width(value(node, inputs, 1));
      for (let i = 2; i <= e; i++) if (width(value(node, inputs, i)) !== d) fail(node, `expert ${i - 1} has a different width than expert 0 (${d})`);
      return [{ dtype: "f32", shape: [d] }];
    },
  },
  /**
   * Sparse mixture of experts over the top-k gate logits l = x · Gᵀ + g: routing "softmax"
   * weighs the k chosen experts by softmax over their logits; routing "relu" (RankMixer's ReLU
   * routing) by relu(l), so an expert whose logit is <= 0 gets weight 0 and is not computed —
   * each row runs between 0 and k experts (k = E: every expert with a positive logit).
   * Experts are two-layer MLPs act(x W1ᵀ + b1) W2ᵀ + b2, combined by gate weight.
   * Inputs: x, G [E, d], g [E], then per expert W1 [h, d], b1 [h], W2 [d_out, h], b2 [d_out].
   */
  moe: {
    attrs: z.object({ experts: z.number().int().positive(), topK: z.number().int().positive(), act: actSchema.default("relu"), routing: z.enum(["softmax", "relu"]).default("softmax") }).strict(),
    infer: (inputs, a, node) => {
      const x = value(node, inputs, 0);
      const d = width(x);
      if (a.topK > a.experts) fail(node, `topK ${a.topK} exceeds the ${a.experts} experts`);
      if (inputs.length !== 3 + 4 * a.experts) fail(node, `expects x, gate weight, gate bias and 4 weights per expert (${3 + 4 * a.experts} inputs), got ${inputs.length}`);
      weight(node, inputs, 1, [a.experts, d], gemmWeightDTypes);
      weight(node, inputs, 2, [a.experts]);
      let out = -1;
      for (let e = 0; e < a.experts; e++) {
        const base = 3 + 4 * e;
        const w1 = weight(node, inputs, base, [null, d], gemmWeightDTypes);
        weight(node, inputs, base + 1, [w1.shape[0]!]);
        const w2 = weight(node, inputs, base + 2, [null, w1.shape[0]!], gemmWeightDTypes);
        if (out >= 0 && w2.shape[0] !== out) fail(node, `expert ${e} outputs ${w2.shape[0]} features, expert 0 outputs ${out}`);
        out = w2.shape[0]!;
        weight(node, inputs, base + 3, [out]);
      }
      return [{ dtype: "f32", shape: [out] }];
    },
  },
  /**
   * Dense experts run expert-parallel (a lowering made only when a model runs on devices,
   * runtime/moe/group-experts.ts): chain c = linear layers over activation input
   * `chains[c].input`; output c = the chain's last layer. Inputs: the chains' activation
   * inputs, then per chain per layer W [n, k], b [n]. Every row runs through every chain.
   */
  experts: {
    attrs: z.object({ chains: z.array(z.object({ input: z.number().int().nonnegative(), acts: z.array(actSchema).min(1) })).min(1) }).strict(),
    infer: (inputs, a, node) => {
      const valueCount = inputs.findIndex((i) => i.kind === "weight");
      if (valueCount <= 0) fail(node, "expects activation inputs before the weights");
      let at = valueCount;
      const out = a.chains.map((chain: { input: number; acts: string[] }, c: number) => {
        if (chain.input >= valueCount) fail(node, `chain ${c} reads input ${chain.input}, there are ${valueCount}`);
        let w = width(value(node, inputs, chain.input));
        for (let l = 0; l < chain.acts.length; l++) {
          const spec = weight(node, inputs, at, [null, w], gemmWeightDTypes);
          w = spec.shape[0]!;
          weight(node, inputs, at + 1, [w]);
          at += 2;
        }
        return { dtype: "f32" as const, shape: [w] };
      });
      if (at !== inputs.length) fail(node, `expects ${at} inputs, got ${inputs.length}`);
      return out;
    },
  },
  // The general tensor ops every imported ONNX op runs on (fusions rewrite them into the ops above).
  ...tensorMathOps,
  ...tensorLayoutOps,
  // Fused sequence ops (attention) the compiler rewrites general chains into.
  ...sequenceOps,
  // Sequence models: HSTU layer halves, RankMixer token mixing and grouped linear.
  ...sequenceLayerOps,
};

export type OpName = keyof typeof ops;
