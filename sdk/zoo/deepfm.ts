// DeepFM (Guo et al. 2017): logit = first order + FM second order + deep MLP.
// First order: a dim-1 embedding per sparse field (summed) plus a linear term
// over the dense features (its bias is the global bias). Second order: the
// "fm" op over the concatenated field embeddings (shared with the deep part).
// Deep: MLP over concat(dense, field embeddings) to one logit.
//
// Inputs: "dense" f32 [denseFeatures] (candidate); "field_i" i64 [multiHot[i]]
// padding -1, context for i < contextFeatures.
// Weights: w1_i.table [rows_i, 1]; dense_linear.{weight [1, n], bias [1]};
// emb_i.table [rows_i, dim]; deep.{i}.{weight,bias} (last layer outputs 1).
// Output "ctr" = sigmoid(first + fm + deep).
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, bag, checkSizes, dense, mlp, resolve, scaleRows, sigmoidOfSum, sparseInput, badOption } from "./common";

export interface DeepfmOptions extends CommonOptions {
  denseFeatures: number;
  embeddingDim: number;
  tableRows: readonly number[];
  multiHot: readonly number[];
  contextFeatures: number;
  deepMlp: readonly number[];
}

export const deepfmDefaults: DeepfmOptions = {
  seed: 1,
  scale: 0.01,
  denseFeatures: 13,
  embeddingDim: 16,
  tableRows: [2_000_000, 1_000_000, 500_000, 300_000, 100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 100, 50, 20, 10],
  multiHot: [1, 1, 3, 1, 2, 1, 1, 5, 1, 1, 2, 1, 1, 1, 1, 1],
  contextFeatures: 4,
  deepMlp: [400, 400, 400],
};

export function deepfmOptions(options: Partial<DeepfmOptions> = {}): DeepfmOptions & { rows: number[] } {
  const o = resolve("deepfm", deepfmDefaults, options);
  checkSizes("deepfm", { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot, deepMlp: o.deepMlp });
  if (o.tableRows.length !== o.multiHot.length) throw badOption("zoo deepfm: tableRows and multiHot must have one entry per field");
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildDeepfm(options: Partial<DeepfmOptions> = {}): BuiltModel {
  const o = deepfmOptions(options);
  const b = new GraphBuilder("deepfm", o.seed);
  const f = o.multiHot.length;
  const x = b.input("dense", "f32", o.denseFeatures, "candidate");
  const ids = o.multiHot.map((l, i) => sparseInput(b, `field_${i}`, l, i < o.contextFeatures ? "context" : "candidate"));
  // First order: Σ_i w_i(ids_i) + dense · w + bias.
  const w1 = ids.map((id, i) => bag(b, id, o.rows[i]!, 1, `w1_${i}`, 0.01));
  const firstSparse = b.node("reduce_sum", [b.concat(w1)], 1, {}, "first_order.sum");
  const firstDense = dense(b, x, 1, "none", "dense_linear");
  // Second order over the field embeddings.
  const embs = ids.map((id, i) => bag(b, id, o.rows[i]!, o.embeddingDim, `emb_${i}`));
  const fields = b.concat(embs);
  const fm = b.node("fm", [fields], 1, { f, d: o.embeddingDim }, "fm");
  // Deep part over dense and the same embeddings.
  const deep = mlp(b, b.concat([x, fields]), [...o.deepMlp, 1], "relu", "none", "deep");
  sigmoidOfSum(b, [firstSparse, firstDense, fm, deep], "ctr");
  return b.build();
}
