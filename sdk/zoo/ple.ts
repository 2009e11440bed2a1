// PLE (Tang et al. 2020): stacked customized gate control (CGC) extraction
// layers. Layer l has, per task, `taskExperts` experts over that task's input
// and `sharedExperts` experts over the shared input. Task t's gate (softmax
// over its own and the shared experts, from its input) mixes them into its
// next input; below the last layer a shared gate (softmax over all experts,
// from the shared input) mixes every expert into the next shared input. The
// first layer's task and shared inputs are the feature vector. Each task ends
// in a tower and a sigmoid.
//
// Inputs: "dense" f32 [n] (candidate), "cat_i" i64 (context for i < contextFeatures).
// Weights: emb_i.table; ple_l.<task>.expert_k.{i}.{weight,bias};
// ple_l.shared.expert_k.{i}.{weight,bias}; ple_l.gate_<task>.{weight,bias}
// (taskExperts + sharedExperts entries; task experts first);
// ple_l.gate_shared.{weight,bias} (tasks × taskExperts + sharedExperts entries, in
// task order, then shared; not in the last layer); tower_<task>.{i}.{weight,bias}.
import { type BuiltModel, GraphBuilder } from "../../runtime/graph/builder";
import { type CommonOptions, type FeatureOptions, checkFeatures, checkSizes, featureDefaults, featureInputs, gate, mixture, mlp, resolve, scaleRows, badOption } from "./common";

export interface PleOptions extends CommonOptions, FeatureOptions {
  layers: number;
  sharedExperts: number;
  taskExperts: number;
  expertMlp: readonly number[];
  tasks: readonly string[];
  towerMlp: readonly number[];
}

export const pleDefaults: PleOptions = {
  seed: 1,
  scale: 0.01,
  ...featureDefaults,
  layers: 2,
  sharedExperts: 2,
  taskExperts: 2,
  expertMlp: [256, 128],
  tasks: ["ctr", "cvr"],
  towerMlp: [64, 1],
};

export function pleOptions(options: Partial<PleOptions> = {}): PleOptions & { rows: number[] } {
  const o = resolve("ple", pleDefaults, options);
  checkFeatures("ple", o);
  checkSizes("ple", { layers: o.layers, sharedExperts: o.sharedExperts, taskExperts: o.taskExperts, expertMlp: o.expertMlp, towerMlp: o.towerMlp });
  if (o.towerMlp.at(-1) !== 1) throw badOption("zoo ple: towers must end with 1 output");
  if (o.tasks.length === 0 || new Set(o.tasks).size !== o.tasks.length || o.tasks.includes("shared")) throw badOption('zoo ple: tasks must be distinct names other than "shared"');
  return { ...o, rows: scaleRows(o.tableRows, o.scale) };
}

export function buildPle(options: Partial<PleOptions> = {}): BuiltModel {
  const o = pleOptions(options);
  const b = new GraphBuilder("ple", o.seed);
  const x = featureInputs(b, o, o.rows);
  let taskIn = o.tasks.map(() => x);
  let sharedIn = x;
  for (let l = 0; l < o.layers; l++) {
    const p = `ple_${l}`;
    const taskExperts = o.tasks.map((task, t) => Array.from({ length: o.taskExperts }, (_, k) => mlp(b, taskIn[t]!, o.expertMlp, "relu", "relu", `${p}.${task}.expert_${k}`)));
    const shared = Array.from({ length: o.sharedExperts }, (_, k) => mlp(b, sharedIn, o.expertMlp, "relu", "relu", `${p}.shared.expert_${k}`));
    const nextTask = o.tasks.map((task, t) => {
      const own = [...taskExperts[t]!, ...shared];
      return mixture(b, gate(b, taskIn[t]!, own.length, `${p}.gate_${task}`), own, `${p}.mixture_${task}`);
    });
    if (l < o.layers - 1) {
      const all = [...taskExperts.flat(), ...shared];
      sharedIn = mixture(b, gate(b, sharedIn, all.length, `${p}.gate_shared`), all, `${p}.mixture_shared`);
    }
    taskIn = nextTask;
  }
  o.tasks.forEach((task, t) => b.output(task, mlp(b, taskIn[t]!, o.towerMlp, "relu", "sigmoid", `tower_${task}`)));
  return b.build();
}
