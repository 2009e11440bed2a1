// GraphBuilder helpers for the sequence ops (runtime/graph/sequence-layer-ops.ts):
// an HSTU layer emitted as its two halves over shared weights, RankMixer
// token mixing, grouped (per-token) linear layers and per-token layer norm.
// Weight names are `${prefix}.<name>`, documented per helper.
import type { GraphBuilder } from "./builder";
import type { Activation } from "../ffi/activations";

export interface HstuLayerOptions {
  heads: number;
  qkDim: number;
  vDim: number;
  /** Relative-bias buckets (log-distance); 0: no rab. */
  rabBuckets: number;
  padding?: number;
  eps?: number;
  /** Bias by timestamp distance: the history's timestamps [L] and the request's time [1] (context, i64). */
  time?: { timestamps: string; now: string };
}

/**
 * One HSTU layer over a history (context [L·d], ids [L]) and its candidates ([d]):
 * weights `${prefix}.W1` [2H·dv + 2H·dqk, d] (rows U | V | Q | K), `.b1`, `.gamma`/`.beta` [H·dv],
 * `.W2` [d, H·dv], `.b2` [d], `.rab` [H, buckets]. Returns the next history and candidate tokens.
 */
export function hstuLayer(b: GraphBuilder, history: string, ids: string, candidates: string, o: HstuLayerOptions, prefix: string): { history: string; candidates: string } {
  const d = b.width(candidates);
  const L = b.width(ids);
  const hv = o.heads * o.vDim;
  const rows = 2 * hv + 2 * o.heads * o.qkDim;
  const w1 = b.randomWeight(`${prefix}.W1`, [rows, d], Math.sqrt(6 / (d + rows)));
  const b1 = b.randomWeight(`${prefix}.b1`, [rows], 0.01);
  const gamma = b.randomWeight(`${prefix}.gamma`, [hv], 0.1, 1);
  const beta = b.randomWeight(`${prefix}.beta`, [hv], 0.01);
  const w2 = b.randomWeight(`${prefix}.W2`, [d, hv], Math.sqrt(6 / (d + hv)));
  const b2 = b.randomWeight(`${prefix}.b2`, [d], 0.01);
  const weights = [w1, b1, gamma, beta, w2, b2];
  if (o.rabBuckets > 0) weights.push(b.randomWeight(`${prefix}.rab`, [o.heads, o.rabBuckets], 0.5));
  const attrs = {
    heads: o.heads, qkDim: o.qkDim, vDim: o.vDim, ...(o.padding === undefined ? {} : { padding: o.padding }), ...(o.eps === undefined ? {} : { eps: o.eps }), ...(o.time ? { rabBy: "time" } : {}),
  };
  const ts = o.time ? [o.time.timestamps] : [];
  const [h, kv] = b.nodeOutputs("hstu_history", [history, ids, ...ts, ...weights], [L * d, L * o.heads * (o.qkDim + o.vDim)], attrs, `${prefix}.history`) as [string, string];
  const c = b.node("hstu_candidates", [candidates, kv, ids, ...(o.time ? [o.time.timestamps, o.time.now] : []), ...weights], d, attrs, `${prefix}.candidates`);
  return { history: h, candidates: c };
}

/** RankMixer token mixing of `tokens` tokens into as many heads (the shape is kept). */
export function tokenMix(b: GraphBuilder, x: string, tokens: number, name: string): string {
  return b.node("token_mix", [x], b.width(x), { tokens, heads: tokens }, name);
}

/** Per-group linear: weights `${prefix}.weight` [groups, n, k] and `${prefix}.bias` [groups·n]. */
export function groupedLinear(b: GraphBuilder, x: string, groups: number, n: number, act: Activation, prefix: string): string {
  const k = b.width(x) / groups;
  const rectified = act === "relu" || act === "gelu" || act === "silu";
  const w = b.randomWeight(`${prefix}.weight`, [groups, n, k], Math.sqrt(6 / (rectified ? k : k + n)));
  const bias = b.randomWeight(`${prefix}.bias`, [groups * n], 0.01);
  return b.node("grouped_linear", [x, w, bias], groups * n, { groups, act }, prefix);
}

/** Layer norm of each of `tokens` tokens (weights `${prefix}.gamma`/`.beta` [token width], shared by the tokens). */
export function tokenLayerNorm(b: GraphBuilder, x: string, tokens: number, prefix: string): string {
  const w = b.width(x);
  const D = w / tokens;
  const gamma = b.randomWeight(`${prefix}.gamma`, [D], 0.1, 1);
  const beta = b.randomWeight(`${prefix}.beta`, [D], 0.01);
  const t = b.node("reshape", [x], w, { shape: [tokens, D] }, `${prefix}.tokens`);
  const n = b.node("layer_norm_axis", [t, gamma, beta], w, { axis: -1 }, prefix);
  return b.node("reshape", [n], w, { shape: [w] }, `${prefix}.flat`);
}
