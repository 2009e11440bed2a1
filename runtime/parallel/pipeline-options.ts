// The `parallel.pipeline` option (runtime/parallel/pipeline.ts) and its check,
// registered in runtime/parallel/parallel-options.ts: a 400 naming the field
// before any device opens or any worker starts.
import { RankfnError } from "../errors";

/** `parallel.pipeline`: true (a stage per device, default microbatches), or the stage count and the rows per microbatch. */
export type PipelineOptions = true | { stages?: number; microbatch?: number };

const bad = (message: string) => new RankfnError(message, "bad_option", 400);

/** Check `parallel.pipeline`. */
export function checkPipelineOptions(value: unknown): void {
  if (value === true) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`parallel.pipeline: true or { stages, microbatch }, got ${JSON.stringify(value)}`);
  for (const key of Object.keys(value)) if (key !== "stages" && key !== "microbatch") throw bad(`parallel.pipeline.${key}: unknown field (expected stages, microbatch)`);
  const v = value as { stages?: unknown; microbatch?: unknown };
  if (v.stages !== undefined && !(Number.isInteger(v.stages) && (v.stages as number) >= 2)) throw bad(`parallel.pipeline.stages: an integer >= 2, got ${JSON.stringify(v.stages)}`);
  if (v.microbatch !== undefined && !(Number.isInteger(v.microbatch) && (v.microbatch as number) >= 1)) throw bad(`parallel.pipeline.microbatch: an integer >= 1 (rows), got ${JSON.stringify(v.microbatch)}`);
}
