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
import { AutoParallel } from "../parallel/auto-parallel";
import { linearPairs } from "../parallel/graph-costs";
import { pooledTables } from "../parallel/embedding-sharding";
import type { ParallelOptions } from "../parallel/parallel-options";
import type { Strategy } from "../parallel/planner";
import type { Executor } from "./executor";

export type MakeExecutor = (parallel: ParallelOptions | undefined, devices: Device[] | undefined) => Executor;

/** Bucket capacities an executor of `maxBatch` rows plans (its plan() rounds rows up to these). */
export function bucketCapacities(maxBatch: number): number[] {
  const out: number[] = [];
  for (let c = 16; ; c *= 2) {
    out.push(Math.min(c, Math.max(16, maxBatch)));
    if (c >= maxBatch) break;
  }
  return [...new Set(out)];
}

export class AutoRouting {
  readonly auto: AutoParallel;
  readonly devices: Device[];
  readonly #owned: boolean;
  readonly #make: MakeExecutor;
  readonly #executors = new Map<Strategy, Executor>();
  /** Batches run per strategy (`stats().parallel.auto`). */
  readonly batches: Partial<Record<Strategy, number>> = {};

  constructor(model: BuiltModel, { devices, maxBatch, remoteTables, make }: { devices: string | Device[]; maxBatch: number; remoteTables: readonly string[]; make: MakeExecutor }) {
    this.#owned = typeof devices === "string";
    this.devices = typeof devices === "string" ? openDevices(devices) : devices;
    this.#make = make;
    try {
      const groups = this.devices.length;
      const coresPerGroup = Math.max(1, Math.min(...this.devices.map((d) => d.stats().threads)));
      const strategies: Partial<Record<Strategy, ParallelOptions | undefined>> = {};
      const pairs = linearPairs(model.graph);
      if (groups > 1 && remoteTables.length === 0 && pooledTables(model).length > 0) {
        if (pooledTables(model).length > 1) strategies.embeddings = { embeddings: "table" };
        strategies["embedding-columns"] = { embeddings: "column" };
        strategies["embedding-rows"] = { embeddings: "row" };
      }
      if (groups > 1 && model.graph.nodes.some((n) => n.op === "moe" || n.op === "mixture")) strategies.experts = { experts: true };
      // Pipeline stages run on CPU core groups, with tables in the process.
      if (groups > 1 && remoteTables.length === 0 && this.devices.every((d) => d.deviceKind === "cpu")) strategies.pipeline = { pipeline: true };
      if (groups > 1 && pairs.chainOf.size > 0) {
        strategies.tensor = { dense: "tensor" };
        strategies.replicate = { dense: "replicate" };
      }
      this.auto = new AutoParallel({ graph: model.graph, groups, coresPerGroup, buckets: bucketCapacities(maxBatch), strategies, pairs });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The executor of the bucket `rows` falls in (made on first use). */
  executorFor(rows: number): Executor {
    const strategy = this.auto.bucketFor(rows).choice;
    let ex = this.#executors.get(strategy);
    if (!ex) {
      const options = this.auto.optionsOf(strategy);
      ex = this.#make(options, options ? this.devices : undefined);
      this.#executors.set(strategy, ex);
    }
    return ex;
  }

  /** The executor that runs a batch of `rows` rows, counted as run. */
  runOn(rows: number): Executor {
    const ex = this.executorFor(rows);
    const strategy = this.auto.bucketFor(rows).choice;
    this.batches[strategy] = (this.batches[strategy] ?? 0) + 1;
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
