// Fused sequence ops of the graph IR. `attention` is multi-head softmax
// attention over each row's own tokens (made by the compiler's fuse-attention
// from the MatMul / Softmax / MatMul chain nn.MultiheadAttention exports as;
// it runs on rf_seq_attention). Q, K and V may be column windows of one value
// (a fused QKV projection), so the projection's output is read in place.
// `pointwise_attention` is HSTU's softmax-free attention (made by
// fuse-hstu-attention from the MatMul / SiLU / scale / mask / MatMul chain an
// exported HSTU layer is; it runs on rf_hstu_attention).
// `gru_sequence` is the recurrence of an ONNX GRU over each row's steps (the
// input projection of every step is one GEMM before it; rf_gru_sequence).
import { z } from "zod";
import { activation, failNode } from "./op-inputs";
import type { OpDef, OpInput, ValueType } from "./ops";
import type { Node } from "./schema";

const attentionAttrs = z.object({
  heads: z.number().int().positive(),
  /** Width of one head of Q and K. */
  headDim: z.number().int().positive(),
  /** Width of one head of V and of the output (default headDim). */
  valueDim: z.number().int().positive().optional(),
  /** First column of Q's heads in input 0's last axis (K's in input 1, V's in input 2). */
  qStart: z.number().int().nonnegative().default(0),
  kStart: z.number().int().nonnegative().default(0),
  vStart: z.number().int().nonnegative().default(0),
  /** Multiplies q·k before the softmax. */
  scale: z.number().finite(),
  /** rf_seq_mask names (runtime/ffi/sequence-ops.ts seqMasks). none: every key; causal: query i sees keys j <= i + Lk − Lq (aligned to the end, so Lq <= Lk). */
  mask: z.enum(["none", "causal"]).default("none"),
  /**
   * The keys are a history's events: input 3 is then that history's ids [Lk] (a declared sequence,
   * left-padded with `padding`), and only its slots after the leading padding run are keys (and, when
   * q is the same tokens, queries) — the request's events, with any mask over them. Padded query
   * slots get zeros.
   */
  events: z.object({ padding: z.number().int() }).strict().optional(),
}).strict();
export type AttentionAttrs = z.infer<typeof attentionAttrs>;

/** q, k, v of an attention op: per row [L, columns], each head window inside its columns, k and v of one length. */
function checkQkv(node: Node, inputs: OpInput[], a: AttentionAttrs | PointwiseAttentionAttrs) {
  const [q, k, v] = [0, 1, 2].map((i) => activation(node, inputs, i, ["f32"])) as [ValueType, ValueType, ValueType];
  for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) {
    if (t.shape.length !== 2) failNode(node, `${name} must be [N, L, columns] (per row [L, columns]), got [N, ${t.shape.join(", ")}]`);
  }
  const dv = a.valueDim ?? a.headDim;
  const window = (name: string, t: { shape: number[] }, start: number, width: number) => {
    if (start + width > t.shape[1]!) failNode(node, `${name} columns [${start}, ${start + width}) (heads × head width) leave its ${t.shape[1]} columns`);
  };
  window("q", q, a.qStart, a.heads * a.headDim);
  window("k", k, a.kStart, a.heads * a.headDim);
  window("v", v, a.vStart, a.heads * dv);
  const [lq, lk] = [q.shape[0]!, k.shape[0]!];
  if (v.shape[0] !== lk) failNode(node, `v has ${v.shape[0]} tokens, k has ${lk}`);
  if (lk < 1) failNode(node, "k and v need at least one token");
  return { q, k, v, dv, lq, lk };
}

/**
 * out[i, h·dv + c] = Σ_j softmax_j(scale · q[i, h] · k[j, h] + mask(i, j)) v[j, h, c] per row:
 * q [Lq, Cq], k [Lk, Ck], v [Lk, Cv] (activations of one role), head h of q at columns
 * qStart + h·headDim (k, v likewise); out [Lq, heads·valueDim]. An optional 4th input, bool [Lk]
 * (nn.MultiheadAttention's key_padding_mask: true = padding), hides those keys of the row
 * (mask none only); a row whose keys are all hidden gets zeros (PyTorch gives NaN).
 */
const attention: OpDef<AttentionAttrs> = {
  attrs: attentionAttrs,
  infer: (inputs, a, node) => {
    if (inputs.length !== 3 && inputs.length !== 4) failNode(node, `expects q, k, v and an optional key padding mask (or, with events, the history's ids); got ${inputs.length} inputs`);
    if (a.events && inputs.length !== 4) failNode(node, "events: input 3 must be the history's ids");
    const { k, dv, lq, lk } = checkQkv(node, inputs, a);
    if (a.events) {
      const ids = activation(node, inputs, 3, ["i32", "i64"]);
      if (ids.shape.join() !== String(k!.shape[0])) failNode(node, `events: input 3 must be the history's ids [${k!.shape[0]}] (one per key), got [N, ${ids.shape.join(", ")}]`);
    } else if (inputs[3]) {
      const padding = activation(node, inputs, 3, ["bool"]);
      if (padding.shape.join() !== String(lk)) failNode(node, `the key padding mask must be bool [N, ${lk}] (one flag per key), got [N, ${padding.shape.join(", ")}]`);
      // Hidden keys are dropped before the kernel runs, which would shift a causal mask's positions.
      if (a.mask !== "none") failNode(node, `a key padding mask works with mask "none" only, not "${a.mask}"`);
    }
    if (a.mask === "causal" && lq > lk) failNode(node, `a causal mask with ${lq} queries over ${lk} keys leaves the first queries nothing to attend to`);
    return [{ dtype: "f32", shape: [lq, a.heads * dv] }];
  },
};

const pointwiseAttrs = attentionAttrs.omit({ events: true }).extend({
  /** The attention is divided by this length (generative-recommenders' padded length). */
  normLen: z.number().int().positive(),
}).strict();
export type PointwiseAttentionAttrs = z.infer<typeof pointwiseAttrs>;

/**
 * out[i, h·dv + c] = Σ_{visible j} SiLU(scale · q[i, h] · k[j, h] + rab(h, i, j)) / normLen · v[j, h, c] per
 * row (q, k, v as for attention). Optional inputs after v: a weight [heads, buckets], the relative bias
 * by log buckets of |(i + Lk − Lq) − j| (rankfn.h's rab table), and then a bool [Lk] per row, the keys'
 * visible flags (false = a padded key nobody sees; the mask and the bias keep the tokens' positions).
 */
const pointwiseAttention: OpDef<PointwiseAttentionAttrs> = {
  attrs: pointwiseAttrs,
  infer: (inputs, a, node) => {
    if (inputs.length < 3 || inputs.length > 5) failNode(node, `expects q, k, v, an optional rab table and optional visible flags; got ${inputs.length} inputs`);
    const { k, dv, lq, lk } = checkQkv(node, inputs, a);
    if (a.mask === "causal" && lq > lk) failNode(node, `a causal mask with ${lq} queries over ${lk} keys leaves the first queries nothing to attend to`);
    let at = 3;
    const rab = inputs[at];
    if (rab?.kind === "weight") {
      if (rab.spec.dtype !== "f32" || rab.spec.shape.length !== 2 || rab.spec.shape[0] !== a.heads || rab.spec.shape[1]! < 1) {
        failNode(node, `the rab table must be an f32 weight [${a.heads}, buckets], got ${rab.spec.dtype} [${rab.spec.shape.join(", ")}]`);
      }
      at++;
    }
    if (inputs[at]) {
      const visible = activation(node, inputs, at, ["bool"]);
      if (visible.shape.join() !== String(lk)) failNode(node, `the visible flags must be bool [N, ${lk}] (one per key), got [N, ${visible.shape.join(", ")}]`);
      // Compacting the visible keys keeps causality only when every query is a key's token.
      if (a.mask === "causal" && lq !== lk) failNode(node, `visible flags with a causal mask need as many queries as keys, got ${lq} and ${lk}`);
      at++;
    }
    if (at !== inputs.length) failNode(node, `input ${at} must be the rab table (a weight) or the visible flags (bool [N, ${lk}])`);
    return [{ dtype: "f32", shape: [lq, a.heads * dv] }];
  },
};

/**
 * The candidate half of a causal pointwise_attention whose tokens are a request's history (a context
 * value) followed by each candidate's own token (compiler/split-history-tokens.ts): q, k, v [1, C]
 * per candidate row, hk, hv [Lh, C] per request (the history's K and V, read in place); the
 * candidate at position Lh sees every visible history token and itself. Then an optional rab
 * table (a weight, as for pointwise_attention) and optional visible flags: bool [1] per candidate
 * and bool [Lh] per request, both or neither.
 */
const pointwiseAttentionCandidates: OpDef<PointwiseAttentionAttrs> = {
  attrs: pointwiseAttrs,
  infer: (inputs, a, node) => {
    if (inputs.length < 5 || inputs.length > 8) failNode(node, `expects q, k, v, history k and v, an optional rab table and optional visible flags; got ${inputs.length} inputs`);
    const [q, k, v, hk, hv] = [0, 1, 2, 3, 4].map((i) => activation(node, inputs, i, ["f32"]));
    if (a.mask !== "causal") failNode(node, `the candidates' half needs mask "causal" (the history before them), got "${a.mask}"`);
    for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) {
      if (t!.shape.join() !== [1, t!.shape[1]].join()) failNode(node, `${name} must be one token per candidate, [N, 1, columns], got [N, ${t!.shape.join(", ")}]`);
    }
    const lh = hk!.shape[0]!;
    if (hk!.shape.length !== 2 || hv!.shape.length !== 2 || hv!.shape[0] !== lh || hk!.shape[1] !== k!.shape[1] || hv!.shape[1] !== v!.shape[1]) {
      failNode(node, `history k and v must be [Lh, columns] with the columns of k and v, got [${hk!.shape.join(", ")}] and [${hv!.shape.join(", ")}]`);
    }
    const dv = a.valueDim ?? a.headDim;
    let at = 5;
    if (inputs[at]?.kind === "weight") {
      const rab = inputs[at]!;
      if (rab.kind !== "weight" || rab.spec.dtype !== "f32" || rab.spec.shape.length !== 2 || rab.spec.shape[0] !== a.heads) failNode(node, `the rab table must be an f32 weight [${a.heads}, buckets]`);
      at++;
    }
    if (inputs[at]) {
      const [own, history] = [activation(node, inputs, at, ["bool"]), activation(node, inputs, at + 1, ["bool"])];
      if (own.shape.join() !== "1" || history.shape.join() !== String(lh)) failNode(node, `visible flags must be bool [N, 1] per candidate and [N, ${lh}] for the history`);
      at += 2;
    }
    if (at !== inputs.length) failNode(node, `input ${at} must be the rab table or the visible flags`);
    return [{ dtype: "f32", shape: [1, a.heads * dv] }];
  },
};

const gruAttrs = z.object({ linearBeforeReset: z.boolean().default(false), reverse: z.boolean().default(false) }).strict();

/**
 * The GRU recurrence over each row's steps: gx [L, 3h] holds x_t·Wᵀ + Wb per step (gates
 * z | r | n), rt [h, 3h] the recurrent weights transposed, rb [3h] their bias, and an optional
 * 4th input the initial state [h] per row (zeros without); out [L, h] is every step's state, in
 * step order also when `reverse` runs them last to first (rankfn.h rf_gru_sequence).
 */
const gruSequence: OpDef<z.infer<typeof gruAttrs>> = {
  attrs: gruAttrs,
  infer: (inputs, _a, node) => {
    if (inputs.length < 3 || inputs.length > 4) failNode(node, `expects gx, rt, rb and an optional initial state; got ${inputs.length} inputs`);
    const gx = activation(node, inputs, 0, ["f32"]);
    const rt = inputs[1]!;
    if (rt.kind !== "weight" || rt.spec.dtype !== "f32" || rt.spec.shape.length !== 2 || rt.spec.shape[1] !== 3 * rt.spec.shape[0]!) {
      failNode(node, `rt must be a float weight [h, 3h]`);
    }
    const h = rt.spec.shape[0]!;
    if (gx.shape.length !== 2 || gx.shape[1] !== 3 * h) failNode(node, `gx must be [N, L, 3·${h}] (per row [L, ${3 * h}]), got [N, ${gx.shape.join(", ")}]`);
    const rb = inputs[2]!;
    if (rb.kind !== "weight" || rb.spec.dtype !== "f32" || rb.spec.shape.join() !== String(3 * h)) failNode(node, `rb must be a float weight [${3 * h}]`);
    if (inputs[3]) {
      const h0 = activation(node, inputs, 3, ["f32"]);
      if (h0.shape.reduce((p, q) => p * q, 1) !== h) failNode(node, `the initial state must hold ${h} values per row, got [N, ${h0.shape.join(", ")}]`);
    }
    return [{ dtype: "f32", shape: [gx.shape[0]!, h] }];
  },
};

export const sequenceOps: Record<string, OpDef<any>> = { attention, pointwise_attention: pointwiseAttention, pointwise_attention_candidates: pointwiseAttentionCandidates, gru_sequence: gruSequence };
