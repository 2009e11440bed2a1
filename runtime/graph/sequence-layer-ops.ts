// IR ops of the sequence models (issue 15), whole layers: the HSTU layer, split into its
// history half (context: runs once per request) and its candidate half
// (candidate rows attending to their request's history K/V, M-FALCON), and
// RankMixer's token mixing and per-token (grouped) linear layers. Steps:
// runtime/engine/steps/sequence-layers.ts.
import { z } from "zod";
import type { DType } from "../tensor/dtype";
import { activation, failNode } from "./op-inputs";
import type { OpDef, OpInput } from "./ops";
import type { Node, WeightSpec } from "./schema";

const width = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const idDTypes: DType[] = ["i32", "i64"];
const gemmWeightDTypes: DType[] = ["f32", "bf16", "i8"];

function weightAt(node: Node, inputs: OpInput[], i: number, shape: number[], what: string, dtypes: DType[] = ["f32"]): WeightSpec {
  const inp = inputs[i];
  if (!inp) failNode(node, `missing input ${i} (${what})`);
  if (inp.kind !== "weight") failNode(node, `input ${i} ("${inp.name}", ${what}) must be a weight`);
  if (!dtypes.includes(inp.spec.dtype)) failNode(node, `weight "${inp.name}" (${what}) has dtype ${inp.spec.dtype}, expected ${dtypes.join(" or ")}`);
  const ok = inp.spec.shape.length === shape.length && shape.every((d, j) => d === inp.spec.shape[j]);
  if (!ok) failNode(node, `weight "${inp.name}" (${what}) has shape [${inp.spec.shape.join(", ")}], expected [${shape.join(", ")}]`);
  return inp.spec;
}

const hstuAttrs = z
  .object({
    heads: z.number().int().positive(),
    /** Per-head width of Q and K. */
    qkDim: z.number().int().positive(),
    /** Per-head width of U and V. */
    vDim: z.number().int().positive(),
    /** Multiplies Q·Kᵀ (default 1/sqrt(qkDim)). */
    scale: z.number().finite().optional(),
    eps: z.number().nonnegative().default(1e-6),
    /** The history ids' padding id: the leading run of it is the empty (oldest) side. */
    padding: z.number().int().default(-1),
    /**
     * What the relative bias buckets: "position" (event index distance; a candidate sits after the
     * last event) or "time" (timestamp distance: each event's, and the request's for candidates).
     */
    rabBy: z.enum(["position", "time"]).default("position"),
  })
  .strict();
export type HstuAttrs = z.infer<typeof hstuAttrs>;

/** Shapes every HSTU half shares; `at` is the index of W1 (then b1, gamma, beta, W2, b2, rab?). */
function hstuWeights(node: Node, inputs: OpInput[], at: number, d: number, a: HstuAttrs): void {
  const hv = a.heads * a.vDim;
  const w1Rows = 2 * hv + 2 * a.heads * a.qkDim;
  weightAt(node, inputs, at, [w1Rows, d], "W1, rows U | V | Q | K", gemmWeightDTypes);
  weightAt(node, inputs, at + 1, [w1Rows], "b1");
  weightAt(node, inputs, at + 2, [hv], "norm gamma");
  weightAt(node, inputs, at + 3, [hv], "norm beta");
  weightAt(node, inputs, at + 4, [d, hv], "W2", gemmWeightDTypes);
  weightAt(node, inputs, at + 5, [d], "b2");
  const rab = inputs[at + 6];
  if (rab) {
    if (rab.kind !== "weight" || rab.spec.dtype !== "f32" || rab.spec.shape.length !== 2 || rab.spec.shape[0] !== a.heads || rab.spec.shape[1]! < 1) {
      failNode(node, `input ${at + 6} (rab) must be an f32 weight [heads = ${a.heads}, buckets >= 1]`);
    }
  }
  if (inputs.length > at + 7) failNode(node, `expects at most ${at + 7} inputs, got ${inputs.length}`);
}

/**
 * HSTU layer over each request's history (context): inputs x [L·d] (token t = slot t,
 * oldest first), ids [L] (the history ids; the leading padding run is empty), W1 [2H·dv + 2H·dqk, d],
 * b1, gamma [H·dv], beta [H·dv], W2 [d, H·dv], b2 [d], rab [H, buckets] (optional).
 * U, V, Q, K = split(SiLU(x·W1ᵀ + b1)); A = Σ_{j ≤ i} SiLU(scale·q_i·k_j + rab(i − j)) / L · v_j;
 * y = (LayerNorm(A) ⊙ U)·W2ᵀ + b2 + x on the events, y = x on the empty slots.
 * Outputs y [L·d] and kv [L·H·(dqk + dv)] (each token's K then V, for the candidate half).
 * With rabBy "time", the history's timestamps i64 [L] follow ids, and rab buckets |ts_i − ts_j|.
 */
/** rabBy "time": the timestamps input at `at` (i64 [L]) and, for candidates, the request's time at `at + 1` (i64 [1]); returns the index of W1. */
function timeInputs(node: Node, inputs: OpInput[], at: number, L: number, a: HstuAttrs, candidates: boolean): number {
  if (a.rabBy !== "time") return at;
  const ts = activation(node, inputs, at, ["i64"]);
  if (width(ts.shape) !== L) failNode(node, `timestamps (input ${at}) have ${width(ts.shape)} elements per row, expected L = ${L}`);
  if (!candidates) return at + 1;
  if (width(activation(node, inputs, at + 1, ["i64"]).shape) !== 1) failNode(node, `the request time (input ${at + 1}) must have 1 element per row`);
  return at + 2;
}

const hstuHistory: OpDef<HstuAttrs> = {
  attrs: hstuAttrs,
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    const ids = activation(node, inputs, 1, idDTypes);
    const L = width(ids.shape);
    if (width(x.shape) % L !== 0) failNode(node, `x has ${width(x.shape)} elements per row, not L = ${L} tokens (the ids' width) of equal width`);
    const d = width(x.shape) / L;
    hstuWeights(node, inputs, timeInputs(node, inputs, 2, L, a, false), d, a);
    return [
      { dtype: "f32", shape: [L * d] },
      { dtype: "f32", shape: [L * a.heads * (a.qkDim + a.vDim)] },
    ];
  },
};

/**
 * HSTU layer over the candidates (M-FALCON): inputs x [d] (a candidate's token), kv [L·H·(dqk + dv)]
 * and ids [L] of its request's history (context, read per request, never broadcast), then the
 * weights of the same layer as hstu_history. Each candidate attends to its history's events and to
 * itself, never to another candidate: A = Σ_{j event} SiLU(scale·q·k_j + rab(n − j)) / L · v_j
 * + SiLU(scale·q·k_self + rab(0)) / L · v_self, n the number of events; y as for hstu_history.
 * With rabBy "time", the history's timestamps i64 [L] and the request's time i64 [1] (context) follow
 * ids, and the history term buckets |now − ts_j|.
 */
const hstuCandidates: OpDef<HstuAttrs> = {
  attrs: hstuAttrs,
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    const kv = activation(node, inputs, 1, ["f32"]);
    const ids = activation(node, inputs, 2, idDTypes);
    const L = width(ids.shape);
    const per = a.heads * (a.qkDim + a.vDim);
    if (width(kv.shape) !== L * per) failNode(node, `kv has ${width(kv.shape)} elements per row, expected L × H × (qkDim + vDim) = ${L * per}`);
    const d = width(x.shape);
    hstuWeights(node, inputs, timeInputs(node, inputs, 3, L, a, true), d, a);
    return [{ dtype: "f32", shape: [d] }];
  },
};

/** RankMixer token mixing (rf_token_mix): x [T·D] → output token h = head h of every token, concatenated. */
const tokenMix: OpDef<{ tokens: number; heads: number }> = {
  attrs: z.object({ tokens: z.number().int().positive(), heads: z.number().int().positive() }).strict(),
  infer: (inputs, a, node) => {
    if (inputs.length !== 1) failNode(node, `expects 1 input, got ${inputs.length}`);
    const x = activation(node, inputs, 0, ["f32"]);
    const w = width(x.shape);
    if (w % a.tokens !== 0) failNode(node, `rows of ${w} elements are not ${a.tokens} tokens of equal width`);
    if ((w / a.tokens) % a.heads !== 0) failNode(node, `the token width ${w / a.tokens} does not split into ${a.heads} heads`);
    return [{ dtype: "f32", shape: [w] }];
  },
};

/** Per-group linear (rf_grouped_gemm, RankMixer's per-token FFN): x [G·k], W [G, n, k], b [G·n]: y_g = act(x_g · W_gᵀ + b_g), y [G·n]. */
const groupedLinear: OpDef<{ groups: number; act: "none" | "relu" | "gelu" | "silu" | "sigmoid" | "tanh" }> = {
  attrs: z.object({ groups: z.number().int().positive(), act: z.enum(["none", "relu", "gelu", "silu", "sigmoid", "tanh"]).default("none") }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    const w = width(x.shape);
    if (w % a.groups !== 0) failNode(node, `rows of ${w} elements are not ${a.groups} groups of equal width`);
    const k = w / a.groups;
    const wi = inputs[1];
    if (!wi || wi.kind !== "weight" || wi.spec.dtype !== "f32" || wi.spec.shape.length !== 3 || wi.spec.shape[0] !== a.groups || wi.spec.shape[2] !== k) {
      failNode(node, `input 1 must be an f32 weight [groups = ${a.groups}, n, k = ${k}]`);
    }
    const n = wi.spec.shape[1]!;
    if (inputs[2]) weightAt(node, inputs, 2, [a.groups * n], "bias");
    if (inputs.length > 3) failNode(node, `expects at most 3 inputs (x, weight, bias), got ${inputs.length}`);
    return [{ dtype: "f32", shape: [a.groups * n] }];
  },
};

export const sequenceLayerOps = {
  hstu_history: hstuHistory,
  hstu_candidates: hstuCandidates,
  token_mix: tokenMix,
  grouped_linear: groupedLinear,
};
