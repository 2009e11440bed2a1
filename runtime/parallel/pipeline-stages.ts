// The cut of a compiled plan into pipeline stages (issue 20, `parallel.pipeline`):
// the graph's nodes, in plan order, into contiguous stages of balanced predicted
// time (runtime/parallel/planner.ts balancedCut over each node's predicted time
// for one microbatch on one device's cores, from its FLOPs and bytes), and what
// crosses each cut:
// - liveIns[s]: the stored values (arena bases: views and concat slices live in
//   their base) written before stage s and read by stage s or later (the graph's
//   outputs count as read by the last stage) — stage s copies them from stage
//   s − 1's arena before it runs a microbatch, so a value made in stage 0 and read
//   in stage 2 passes through stage 1;
// - inputs[s]: the graph inputs stage s reads (written into its arena for each
//   microbatch).
import type { BuiltModel } from "../graph/builder";
import type { GraphInfo } from "../graph/infer";
import { viewsOf } from "../engine/plan";
import { jaggedValues } from "../engine/jagged-tokens";
import { costNodes } from "./graph-costs";
import { type DeviceSpeeds, balancedCut, nodeTime } from "./planner";

export interface PipelineStage {
  /** Plan steps [first, end) (one per graph node). */
  first: number;
  end: number;
  nodes: string[];
  /** Predicted time of one microbatch of `rows` rows on one device (ms). */
  predictedMs: number;
  liveIns: string[];
  inputs: string[];
}

export interface StageCut {
  stages: PipelineStage[];
  /** The rows the predictions are for. */
  rows: number;
}

/** The arena base of every value (a view's or an alias's storage is its base's). */
export function baseOfValues(model: BuiltModel): (name: string) => string {
  const aliases = model.graph.aliases ?? {};
  const views = viewsOf(model);
  return (name) => {
    const viewed = views.get(name) ?? name;
    return aliases[viewed]?.of ?? viewed;
  };
}

/**
 * The nodes [first, end) that touch a history stored jagged (runtime/engine/jagged-tokens.ts):
 * their token offsets are each plan's own state, written by the history's lookup step, not a
 * value in the arena — so they stay in one stage.
 */
function jaggedSpan(model: BuiltModel, info: GraphInfo): [number, number] | undefined {
  const { values } = jaggedValues(model.graph, info, 1, () => false);
  if (values.size === 0) return undefined;
  const touching = model.graph.nodes.flatMap((n, i) => ([...n.inputs, ...n.outputs].some((v) => values.has(v)) ? [i] : []));
  return touching.length > 0 ? [touching[0]!, touching.at(-1)! + 1] : undefined;
}

/** balancedCut over `times` with the nodes of `whole` (if any) kept in one stage. */
function cutWhole(times: readonly number[], stages: number, whole: [number, number] | undefined): [number, number][] {
  if (!whole) return balancedCut(times, stages);
  const [a, b] = whole;
  const units = [...times.slice(0, a), times.slice(a, b).reduce((x, t) => x + t, 0), ...times.slice(b)];
  const grow = (i: number) => (i <= a ? i : i + (b - a - 1));
  return balancedCut(units, stages).map(([x, y]) => [grow(x), y > a ? y + (b - a - 1) : y] as [number, number]);
}

/** Cut `model`'s nodes into at most `stages` stages balanced for microbatches of `rows` rows on `cores` cores each. */
export function cutStages(model: BuiltModel, info: GraphInfo, stages: number, rows: number, cores: number, speeds: DeviceSpeeds): StageCut {
  const { graph } = model;
  const times = costNodes(graph, undefined, info).map((n) => nodeTime(n, rows, cores, speeds));
  const ranges = cutWhole(times, stages, jaggedSpan(model, info));
  const baseOf = baseOfValues(model);
  const graphInputs = new Set(graph.inputs.map((i) => i.name));
  const stored = (name: string) => info.values.has(baseOf(name)) && !graph.weights[name];
  // For each base: the first stage writing it and the last stage reading it.
  const stageOf = new Int32Array(graph.nodes.length);
  ranges.forEach(([a, b], s) => stageOf.fill(s, a, b));
  const firstWrite = new Map<string, number>();
  const lastRead = new Map<string, number>();
  const readsOf = ranges.map(() => new Set<string>());
  graph.nodes.forEach((node, i) => {
    const s = stageOf[i]!;
    for (const v of node.inputs) {
      if (!stored(v)) continue;
      const b = baseOf(v);
      readsOf[s]!.add(b);
      lastRead.set(b, Math.max(lastRead.get(b) ?? -1, s));
    }
    for (const v of node.outputs) {
      const b = baseOf(v);
      if (!firstWrite.has(b)) firstWrite.set(b, s);
    }
  });
  for (const out of Object.values(graph.outputs)) lastRead.set(baseOf(out), ranges.length - 1);
  return {
    rows,
    stages: ranges.map(([first, end], s) => ({
      first,
      end,
      nodes: graph.nodes.slice(first, end).map((n) => n.name),
      predictedMs: times.slice(first, end).reduce((a, t) => a + t, 0) * 1e3,
      liveIns: [...firstWrite].filter(([b, w]) => !graphInputs.has(b) && w < s && (lastRead.get(b) ?? -1) >= s).map(([b]) => b),
      inputs: [...readsOf[s]!].filter((b) => graphInputs.has(b)),
    })),
  };
}
