// How an executor with `parallel: "auto"` runs (runtime/parallel/auto-parallel.ts
// picks the strategy per batch-size bucket): one executor per distinct choice,
// made when a batch first needs it, each with that strategy's explicit options
// on the devices opened once here; every batch goes to its bucket's executor.
// The executors share the model and the copy counters, not their plans: a
// strategy another bucket never picks costs nothing, one that is picked holds
// its own packed weights and arena.
import type { BuiltModel } from "../graph/builder";
import { RankfnError } from "../errors";
import { type Device, openDevices } from "../devices";
import { AutoParallel, type StrategyOptions } from "../parallel/auto-parallel";
import type { GraphInfo } from "../graph/infer";
import { rowCapacities } from "./row-buckets";
import { linearPairs } from "../parallel/graph-costs";
import { pooledTables } from "../parallel/embedding-sharding";
import type { ParallelOptions } from "../parallel/parallel-options";
import type { Strategy } from "../parallel/planner";
import type { Executor } from "./executor";

export type MakeExecutor = (parallel: ParallelOptions | undefined, devices: Device[] | undefined) => Executor;

export class AutoRouting {
  readonly auto: AutoParallel;
  readonly devices: Device[];
  readonly #owned: boolean;
  readonly #make: MakeExecutor;
  readonly #executors = new Map<Strategy, Executor>();
  /** Batches run per strategy (`stats().parallel.auto`). */
  readonly batches: Partial<Record<Strategy, number>> = {};

  constructor(model: BuiltModel, info: GraphInfo, { devices, maxBatch, remoteTables, make }: { devices: string | Device[]; maxBatch: number; remoteTables: readonly string[]; make: MakeExecutor }) {
    this.#owned = typeof devices === "string";
    this.devices = typeof devices === "string" ? openDevices(devices) : devices;
    this.#make = make;
    try {
      const groups = this.devices.length;
      const coresPerGroup = Math.max(1, Math.min(...this.devices.map((d) => d.stats().threads)));
      // What these devices can run; the planner predicts each only where the model has the part it
      // splits (chains of linears, lookups, experts, more than one stage).
      const strategies: StrategyOptions = {};
      if (groups > 1) {
        Object.assign(strategies, { tensor: { dense: "tensor" }, replicate: { dense: "replicate" }, experts: { experts: true } });
        // Only pooled lookups shard, and only tables held in the process.
        if (remoteTables.length === 0 && pooledTables(model).length > 0) {
          Object.assign(strategies, { embeddings: { embeddings: "table" }, "embedding-columns": { embeddings: "column" }, "embedding-rows": { embeddings: "row" } });
        }
        // Pipeline stages run on CPU core groups, with tables in the process.
        if (remoteTables.length === 0 && this.devices.every((d) => d.deviceKind === "cpu")) strategies.pipeline = { pipeline: true };
      }
      this.auto = new AutoParallel({ graph: model.graph, info, groups, coresPerGroup, buckets: rowCapacities(maxBatch), strategies, pairs: linearPairs(model.graph, info) });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The executor of the bucket `rows` falls in (made on first use). */
  executorFor(rows: number): Executor {
    return this.#executorOf(this.auto.bucketFor(rows).choice);
  }

  /** The executor that runs a batch of `rows` rows, counted as run. */
  runOn(rows: number): Executor {
    const strategy = this.auto.bucketFor(rows).choice;
    this.batches[strategy] = (this.batches[strategy] ?? 0) + 1;
    return this.#executorOf(strategy);
  }

  #executorOf(strategy: Strategy): Executor {
    let ex = this.#executors.get(strategy);
    if (!ex) {
      const options = this.auto.optionsOf(strategy);
      ex = this.#make(options, options ? this.devices : undefined);
      this.#executors.set(strategy, ex);
    }
    return ex;
  }

  executors(): Executor[] {
    return [...this.#executors.values()];
  }

  dispose(): void {
    for (const ex of this.#executors.values()) ex.dispose();
    this.#executors.clear();
    if (this.#owned) for (const d of this.devices ?? []) d.dispose();
  }
}

export function refuseWithAuto(options: { kvCache?: unknown; sequenceParallel?: unknown; experts?: unknown }): void {
  for (const [field, value] of Object.entries(options)) {
    if (value !== undefined) throw new RankfnError(`parallel: "auto" cannot be combined with ${field} yet; choose the parallel strategies explicitly`, "bad_option", 400);
  }
}
