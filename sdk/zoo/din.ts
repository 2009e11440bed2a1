// DIN (Zhou et al. 2018): the user's behaviour sequence is pooled with target
// attention against the candidate item, then concat(user profile, attended
// behaviour, candidate item) goes through an MLP to a sigmoid.
//
// Sequence representation: one context input "hist", i64 [T] with padding -1
// (slot t holds the t-th most recent item id, or -1 when the history is
// shorter), looked up unpooled in the shared item table (embedding_sequence:
// a padded slot gives a zero key) to keys [T·d]; padding_mask gives the mask [T].
//
// Inputs: "user_j" i64 [1] (context, profile: user id, age, gender, city...);
// "hist" i64 [T] (context); "item_id" i64 [1] (candidate).
// Weights: user_emb_j.table [userRows_j, d]; item.table [itemRows, d]
// (shared by the sequence and the candidate); attention.{W1 [h, 4d], b1 [h],
// W2 [1, h], b2 [1]}; mlp.{i}.{weight,bias}. Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import type { Activation } from "../../runtime/ffi/activations";
import { type CommonOptions, bag, bagShared, checkSizes, mlp, resolve, scaleRows, sparseInput, badOption } from "./common";

export interface DinOptions extends CommonOptions {
  embeddingDim: number;
  /** Production item table rows (scaled by `scale`). */
  itemRows: number;
  /** Production rows of each user profile feature's table (scaled by `scale`). */
  userRows: readonly number[];
  /** Behaviour sequence length T. */
  sequenceLength: number;
  attentionHidden: number;
  attentionAct: Activation;
  mlp: readonly number[];
}

export const dinDefaults: DinOptions = {
  seed: 1,
  scale: 0.001,
  embeddingDim: 32,
  itemRows: 10_000_000,
  userRows: [5_000_000, 100, 3, 1_000],
  sequenceLength: 50,
  attentionHidden: 80,
  attentionAct: "sigmoid",
  mlp: [200, 80, 1],
};

export function dinOptions(options: Partial<DinOptions> = {}): DinOptions & { itemTableRows: number; userTableRows: number[] } {
  const o = resolve("din", dinDefaults, options);
  checkSizes("din", { embeddingDim: o.embeddingDim, itemRows: o.itemRows, userRows: o.userRows, sequenceLength: o.sequenceLength, attentionHidden: o.attentionHidden, mlp: o.mlp });
  if (o.mlp.at(-1) !== 1) throw badOption("zoo din: the MLP must end with 1 output");
  return { ...o, itemTableRows: scaleRows([o.itemRows], o.scale)[0]!, userTableRows: scaleRows(o.userRows, o.scale) };
}

export function buildDin(options: Partial<DinOptions> = {}): BuiltModel {
  const o = dinOptions(options);
  const b = new GraphBuilder("din", o.seed);
  const d = o.embeddingDim;
  const T = o.sequenceLength;
  const user = o.userTableRows.map((rows, j) => bag(b, sparseInput(b, `user_${j}`, 1, "context"), rows, d, `user_emb_${j}`));
  const hist = sparseInput(b, "hist", T, "context");
  const item = sparseInput(b, "item_id", 1, "candidate");
  const table = b.randomWeight("item.table", [o.itemTableRows, d], 0.05);
  const keys = b.node("embedding_sequence", [hist, table], T * d, {}, "hist_emb");
  const mask = b.node("padding_mask", [hist], T, { padding: -1 }, "hist_mask");
  const query = bagShared(b, item, table, d, "item_emb");
  const h = o.attentionHidden;
  const w1 = b.randomWeight("attention.W1", [h, 4 * d], Math.sqrt(6 / (4 * d + h)));
  const b1 = b.randomWeight("attention.b1", [h], 0.01);
  const w2 = b.randomWeight("attention.W2", [1, h], Math.sqrt(6 / (h + 1)));
  const b2 = b.randomWeight("attention.b2", [1], 0.01);
  const attended = b.node("target_attention", [query, keys, mask, w1, b1, w2, b2], d, { T, d, act: o.attentionAct }, "attention");
  const y = mlp(b, b.concat([...user, attended, query]), o.mlp, "relu", "sigmoid", "mlp");
  b.output("ctr", y);
  return b.build();
}
