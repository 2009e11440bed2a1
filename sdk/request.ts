// Request and response types of the public API, with the zod schemas that
// validate them. Tensors are { dtype, shape, data }: the batch is the first
// dimension. A flat request scores rows; a ranking request scores one
// context (user, query, page) against N candidates.
import { z } from "zod";
import type { TypedArray } from "../runtime/tensor/dtype";
import type { Tensor } from "../runtime/tensor/tensor";

const typedArray = z.custom<TypedArray>((v) => ArrayBuffer.isView(v) && !(v instanceof DataView), "expected a TypedArray");

/** A tensor on the API and the wire: the batch is the first dimension. Deep checks (length, dtype vs storage) follow in the stager. */
export const tensorSchema = z.object({
  dtype: z.enum(["f32", "f16", "bf16", "i8", "u8q", "i32", "i64", "bool"]),
  shape: z.array(z.number().int().nonnegative()),
  data: typedArray,
  strides: z.array(z.number().int().nonnegative()).optional(),
});

const features = z.record(z.string(), tensorSchema);

export const flatRequestSchema = z.object({ rows: features }).strict();
export const rankingRequestSchema = z.object({ context: features.optional(), candidates: features }).strict();
export const requestSchema = z.union([rankingRequestSchema, flatRequestSchema]);

/** { rows: { feature: Tensor } }: every tensor has one row per item. */
export type FlatRequest = z.infer<typeof flatRequestSchema>;

/** { context: { feature: 1-row Tensor }, candidates: { feature: N-row Tensor } }. */
export type RankingRequest = z.infer<typeof rankingRequestSchema>;

export type RankRequest = z.infer<typeof requestSchema>;

export const rankResponseSchema = z.object({
  /** One tensor per model output (e.g. ctr, cvr): [N, width] for candidate outputs. */
  outputs: z.record(z.string(), tensorSchema),
  model: z.string(),
  timing: z.object({ queueMs: z.number(), computeMs: z.number() }),
  /** Set when a remote embedding tier failed and default rows were scored (fault policy "default"). */
  degraded: z.boolean().optional(),
});

export type RankResponse = Omit<z.infer<typeof rankResponseSchema>, "outputs"> & { outputs: Record<string, Tensor<"f32">> };
