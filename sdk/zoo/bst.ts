// BST (Chen et al. 2019, "Behavior Sequence Transformer for E-commerce
// Recommendation in Alibaba"), in the form that encodes the history once per
// request: N transformer blocks over the user's history of items (causal
// multi-head self-attention, residual + per-token LayerNorm, ReLU FFN, residual
// + LayerNorm; the causal mask gives the order that BST's position embedding
// gives), then each candidate item, the target, attends to the encoded history
// (softmax attention over its K/V, no copy per candidate) and a head scores
// concat(attended, target embedding).
//
// Inputs: "hist" i64 [L] (context; padding -1, oldest first), "item_id" i64 [1]
// (candidate). "hist" is a declared sequence: a request may send any n events
// (the stager left-pads them into the L slots); beyond L the most recent L are
// kept and reported. Attention sees only the events — the self-attention's
// queries and keys and the target's keys are the slots after the padding (the
// attention op's `events` window), so a history scores the same however many
// slots pad it; a padded slot looks up zeros and its token never reaches a score.
// Weights: item.table [itemRows, d] (shared by the history and the targets);
// per block l: block_l.qkv.{weight [3d, d], bias}, .out.{weight [d, d], bias},
// .ln1.{gamma, beta} [d], .ffn1.{weight [F, d], bias}, .ffn2.{weight [d, F], bias},
// .ln2.{gamma, beta}; target.q.{weight [d, d], bias}, target.kv.{weight [2d, d],
// bias}; head.{i}.{weight, bias}. Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { tokenLayerNorm } from "../../runtime/graph/sequence-layers";
import { type CommonOptions, badOption, bagShared, checkSizes, historyInput, mlp, resolve, scaleRows, sparseInput } from "./common";

export interface BstOptions extends CommonOptions {
  /** Model width d (item embeddings and every block). */
  embeddingDim: number;
  /** Attention heads (divide embeddingDim). */
  heads: number;
  /** Transformer blocks over the history. */
  layers: number;
  /** Hidden width of each block's FFN. */
  ffnDim: number;
  /** History length L. */
  historyLength: number;
  /** Production item table rows (scaled by `scale`). */
  itemRows: number;
  head: readonly number[];
}

export const bstDefaults: BstOptions = {
  seed: 1,
  scale: 0.001,
  embeddingDim: 32,
  heads: 2,
  layers: 1,
  ffnDim: 64,
  historyLength: 32,
  itemRows: 10_000_000,
  head: [64, 1],
};

export function bstOptions(options: Partial<BstOptions> = {}): BstOptions & { itemTableRows: number } {
  const o = resolve("bst", bstDefaults, options);
  checkSizes("bst", { embeddingDim: o.embeddingDim, heads: o.heads, layers: o.layers, ffnDim: o.ffnDim, historyLength: o.historyLength, itemRows: o.itemRows, head: o.head });
  if (o.embeddingDim % o.heads !== 0) throw badOption(`zoo bst: ${o.heads} heads do not divide embeddingDim ${o.embeddingDim}`);
  if (o.head.at(-1) !== 1) throw badOption("zoo bst: the head must end with 1 output");
  return { ...o, itemTableRows: scaleRows([o.itemRows], o.scale)[0]! };
}

/** y = act(x · Wᵀ + b) (+ residual) per token: weights `${prefix}.weight` [n, k], `.bias` [n]. */
function tokenLinear(b: GraphBuilder, x: string, tokens: number, n: number, prefix: string, act: "none" | "relu" = "none", residual?: string): string {
  const k = b.width(x) / tokens;
  const w = b.randomWeight(`${prefix}.weight`, [n, k], Math.sqrt(6 / (act === "relu" ? k : k + n)));
  const bias = b.randomWeight(`${prefix}.bias`, [n], 0.01);
  return b.node("linear", residual ? [x, w, bias, residual] : [x, w, bias], tokens * n, { slots: [tokens], act }, prefix);
}

export function buildBst(options: Partial<BstOptions> = {}): BuiltModel {
  const o = bstOptions(options);
  const b = new GraphBuilder("bst", o.seed);
  const d = o.embeddingDim;
  const L = o.historyLength;
  const dh = d / o.heads;
  // Multi-head softmax attention of `queries` query tokens (q's heads at column qStart) over kv's tokens.
  const hist = historyInput(b, "hist", L, "history");
  const attention = (q: string, kv: string, queries: number, attrs: Record<string, unknown>, name: string) =>
    b.node("attention", [q, kv, kv, hist], queries * d, { heads: o.heads, headDim: dh, scale: 1 / Math.sqrt(dh), events: { padding: -1 }, ...attrs }, name);
  const candidate = sparseInput(b, "item_id", 1, "candidate");
  const itemTable = b.randomWeight("item.table", [o.itemTableRows, d], 0.5);
  const tokens = (x: string, name: string) => b.node("reshape", [x], L * d, { shape: [L, d] }, name);
  let x = tokens(b.node("embedding_sequence", [hist, itemTable], L * d, {}, "hist_emb"), "hist_tokens");
  for (let l = 0; l < o.layers; l++) {
    const p = `block_${l}`;
    const qkv = tokenLinear(b, x, L, 3 * d, `${p}.qkv`);
    const att = attention(qkv, qkv, L, { qStart: 0, kStart: d, vStart: 2 * d, mask: "causal" }, `${p}.attention`);
    const h1 = tokenLayerNorm(b, tokenLinear(b, att, L, d, `${p}.out`, "none", x), L, `${p}.ln1`);
    const f = tokenLinear(b, tokenLinear(b, h1, L, o.ffnDim, `${p}.ffn1`, "relu"), L, d, `${p}.ffn2`, "none", h1);
    x = tokens(tokenLayerNorm(b, f, L, `${p}.ln2`), `${p}.tokens`);
  }
  const target = bagShared(b, candidate, itemTable, d, "item_emb");
  const q = tokenLinear(b, target, 1, d, "target.q");
  const kv = tokenLinear(b, x, L, 2 * d, "target.kv");
  const attended = attention(q, kv, 1, { kStart: 0, vStart: d }, "target.attention");
  b.output("ctr", mlp(b, b.concat([attended, target]), o.head, "relu", "sigmoid", "head"));
  return b.build();
}
