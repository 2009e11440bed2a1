// A ranking model with a sparse top-k mixture-of-experts block: features →
// linear projection to dModel (relu) → layer norm → "moe" (each row routed to
// its topK of E experts, softmax over the selected gate logits) → residual add
// with the projection → top MLP → sigmoid.
//
// Inputs: "dense" f32 [n] (candidate), "cat_i" i64 (context for i < contextFeatures).
// Weights: emb_i.table; proj.{weight,bias}; ln.{gamma,beta} [dModel];
// moe.gate.{weight [E, dModel], bias [E]}; moe.expert_e.{W1 [h, dModel], b1 [h],
// W2 [dModel, h], b2 [dModel]}; top.{i}.{weight,bias}. Output "ctr".
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";
import type { Activation } from "../../runtime/ffi/activations";
import { type CommonOptions, type FeatureOptions, add, checkFeatures, checkSizes, dense, featureDefaults, featureInputs, mlp, resolve, scaleRows, badOption } from "./common";

export interface MoeOptions extends CommonOptions, FeatureOptions {
  dModel: number;
  experts: number;
  topK: number;
  expertHidden: number;
  expertAct: Activation;
  topMlp: readonly number[];
}

export const moeDefaults: MoeOptions = {
  seed: 1,
  scale: 0.01,
  ...featureDefaults,
  dModel: 128,
  experts: 8,
  topK: 2,
  expertHidden: 256,
  expertAct: "gelu",
  topMlp: [64, 1],
};

export function moeOptions(options: Partial<MoeOptions> = {}): MoeOptions & { rows: number[] } {
  const o = resolve("moe", moeDefaults, options);
  checkFeatures("moe", o);
  checkSizes("moe", { dModel: o.dModel, experts: o.experts, topK: o.topK, expertHidden: o.expertHidden, topMlp: o.topMlp });
  if (o.topK > o.experts) throw badOption(`zoo moe: topK ${o.topK} exceeds the ${o.experts} experts`);
  if (o.topMlp.at(-1) !== 1) throw badOption("zoo moe: the top MLP must end with 1 output");
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildMoe(options: Partial<MoeOptions> = {}): BuiltModel {
  const o = moeOptions(options);
  const b = new GraphBuilder("moe", o.seed);
  const d = o.dModel;
  const h = o.expertHidden;
  const x = featureInputs(b, o, o.rows);
  const proj = dense(b, x, d, "relu", "proj");
  // Layer-norm gain around 1 (its own seeded stream, so it is not all ones).
  const gainRng = new Rng(o.seed ^ 0x5eed);
  const gamma = b.weight("ln.gamma", tensor("f32", [d], Float32Array.from({ length: d }, () => gainRng.uniform(0.9, 1.1))));
  const beta = b.randomWeight("ln.beta", [d], 0.1);
  const normed = b.node("layer_norm", [proj, gamma, beta], d, { eps: 1e-5 }, "ln");
  const inputs = [normed, b.randomWeight("moe.gate.weight", [o.experts, d], Math.sqrt(6 / (d + o.experts))), b.randomWeight("moe.gate.bias", [o.experts], 0.1)];
  for (let e = 0; e < o.experts; e++) {
    const p = `moe.expert_${e}`;
    inputs.push(
      b.randomWeight(`${p}.W1`, [h, d], Math.sqrt(6 / (d + h))),
      b.randomWeight(`${p}.b1`, [h], 0.01),
      b.randomWeight(`${p}.W2`, [d, h], Math.sqrt(6 / (d + h))),
      b.randomWeight(`${p}.b2`, [d], 0.01),
    );
  }
  const moe = b.node("moe", inputs, d, { experts: o.experts, topK: o.topK, act: o.expertAct }, "moe");
  const y = mlp(b, add(b, proj, moe, "residual"), o.topMlp, "relu", "sigmoid", "top");
  b.output("ctr", y);
  return b.build();
}
