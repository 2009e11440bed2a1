// MMoE (Ma et al. 2018): shared input → E expert MLPs; each task has a softmax
// gate over the experts (from the shared input), a mixture of the expert
// outputs, and its own tower ending in a sigmoid.
//
// Inputs: "dense" f32 [n] (candidate), "cat_i" i64 (context for i < contextFeatures).
// Weights: emb_i.table; expert_e.{i}.{weight,bias}; gate_<task>.{weight [E, w], bias [E]};
// tower_<task>.{i}.{weight,bias} (last outputs 1). Outputs: one per task ("ctr", "cvr").
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, type FeatureOptions, checkFeatures, checkSizes, featureDefaults, featureInputs, gate, mixture, mlp, resolve, scaleRows, badOption } from "./common";

export interface MmoeOptions extends CommonOptions, FeatureOptions {
  experts: number;
  expertMlp: readonly number[];
  tasks: readonly string[];
  towerMlp: readonly number[];
}

export const mmoeDefaults: MmoeOptions = {
  seed: 1,
  scale: 0.01,
  ...featureDefaults,
  experts: 4,
  expertMlp: [256, 128],
  tasks: ["ctr", "cvr"],
  towerMlp: [64, 1],
};

export function mmoeOptions(options: Partial<MmoeOptions> = {}): MmoeOptions & { rows: number[] } {
  const o = resolve("mmoe", mmoeDefaults, options);
  checkFeatures("mmoe", o);
  checkSizes("mmoe", { experts: o.experts, expertMlp: o.expertMlp, towerMlp: o.towerMlp });
  if (o.towerMlp.at(-1) !== 1) throw badOption("zoo mmoe: towers must end with 1 output");
  if (o.tasks.length === 0 || new Set(o.tasks).size !== o.tasks.length) throw badOption("zoo mmoe: tasks must be distinct names");
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildMmoe(options: Partial<MmoeOptions> = {}): BuiltModel {
  const o = mmoeOptions(options);
  const b = new GraphBuilder("mmoe", o.seed);
  const x = featureInputs(b, o, o.rows);
  const experts = Array.from({ length: o.experts }, (_, e) => mlp(b, x, o.expertMlp, "relu", "relu", `expert_${e}`));
  for (const task of o.tasks) {
    const g = gate(b, x, o.experts, `gate_${task}`);
    const mixed = mixture(b, g, experts, `mixture_${task}`);
    b.output(task, mlp(b, mixed, o.towerMlp, "relu", "sigmoid", `tower_${task}`));
  }
  return b.build();
}
