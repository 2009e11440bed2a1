// HSTU (Zhai et al. 2024, "Actions Speak Louder than Words"), DLRMv3-like: the
// user's history of (item, action) events is encoded by N HSTU layers (pointwise
// SiLU attention with a relative-position bias, gated by U); each candidate item
// is a token that attends to the history and to itself (M-FALCON), and a head
// scores its final token.
//
// Sequence representation: context inputs "hist_items" and "hist_actions", i64 [L]
// with padding -1, oldest event first and padded on the oldest side (slot t < L − n
// is -1 for a history of n events). They are declared sequences of one group: a
// request may send any n events ([n] or [1, n]) and the stager pads them; beyond L
// the most recent L are kept and the response reports the truncation. Token t = item_emb(hist_items[t]) +
// action_emb(hist_actions[t]) (a padded id looks up zeros). The history half of every
// layer runs once per request; candidates read its K/V (runtime/engine/steps/sequence-layers.ts).
//
// Inputs: "hist_items" i64 [L] (context), "hist_actions" i64 [L] (context),
// "item_id" i64 [1] (candidate); with rab "time" also "hist_ts" i64 [L] (each event's
// time, e.g. seconds) and "request_ts" i64 [1] (the request's time), both context, and the
// bias buckets log time distances instead of event distances.
// Weights: item.table [itemRows, d] (shared by the
// history and the candidates), action.table [actions, d]; hstu_l.{W1, b1, gamma, beta,
// W2, b2, rab} per layer l (runtime/graph/sequence-layers.ts); head.{i}.{weight,bias}
// over concat(final candidate token, candidate embedding). Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { hstuLayer } from "../../runtime/graph/sequence-layers";
import { type CommonOptions, badOption, bagShared, checkSizes, historyInput, mlp, resolve, scaleRows, sparseInput } from "./common";

export interface HstuOptions extends CommonOptions {
  /** Model width d (token embeddings and every layer's input and output). */
  embeddingDim: number;
  layers: number;
  heads: number;
  /** Per-head width of Q and K. */
  qkDim: number;
  /** Per-head width of U and V. */
  vDim: number;
  /** History length L: the most events kept per request (older ones are dropped; shorter histories are padded). */
  historyLength: number;
  /** Production item table rows (scaled by `scale`). */
  itemRows: number;
  /** Action types (not scaled). */
  actions: number;
  /** Relative bias buckets (log distance); 0 turns the bias off. */
  rabBuckets: number;
  /** The bias's distance: event positions, or timestamps (adds inputs "hist_ts" [L] and "request_ts" [1]; bucket b >= 1 holds distances in [2^(b-1), 2^b), so give time enough buckets). */
  rab: "position" | "time";
  head: readonly number[];
}

export const hstuDefaults: HstuOptions = {
  seed: 1,
  scale: 0.001,
  embeddingDim: 64,
  layers: 2,
  heads: 2,
  qkDim: 32,
  vDim: 32,
  historyLength: 64,
  itemRows: 10_000_000,
  actions: 8,
  rabBuckets: 12,
  rab: "position",
  head: [64, 1],
};

export function hstuOptions(options: Partial<HstuOptions> = {}): HstuOptions & { itemTableRows: number } {
  const o = resolve("hstu", hstuDefaults, options);
  checkSizes("hstu", { embeddingDim: o.embeddingDim, layers: o.layers, heads: o.heads, qkDim: o.qkDim, vDim: o.vDim, historyLength: o.historyLength, itemRows: o.itemRows, actions: o.actions, head: o.head });
  if (!Number.isSafeInteger(o.rabBuckets) || o.rabBuckets < 0) throw badOption(`zoo hstu: rabBuckets must be an integer >= 0, got ${o.rabBuckets}`);
  if (o.rab !== "position" && o.rab !== "time") throw badOption(`zoo hstu: rab must be "position" or "time", got ${JSON.stringify(o.rab)}`);
  if (o.head.at(-1) !== 1) throw badOption("zoo hstu: the head must end with 1 output");
  return { ...o, itemTableRows: scaleRows([o.itemRows], o.scale)[0]! };
}

export function buildHstu(options: Partial<HstuOptions> = {}): BuiltModel {
  const o = hstuOptions(options);
  const b = new GraphBuilder("hstu", o.seed);
  const d = o.embeddingDim;
  const L = o.historyLength;
  const items = historyInput(b, "hist_items", L, "history");
  const actions = historyInput(b, "hist_actions", L, "history");
  // Timestamps are i64 context inputs like the ids (padding -1 is never read: only the events' times are).
  const time = o.rab === "time" ? { timestamps: historyInput(b, "hist_ts", L, "history"), now: sparseInput(b, "request_ts", 1, "context") } : undefined;
  const candidate = sparseInput(b, "item_id", 1, "candidate");
  const itemTable = b.randomWeight("item.table", [o.itemTableRows, d], 0.5);
  const actionTable = b.randomWeight("action.table", [o.actions, d], 0.5);
  const itemEmb = b.node("embedding_sequence", [items, itemTable], L * d, {}, "hist_item_emb");
  const actionEmb = b.node("embedding_sequence", [actions, actionTable], L * d, {}, "hist_action_emb");
  let history = b.node("add", [itemEmb, actionEmb], L * d, {}, "hist_tokens");
  const first = bagShared(b, candidate, itemTable, d, "item_emb");
  let cand = first;
  for (let l = 0; l < o.layers; l++) {
    ({ history, candidates: cand } = hstuLayer(b, history, items, cand, { heads: o.heads, qkDim: o.qkDim, vDim: o.vDim, rabBuckets: o.rabBuckets, time }, `hstu_${l}`));
  }
  b.output("ctr", mlp(b, b.concat([cand, first]), o.head, "relu", "sigmoid", "head"));
  return b.build();
}
