// `parallel: "auto"` (issue 20): the planner's choice per batch-size bucket.
// For each bucket the executor plans (16, 32, … maxBatch rows) it predicts every
// strategy this model can run on these devices (runtime/parallel/planner.ts,
// from the graph's costs and the devices' probed speeds), picks one, and maps
// it to the explicit `parallel` options the engine runs:
//   single     no devices: the library pool with every core of the devices
//   embeddings { embeddings: "table" }, embedding-columns { embeddings: "column" },
//   embedding-rows { embeddings: "row" }
//   experts    { experts: true }  (models with MoE layers or dense mixtures)
//   pipeline   { pipeline: true }  (CPU core groups: a stage per device, microbatches)
//   tensor     { dense: "tensor" }     (models with dense chains)
//   replicate  { dense: "replicate" }  (the same; each batch's rows split over the devices)
// The executor then runs each batch with its bucket's choice (one executor per
// distinct choice, sharing nothing but the model). What was predicted and
// chosen is reported by inspect().parallel.auto.
import { RankfnError } from "../errors";
import type { GraphInfo } from "../graph/infer";
import type { Graph } from "../graph/schema";
import { type LinearPairs, costNodes } from "./graph-costs";
import { deviceSpeeds } from "./device-speeds";
import type { ParallelOptions } from "./parallel-options";
import { type BucketPlan, type Objective, type Prediction, type Strategy, pick, predict } from "./planner";

/** How each strategy the engine can run is asked for: explicit `parallel` options (undefined: one device, no devices). */
export type StrategyOptions = Partial<Record<Strategy, ParallelOptions | undefined>>;

export interface AutoPlanInput {
  graph: Graph;
  /** The graph's inferred types (inferred here when not given). */
  info?: GraphInfo;
  groups: number;
  coresPerGroup: number;
  /** Bucket capacities (rows) the executor plans. */
  buckets: readonly number[];
  /** The strategies this model can run here, with their options ("single" is always there). */
  strategies: StrategyOptions;
  pairs?: LinearPairs;
  objective?: Objective;
  microbatches?: number;
}

export interface AutoDescription {
  objective: Objective;
  devices: { groups: number; coresPerGroup: number };
  /** Probed speeds the predictions used. */
  speeds: { cores: number; gflops: number; gbPerSecond: number }[];
  buckets: { batch: number; choice: Strategy; predictions: { strategy: Strategy; latencyMs: number; perBatchMs: number }[] }[];
}

export class AutoParallel {
  readonly buckets: BucketPlan[];
  readonly objective: Objective;
  readonly #input: AutoPlanInput;
  readonly #speeds: AutoDescription["speeds"];

  constructor(input: AutoPlanInput) {
    if (input.buckets.length === 0) throw new RankfnError('parallel: "auto" needs at least one batch bucket', "bad_option", 400);
    this.#input = input;
    this.objective = input.objective ?? "throughput";
    const strategies = { single: undefined, ...input.strategies };
    const speeds = deviceSpeeds(input.groups, input.coresPerGroup);
    const nodes = costNodes(input.graph, input.pairs, input.info);
    this.buckets = input.buckets.map((batch) => {
      const predictions = predict(nodes, speeds, batch, input.microbatches).filter((p) => Object.hasOwn(strategies, p.strategy));
      return { batch, predictions, choice: pick(predictions, this.objective).strategy };
    });
    const cores = [...new Set([1, input.coresPerGroup, input.groups * input.coresPerGroup])];
    this.#speeds = cores.map((c) => ({ cores: c, gflops: speeds.gflops(c), gbPerSecond: speeds.bandwidth(c) }));
  }

  /** The bucket plan for a batch of `rows` rows (the smallest bucket that holds it, else the largest). */
  bucketFor(rows: number): BucketPlan {
    return this.buckets.find((b) => b.batch >= rows) ?? this.buckets[this.buckets.length - 1]!;
  }

  /** The explicit options of a strategy (undefined for one device). */
  optionsOf(strategy: Strategy): ParallelOptions | undefined {
    return this.#input.strategies[strategy];
  }

  /** The distinct strategies chosen over the buckets. */
  chosen(): Strategy[] {
    return [...new Set(this.buckets.map((b) => b.choice))];
  }

  describe(): AutoDescription {
    const ms = (p: Prediction) => ({ strategy: p.strategy, latencyMs: round(p.latency * 1e3), perBatchMs: round(p.perBatch * 1e3) });
    return {
      objective: this.objective,
      devices: { groups: this.#input.groups, coresPerGroup: this.#input.coresPerGroup },
      speeds: this.#speeds.map((s) => ({ cores: s.cores, gflops: round(s.gflops), gbPerSecond: round(s.gbPerSecond) })),
      buckets: this.buckets.map((b) => ({ batch: b.batch, choice: b.choice, predictions: b.predictions.map(ms) })),
    };
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
