// RankMixer (Zhu et al. 2025, arXiv 2507.15551): the features become T tokens
// (feature embeddings grouped in order, each group projected by its own linear
// layer), then blocks of parameter-free multi-head token mixing and per-token
// FFNs (each token its own weights: a grouped GEMM), each with a residual and a
// per-token layer norm: S = LN(TokenMix(X) + X), X = LN(PFFN(S) + S). A head
// scores the flattened tokens.
//
// Sparse-MoE variant (option `moe`): each token's FFN is a mixture of E experts
// of its own with ReLU routing (the paper's ReLU routing, as served after
// dense training): logits l = s_t·Gᵀ + g, the topK largest kept, expert e
// weighted by relu(l_e) — a token runs 0 to topK experts, each expert a GELU MLP
// D -> hidden -> D. It runs on the `moe` op, so `loadModel(m, { experts: {
// devices } })` places every token's experts on devices (runtime/moe).
// Weights: block_l.moe_t.gate.{weight [E, D], bias [E]},
// block_l.moe_t.expert_e.{W1 [hidden, D], b1, W2 [D, hidden], b2} for token t.
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
  /** Sparse-MoE per-token FFNs (ReLU routing) instead of dense ones; absent: dense. */
  moe?: RankmixerMoeOptions;
}

export interface RankmixerMoeOptions {
  /** Experts per token. */
  experts: number;
  /** Most experts a token runs (the largest gate logits; those <= 0 are off). topK = experts: pure ReLU routing. */
  topK: number;
  /** Hidden width of each expert. */
  hidden: number;
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
  moe: undefined,
};

export function rankmixerOptions(options: Partial<RankmixerOptions> = {}): RankmixerOptions & { rows: number[] } {
  const o = resolve("rankmixer", rankmixerDefaults, options);
  checkSizes("rankmixer", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot, tokens: o.tokens, tokenDim: o.tokenDim, ffnHidden: o.ffnHidden, blocks: o.blocks, head: o.head });
  if (o.tableRows.length !== o.multiHot.length) throw badOption("zoo rankmixer: tableRows and multiHot must have one entry per sparse feature");
  if (!(o.contextFeatures >= 0 && o.contextFeatures <= o.multiHot.length)) throw badOption(`zoo rankmixer: contextFeatures must be in 0..${o.multiHot.length}`);
  if ((o.multiHot.length + 1) % o.tokens !== 0) throw badOption(`zoo rankmixer: ${o.tokens} tokens do not divide the ${o.multiHot.length + 1} feature embeddings (sparse features + the dense one)`);
  if (o.tokenDim % o.tokens !== 0) throw badOption(`zoo rankmixer: tokenDim ${o.tokenDim} does not split into ${o.tokens} heads`);
  if (o.head.at(-1) !== 1) throw badOption("zoo rankmixer: the head must end with 1 output");
  if (o.moe) {
    checkSizes("rankmixer moe", { experts: o.moe.experts, topK: o.moe.topK, hidden: o.moe.hidden });
    if (o.moe.topK > o.moe.experts) throw badOption(`zoo rankmixer: moe topK ${o.moe.topK} exceeds the ${o.moe.experts} experts`);
  }
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
    const f = o.moe ? tokenExperts(b, s, T, D, o.moe, p) : groupedLinear(b, groupedLinear(b, s, T, o.ffnHidden, "gelu", `${p}.ffn1`), T, D, "none", `${p}.ffn2`);
    h = tokenLayerNorm(b, add(b, f, s, `${p}.ffn_res`), T, `${p}.ln2`);
  }
  b.output("ctr", mlp(b, h, o.head, "relu", "sigmoid", "head"));
  return b.build();
}

/** Token t's FFN as a sparse mixture of its own experts with ReLU routing, for every token; the tokens concatenated back. */
function tokenExperts(b: GraphBuilder, s: string, T: number, D: number, o: RankmixerMoeOptions, prefix: string): string {
  const outs = Array.from({ length: T }, (_, t) => {
    const p = `${prefix}.moe_${t}`;
    const token = b.node("slice", [s], D, { start: t * D, end: (t + 1) * D }, `${p}.token`);
    const inputs = [token, b.randomWeight(`${p}.gate.weight`, [o.experts, D], Math.sqrt(6 / (D + o.experts))), b.randomWeight(`${p}.gate.bias`, [o.experts], 0.1)];
    for (let e = 0; e < o.experts; e++) {
      const q = `${p}.expert_${e}`;
      inputs.push(
        b.randomWeight(`${q}.W1`, [o.hidden, D], Math.sqrt(6 / D)),
        b.randomWeight(`${q}.b1`, [o.hidden], 0.01),
        b.randomWeight(`${q}.W2`, [D, o.hidden], Math.sqrt(6 / (D + o.hidden))),
        b.randomWeight(`${q}.b2`, [D], 0.01),
      );
    }
    return b.node("moe", inputs, D, { experts: o.experts, topK: o.topK, act: "gelu", routing: "relu" }, p);
  });
  return b.concat(outs);
}
