// RankMixer (Zhu et al. 2025, arXiv 2507.15551): the features become T tokens
// (feature embeddings grouped in order, each group projected by its own linear
// layer), then blocks of parameter-free multi-head token mixing and per-token
// FFNs (each token its own weights: a grouped GEMM), each with a residual and a
// per-token layer norm: S = LN(TokenMix(X) + X), X = LN(PFFN(S) + S). A head
// scores the flattened tokens.
//
// Inputs: "dense" f32 [denseFeatures] (candidate), "cat_i" i64 [multiHot[i]]
// padding -1 (context for i < contextFeatures). The dense features are projected
// to one embedding (dense_proj), the sparse ones sum-pooled (emb_i.table
// [rows_i, e]); the F + 1 embeddings, in order, form T groups of (F + 1) / T.
// Weights: tokenize.{weight [T, D, k], bias}; block_l.{ln1, ln2}.{gamma, beta} [D],
// block_l.ffn1 [T, hidden, D], block_l.ffn2 [T, D, hidden] (+ biases);
// head.{i}.{weight,bias}. Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { groupedLinear, tokenLayerNorm, tokenMix } from "../../runtime/graph/sequence-layers";
import { add, bag, badOption, checkSizes, dense, mlp, resolve, scaleRows, sparseInput } from "./common";
import type { CommonOptions } from "./common";

export interface RankmixerOptions extends CommonOptions {
  denseFeatures: number;
  embeddingDim: number;
  /** Production table sizes (scaled by `scale`), one per sparse feature. */
  tableRows: readonly number[];
  multiHot: readonly number[];
  contextFeatures: number;
  /** T: must divide the number of sparse features + 1. */
  tokens: number;
  /** D: width of every token (divisible by T: the mixing splits each token into T heads). */
  tokenDim: number;
  /** Hidden width of each per-token FFN. */
  ffnHidden: number;
  blocks: number;
  head: readonly number[];
}

export const rankmixerDefaults: RankmixerOptions = {
  seed: 1,
  scale: 0.001,
  denseFeatures: 13,
  embeddingDim: 16,
  tableRows: [1_000_000, 500_000, 200_000, 50_000, 10_000, 1_000, 100],
  multiHot: [1, 3, 1, 2, 1, 1, 4],
  contextFeatures: 3,
  tokens: 4,
  tokenDim: 32,
  ffnHidden: 64,
  blocks: 2,
  head: [64, 1],
};

export function rankmixerOptions(options: Partial<RankmixerOptions> = {}): RankmixerOptions & { rows: number[] } {
  const o = resolve("rankmixer", rankmixerDefaults, options);
  checkSizes("rankmixer", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot, tokens: o.tokens, tokenDim: o.tokenDim, ffnHidden: o.ffnHidden, blocks: o.blocks, head: o.head });
  if (o.tableRows.length !== o.multiHot.length) throw badOption("zoo rankmixer: tableRows and multiHot must have one entry per sparse feature");
  if (!(o.contextFeatures >= 0 && o.contextFeatures <= o.multiHot.length)) throw badOption(`zoo rankmixer: contextFeatures must be in 0..${o.multiHot.length}`);
  if ((o.multiHot.length + 1) % o.tokens !== 0) throw badOption(`zoo rankmixer: ${o.tokens} tokens do not divide the ${o.multiHot.length + 1} feature embeddings (sparse features + the dense one)`);
  if (o.tokenDim % o.tokens !== 0) throw badOption(`zoo rankmixer: tokenDim ${o.tokenDim} does not split into ${o.tokens} heads`);
  if (o.head.at(-1) !== 1) throw badOption("zoo rankmixer: the head must end with 1 output");
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildRankmixer(options: Partial<RankmixerOptions> = {}): BuiltModel {
  const o = rankmixerOptions(options);
  const b = new GraphBuilder("rankmixer", o.seed);
  const T = o.tokens;
  const D = o.tokenDim;
  const x = b.input("dense", "f32", o.denseFeatures, "candidate");
  const denseEmb = dense(b, x, o.embeddingDim, "none", "dense_proj");
  const embs = o.multiHot.map((l, i) => bag(b, sparseInput(b, `cat_${i}`, l, i < o.contextFeatures ? "context" : "candidate"), o.rows[i]!, o.embeddingDim, `emb_${i}`, 0.5));
  let h = groupedLinear(b, b.concat([denseEmb, ...embs]), T, D, "none", "tokenize");
  for (let l = 0; l < o.blocks; l++) {
    const p = `block_${l}`;
    const s = tokenLayerNorm(b, add(b, tokenMix(b, h, T, `${p}.mix`), h, `${p}.mix_res`), T, `${p}.ln1`);
    const f = groupedLinear(b, groupedLinear(b, s, T, o.ffnHidden, "gelu", `${p}.ffn1`), T, D, "none", `${p}.ffn2`);
    h = tokenLayerNorm(b, add(b, f, s, `${p}.ffn_res`), T, `${p}.ln2`);
  }
  b.output("ctr", mlp(b, h, o.head, "relu", "sigmoid", "head"));
  return b.build();
}
