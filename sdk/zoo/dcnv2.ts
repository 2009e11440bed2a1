// DCN-v2 (Wang et al. 2021): x0 = concat(dense, sparse embeddings); full-rank
// cross layers x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l and a deep MLP, either
// stacked (cross, then deep) or parallel (both over x0, outputs concatenated),
// then a linear logit and sigmoid.
//
// Inputs: "dense" f32 [denseFeatures] (candidate); "cat_i" i64 [multiHot[i]]
// padding -1, context for i < contextFeatures.
// Weights: emb_i.table; cross_l.{W [w, w], bias [w]}; deep.{i}.{weight,bias};
// head.{weight,bias}. Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, bag, checkSizes, dense, mlp, resolve, scaleRows, sparseInput, badOption } from "./common";

export interface Dcnv2Options extends CommonOptions {
  denseFeatures: number;
  embeddingDim: number;
  /** Production table sizes (scaled by `scale`); one sparse feature per table. */
  tableRows: readonly number[];
  /** Ids per bag of each sparse feature. */
  multiHot: readonly number[];
  contextFeatures: number;
  crossLayers: number;
  deepMlp: readonly number[];
  structure: "stacked" | "parallel";
}

export const dcnv2Defaults: Dcnv2Options = {
  seed: 1,
  scale: 0.01,
  denseFeatures: 13,
  embeddingDim: 16,
  tableRows: [1_000_000, 500_000, 200_000, 50_000, 10_000, 1_000, 100, 20],
  multiHot: [1, 3, 1, 2, 1, 1, 4, 1],
  contextFeatures: 3,
  crossLayers: 3,
  deepMlp: [256, 128, 64],
  structure: "stacked",
};

export function dcnv2Options(options: Partial<Dcnv2Options> = {}): Dcnv2Options & { rows: number[] } {
  const o = resolve("dcnv2", dcnv2Defaults, options);
  checkSizes("dcnv2", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot, crossLayers: o.crossLayers, deepMlp: o.deepMlp });
  if (o.tableRows.length !== o.multiHot.length) throw badOption("zoo dcnv2: tableRows and multiHot must have one entry per sparse feature");
  if (o.structure !== "stacked" && o.structure !== "parallel") throw badOption(`zoo dcnv2: structure must be "stacked" or "parallel"`);
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildDcnv2(options: Partial<Dcnv2Options> = {}): BuiltModel {
  const o = dcnv2Options(options);
  const b = new GraphBuilder("dcnv2", o.seed);
  const x = b.input("dense", "f32", o.denseFeatures, "candidate");
  const embs = o.multiHot.map((l, i) => bag(b, sparseInput(b, `cat_${i}`, l, i < o.contextFeatures ? "context" : "candidate"), o.rows[i]!, o.embeddingDim, `emb_${i}`));
  const x0 = b.concat([x, ...embs]);
  const w = b.width(x0);
  let c = x0;
  for (let l = 0; l < o.crossLayers; l++) {
    const W = b.randomWeight(`cross_${l}.W`, [w, w], Math.sqrt(6 / (2 * w)));
    const bias = b.randomWeight(`cross_${l}.bias`, [w], 0.01);
    c = b.node("cross", [x0, c, W, bias], w, { lowRank: false }, `cross_${l}`);
  }
  let top: string;
  if (o.structure === "stacked") {
    top = mlp(b, c, o.deepMlp, "relu", "relu", "deep");
  } else {
    top = b.concat([c, mlp(b, x0, o.deepMlp, "relu", "relu", "deep")]);
  }
  const y = dense(b, top, 1, "sigmoid", "head");
  b.output("ctr", y);
  return b.build();
}
