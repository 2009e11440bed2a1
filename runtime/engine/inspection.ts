// What inspect() reports about a compiled model: its inputs and outputs with
// roles, parameter counts by dtype, precision, the compiler's pass summaries
// and the memory plans built so far. Computed where the model was compiled:
// on the calling thread inline, in the worker in worker mode (the worker sends
// it to the main thread whenever a new plan appears).
import { describePlan } from "../compiler/plan-memory";
import type { Executor, ProfileLine } from "./executor";
import type { EmbeddingShardingReport } from "../parallel/embedding-sharding";
import type { AutoDescription } from "../parallel/auto-parallel";
import type { Strategy } from "../parallel/planner";
import type { DenseParallelReport, DenseParallelStats } from "../parallel/dense-parallel";
import type { EmbeddingShardingStats } from "../parallel/embedding-sharding";
import type { PipelineReport } from "../parallel/pipeline";

export interface TensorInfo {
  name: string;
  dtype: string;
  /** The batch dimension first, written as -1. */
  shape: number[];
  role: "context" | "candidate";
  /** A history input: requests send up to any length, the most recent maxLength events are kept. */
  sequence?: { maxLength: number; keep: "last"; group?: string };
}

export interface ModelInspection {
  name: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  params: { count: number; bytes: number; byDtype: Record<string, number> };
  precision: { weights: string; tables: string };
  compiler: string[];
  memoryPlan: { capacity: number; contextCapacity: number; arenaBytes: number; naiveBytes: number; summary: string }[];
  /** Dynamic dimensions after the batch, and the size buckets they are planned in (this inspection is the largest's). */
  dims?: { dynamic: { input: string; axis: number; param: string }[]; buckets: Record<string, number>[] };
  /** How the model spreads over its devices (`parallel`): where each embedding table's shards live. */
  parallel?: { embeddings?: EmbeddingShardingReport; dense?: DenseParallelReport; auto?: AutoDescription; pipeline?: PipelineReport };
}

/** The parallel parts' counters since load (`stats().parallel`). */
export interface ParallelStats {
  embeddings?: EmbeddingShardingStats;
  dense?: DenseParallelStats;
  /** `parallel: "auto"`: batches run per chosen strategy. */
  auto?: { batches: Partial<Record<Strategy, number>> };
}

export type { ProfileLine };

/** Describe the model an executor runs; plans the 64-row bucket first when no plan exists yet (so a memory plan is shown). */
export function inspectExecutor(executor: Executor, compiler: string[], options: { precision?: string; tables?: string }): ModelInspection {
  const { graph, weights } = executor.model;
  const byDtype: Record<string, number> = {};
  let count = 0;
  let bytes = 0;
  for (const t of weights.values()) {
    const n = t.dtype === "u8q" || t.dtype === "u4q" ? t.shape[0]! * t.shape[1]! : t.shape.reduce((a, b) => a * b, 1);
    count += n;
    bytes += t.data.byteLength;
    byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + n;
  }
  if (executor.memory().length === 0) executor.plan(Math.min(64, executor.maxBatch));
  const values = executor.info.values;
  const info = (name: string, value: string): TensorInfo => {
    const v = values.get(value)!;
    return { name, dtype: v.dtype, shape: [-1, ...v.shape], role: v.role };
  };
  return {
    name: graph.name,
    inputs: graph.inputs.map((i) => ({ ...info(i.name, i.name), ...(i.sequence ? { sequence: i.sequence } : {}) })),
    outputs: Object.entries(graph.outputs).map(([name, v]) => info(name, v)),
    params: { count, bytes, byDtype },
    precision: { weights: options.precision ?? "f32", tables: options.tables ?? "f32" },
    compiler,
    memoryPlan: executor.memory().map((m) => ({ capacity: m.capacity, contextCapacity: m.contextCapacity, arenaBytes: m.arenaBytes, naiveBytes: m.naiveBytes, summary: describePlan(m) })),
    ...(executor.embeddingSharding || executor.denseParallel ? { parallel: { ...(executor.embeddingSharding ? { embeddings: executor.embeddingSharding.describe() } : {}), ...(executor.denseParallel ? { dense: executor.denseParallel.describe() } : {}) } } : {}),
    ...(executor.autoParallel ? { parallel: { auto: executor.autoParallel.auto.describe() } } : {}),
    ...(executor.pipeline ? { parallel: { pipeline: executor.pipeline.describe() } } : {}),
  };
}
