// The `devices` and `parallel` options of a model (issue 20): which local
// devices a model spreads over and, per part of the model, how: explicit
// choices per part, or "auto" (the planner picks per batch-size bucket); each
// part registers its own check here, so a bad option is a 400 naming its field
// before any device opens.
import type { Device } from "../devices";
import { RankfnError } from "../errors";
import type { ExpertParallelOptions } from "../moe/expert-layer";
import { type DenseStrategy, denseStrategies } from "./linear-pairs";

export type { DenseStrategy } from "./linear-pairs";
import { type PipelineOptions, checkPipelineOptions } from "./pipeline-options";

/** How the pooled embedding lookups spread over the devices (runtime/parallel/embedding-placement.ts). */
export type EmbeddingStrategy = "table" | "row" | "column" | "replicate";
export const embeddingStrategies: readonly EmbeddingStrategy[] = ["table", "row", "column", "replicate"];

/** One strategy for every table, or a default with per-table choices (by weight name, e.g. "emb_3.table"). */
export type EmbeddingParallelism = EmbeddingStrategy | { default?: EmbeddingStrategy; tables?: Record<string, EmbeddingStrategy> };

export interface ParallelOptions {
  /**
   * Shard the embedding tables over the devices: "table" (whole tables, balanced by bytes), "row"
   * (row ranges: ids routed by range), "column" (column slices of every table), "replicate"
   * (every device holds every table and looks up a share of the batch's rows).
   */
  embeddings?: EmbeddingParallelism;
  /**
   * Split the chains of linears (an MLP's layers) over the devices: "tensor" (Megatron-style pairs,
   * column- then row-parallel, one reduce per pair), "replicate" (every device runs a share of the
   * batch's rows through its copy of the chain).
   */
  dense?: DenseStrategy;
  /**
   * Run the MoE layers and dense mixtures expert-parallel on these devices (the same as the
   * `experts` option with these devices): true, or the expert options (capacityFactor, overflow,
   * replicate, replanEvery, placement).
   */
  experts?: true | ExpertParallelOptions;
  /** Cut the plan into stages, one per device, and run each batch as microbatches flowing through them (runtime/parallel/pipeline.ts). */
  pipeline?: PipelineOptions;
}

/** `parallel`: explicit choices per part, or "auto": the planner's choice per batch-size bucket (runtime/parallel/auto-parallel.ts). */
export type ParallelConfig = "auto" | ParallelOptions;

const bad = (message: string) => new RankfnError(message, "bad_option", 400);

/** Each part's check of its own value (a part not listed here is not supported yet). */
const partChecks: Record<string, (value: unknown) => void> = {
  embeddings: checkEmbeddingParallelism,
  dense: checkDenseParallelism,
  experts: checkExpertParallelism,
  pipeline: checkPipelineOptions,
};

const expertFields = ["placement", "capacityFactor", "overflow", "replicate", "replanEvery"];

function checkExpertParallelism(value: unknown): void {
  if (value === true) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`parallel.experts: true or expert options like { capacityFactor: 1.25 }, got ${JSON.stringify(value)}`);
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (!expertFields.includes(key)) throw bad(`parallel.experts.${key}: unknown field (expected ${expertFields.join(", ")})`);
  if (v.capacityFactor !== undefined && !(typeof v.capacityFactor === "number" && v.capacityFactor > 0)) throw bad(`parallel.experts.capacityFactor: must be a positive number, got ${JSON.stringify(v.capacityFactor)}`);
  if (v.overflow !== undefined && v.overflow !== "drop" && v.overflow !== "spill") throw bad(`parallel.experts.overflow: must be "drop" or "spill", got ${JSON.stringify(v.overflow)}`);
  if (v.replanEvery !== undefined && !(Number.isInteger(v.replanEvery) && (v.replanEvery as number) >= 0)) throw bad(`parallel.experts.replanEvery: must be an integer >= 0, got ${JSON.stringify(v.replanEvery)}`);
}

/** Validate `devices` and `parallel` before any device opens or any native call. */
export function checkParallel(devices: string | Device[] | undefined, parallel: unknown): void {
  if (devices !== undefined && typeof devices !== "string" && (!Array.isArray(devices) || devices.length < 1)) {
    throw bad('devices: give a spec like "cpu:2" or at least one opened device');
  }
  if (parallel === undefined) return;
  if (parallel === "auto") {
    if (devices === undefined) throw bad('parallel: "auto" needs devices to plan over, e.g. { devices: "cpu:2", parallel: "auto" }');
    return;
  }
  if (typeof parallel !== "object" || parallel === null || Array.isArray(parallel)) throw bad(`parallel: must be an object like { embeddings: "row" }, got ${JSON.stringify(parallel)}`);
  for (const [part, value] of Object.entries(parallel)) {
    const check = partChecks[part];
    if (!check) throw bad(`parallel.${part}: not supported (supported: ${Object.keys(partChecks).join(", ")})`);
    if (value !== undefined) check(value);
  }
  if (devices === undefined) throw bad('parallel: needs devices to spread over, e.g. { devices: "cpu:2", parallel: { embeddings: "table" } }');
}

function checkDenseParallelism(value: unknown): void {
  if (!denseStrategies.includes(value as DenseStrategy)) throw bad(`parallel.dense: unknown strategy ${JSON.stringify(value)} (expected ${denseStrategies.map((s) => `"${s}"`).join(", ")})`);
}

function checkStrategy(field: string, value: unknown): void {
  if (!embeddingStrategies.includes(value as EmbeddingStrategy)) throw bad(`${field}: unknown strategy ${JSON.stringify(value)} (expected ${embeddingStrategies.map((s) => `"${s}"`).join(", ")})`);
}

function checkEmbeddingParallelism(value: unknown): void {
  if (typeof value === "string") return checkStrategy("parallel.embeddings", value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`parallel.embeddings: a strategy or { default, tables }, got ${JSON.stringify(value)}`);
  for (const key of Object.keys(value)) if (key !== "default" && key !== "tables") throw bad(`parallel.embeddings.${key}: unknown field (expected default, tables)`);
  const v = value as { default?: unknown; tables?: unknown };
  if (v.default !== undefined) checkStrategy("parallel.embeddings.default", v.default);
  if (v.tables !== undefined) {
    if (typeof v.tables !== "object" || v.tables === null || Array.isArray(v.tables)) throw bad("parallel.embeddings.tables: must map table names to strategies");
    for (const [table, s] of Object.entries(v.tables)) checkStrategy(`parallel.embeddings.tables["${table}"]`, s);
  }
}

/** The strategy of each of `tables` (names checked against the model's: an unknown one is a 400). */
export function strategyOfTables(value: EmbeddingParallelism, tables: readonly string[]): Map<string, EmbeddingStrategy> {
  const fallback = typeof value === "string" ? value : (value.default ?? "table");
  const chosen = typeof value === "string" ? {} : (value.tables ?? {});
  for (const name of Object.keys(chosen)) {
    if (!tables.includes(name)) throw bad(`parallel.embeddings.tables: "${name}" is not a pooled embedding table of this model (its tables: ${tables.join(", ")})`);
  }
  return new Map(tables.map((t) => [t, chosen[t] ?? fallback]));
}
