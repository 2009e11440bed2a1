// DLRM in the MLPerf DLRM-v2 shape: 13 dense features through a bottom MLP,
// 26 multi-hot sparse features (dim 128), DCN-v2 low-rank cross interaction
// over concat(bottom, 26 pooled) = 3456 features, top MLP, sigmoid.
//
// Inputs: "dense" f32 [13] (candidate); "cat_i" i64 [multiHot[i]] padding -1,
// role context for i < contextFeatures (user features, one row per request),
// candidate for the rest.
// Weights: bottom.{0,1,2}.{weight,bias}; emb_i.table [rows_i, dim];
// cross_l.{V [r, 3456], U [3456, r], bias [3456]}; top.{0..4}.{weight,bias}.
// Output "ctr" [1].
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, bag, checkSizes, mlp, resolve, sparseInput, badOption } from "./common";
import { DLRM_V2, scaledTableRows } from "./dlrm-v2-shape";

export interface DlrmOptions extends CommonOptions {
  denseFeatures: number;
  embeddingDim: number;
  /** Ids per bag of each sparse feature (its count is the number of sparse features). */
  multiHot: readonly number[];
  /** Rows of each table; defaults to the DLRM-v2 tables scaled by `scale`. */
  tableRows?: readonly number[];
  /** The first `contextFeatures` sparse features are per-request (role context). */
  contextFeatures: number;
  bottomMlp: readonly number[];
  crossLayers: number;
  crossRank: number;
  topMlp: readonly number[];
}

export const dlrmDefaults: DlrmOptions = {
  seed: 1,
  scale: 0.0005,
  denseFeatures: DLRM_V2.denseFeatures,
  embeddingDim: DLRM_V2.embeddingDim,
  multiHot: DLRM_V2.multiHot,
  tableRows: undefined,
  contextFeatures: 8,
  bottomMlp: DLRM_V2.bottomMlp,
  crossLayers: 3,
  crossRank: 512,
  topMlp: DLRM_V2.topMlp,
};

/** Options with defaults applied and table rows filled in. */
export function dlrmOptions(options: Partial<DlrmOptions> = {}): DlrmOptions & { tableRows: readonly number[] } {
  const o = resolve("dlrm", dlrmDefaults, options);
  const tableRows = o.tableRows ?? (o.multiHot.length === DLRM_V2.multiHot.length ? scaledTableRows(o.scale) : o.multiHot.map(() => Math.max(1, Math.round(1_000_000 * o.scale))));
  checkSizes("dlrm", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, multiHot: o.multiHot, tableRows, bottomMlp: o.bottomMlp, crossLayers: o.crossLayers, crossRank: o.crossRank, topMlp: o.topMlp });
  if (tableRows.length !== o.multiHot.length) throw badOption(`zoo dlrm: ${tableRows.length} table sizes for ${o.multiHot.length} sparse features`);
  if (o.bottomMlp.at(-1) !== o.embeddingDim) throw badOption(`zoo dlrm: the bottom MLP must end at the embedding dim ${o.embeddingDim}, got ${o.bottomMlp.at(-1)}`);
  if (o.topMlp.at(-1) !== 1) throw badOption("zoo dlrm: the top MLP must end with 1 output");
  if (o.contextFeatures < 0 || o.contextFeatures > o.multiHot.length) throw badOption(`zoo dlrm: contextFeatures must be in 0..${o.multiHot.length}`);
  return { ...o, tableRows };
}

export function buildDlrm(options: Partial<DlrmOptions> = {}): BuiltModel {
  const o = dlrmOptions(options);
  const b = new GraphBuilder("dlrm", o.seed);
  const d = o.embeddingDim;
  const dense = b.input("dense", "f32", o.denseFeatures, "candidate");
  const ids = o.multiHot.map((l, i) => sparseInput(b, `cat_${i}`, l, i < o.contextFeatures ? "context" : "candidate"));
  const bottom = mlp(b, dense, o.bottomMlp, "relu", "relu", "bottom");
  const pooled = ids.map((id, i) => bag(b, id, o.tableRows[i]!, d, `emb_${i}`));
  const x0 = b.concat([bottom, ...pooled]);
  const width = b.width(x0);
  let x = x0;
  for (let l = 0; l < o.crossLayers; l++) {
    const v = b.randomWeight(`cross_${l}.V`, [o.crossRank, width], Math.sqrt(6 / (width + o.crossRank)));
    const u = b.randomWeight(`cross_${l}.U`, [width, o.crossRank], Math.sqrt(6 / (width + o.crossRank)));
    const bias = b.randomWeight(`cross_${l}.bias`, [width], 0.01);
    x = b.node("cross", [x0, x, v, u, bias], width, { lowRank: true }, `cross_${l}`);
  }
  const logit = mlp(b, x, o.topMlp, "relu", "sigmoid", "top");
  b.output("ctr", logit);
  return b.build();
}
