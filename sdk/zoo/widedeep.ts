// Wide & Deep (Cheng et al. 2016): logit = wide + deep. Wide: a linear model
// over the sparse features and hashed cross-product features (dim-1
// embeddings, summed) plus the dense features. Deep: embeddings of the sparse
// features, concatenated with the dense features, through an MLP to 1.
//
// Inputs: "dense" f32 [denseFeatures] (candidate); "cat_i" i64 [multiHot[i]]
// padding -1, context for i < contextFeatures; "cross_j" i64 [1] padding -1
// (hashed crosses of user × item features, candidate), j < crossFeatures.
// Weights: wide_i.table [rows_i, 1]; wide_cross_j.table [crossRows_j, 1];
// wide_dense.{weight [1, n], bias [1]}; emb_i.table [rows_i, dim];
// deep.{i}.{weight,bias} (last outputs 1). Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, bag, checkSizes, dense, mlp, resolve, scaleRows, sigmoidOfSum, sparseInput, badOption } from "./common";

export interface WidedeepOptions extends CommonOptions {
  denseFeatures: number;
  embeddingDim: number;
  tableRows: readonly number[];
  multiHot: readonly number[];
  contextFeatures: number;
  /** Rows of each hashed cross-product feature (wide part only); [] for none. */
  crossRows: readonly number[];
  deepMlp: readonly number[];
}

export const widedeepDefaults: WidedeepOptions = {
  seed: 1,
  scale: 0.01,
  denseFeatures: 13,
  embeddingDim: 32,
  tableRows: [1_000_000, 500_000, 100_000, 20_000, 5_000, 1_000, 200, 50, 10, 4],
  multiHot: [1, 2, 1, 3, 1, 1, 1, 2, 1, 1],
  contextFeatures: 4,
  crossRows: [1_000_000, 1_000_000],
  deepMlp: [1024, 512, 256],
};

export function widedeepOptions(options: Partial<WidedeepOptions> = {}): WidedeepOptions & { rows: number[]; crossTableRows: number[] } {
  const o = resolve("widedeep", widedeepDefaults, options);
  checkSizes("widedeep", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot, deepMlp: o.deepMlp });
  if (o.crossRows.length > 0) checkSizes("widedeep", { crossRows: o.crossRows });
  if (o.tableRows.length !== o.multiHot.length) throw badOption("zoo widedeep: tableRows and multiHot must have one entry per sparse feature");
  return { ...o, rows: scaleRows(o.tableRows, o.scale), crossTableRows: scaleRows(o.crossRows, o.scale) };
}

export function buildWidedeep(options: Partial<WidedeepOptions> = {}): BuiltModel {
  const o = widedeepOptions(options);
  const b = new GraphBuilder("widedeep", o.seed);
  const x = b.input("dense", "f32", o.denseFeatures, "candidate");
  const ids = o.multiHot.map((l, i) => sparseInput(b, `cat_${i}`, l, i < o.contextFeatures ? "context" : "candidate"));
  const crosses = o.crossTableRows.map((_, j) => sparseInput(b, `cross_${j}`, 1, "candidate"));
  // Wide.
  const wideTerms = [...ids.map((id, i) => bag(b, id, o.rows[i]!, 1, `wide_${i}`, 0.01)), ...crosses.map((id, j) => bag(b, id, o.crossTableRows[j]!, 1, `wide_cross_${j}`, 0.01))];
  const wideSparse = b.node("reduce_sum", [b.concat(wideTerms)], 1, {}, "wide.sum");
  const wideDense = dense(b, x, 1, "none", "wide_dense");
  // Deep.
  const embs = ids.map((id, i) => bag(b, id, o.rows[i]!, o.embeddingDim, `emb_${i}`));
  const deep = mlp(b, b.concat([x, ...embs]), [...o.deepMlp, 1], "relu", "none", "deep");
  sigmoidOfSum(b, [wideSparse, wideDense, deep], "ctr");
  return b.build();
}
