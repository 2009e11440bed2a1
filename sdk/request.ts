// Request and response types of the public API, with the zod schemas that
// validate them. Tensors are { dtype, shape, data }: the batch is the first
// dimension. A flat request scores rows; a ranking request scores one
// context (user, query, page) against N candidates.
import { z } from "zod";
import type { Tensor } from "../runtime/tensor/tensor";

const typedArray = z.custom<ArrayBufferView>((v) => ArrayBuffer.isView(v) && !(v instanceof DataView), "expected a TypedArray");

export const tensorSchema = z.object({
  dtype: z.enum(["f32", "f16", "bf16", "i8", "u8q", "i32", "i64"]),
  shape: z.array(z.number().int().nonnegative()),
  data: typedArray,
});

const features = z.record(z.string(), tensorSchema);

export const flatRequestSchema = z.object({ rows: features }).strict();
export const rankingRequestSchema = z.object({ context: features.default({}), candidates: features }).strict();
export const requestSchema = z.union([rankingRequestSchema, flatRequestSchema]);

/** { rows: { feature: Tensor } }: every tensor has one row per item. */
export interface FlatRequest {
  rows: Record<string, Tensor>;
}

/** { context: { feature: 1-row Tensor }, candidates: { feature: N-row Tensor } }. */
export interface RankingRequest {
  context?: Record<string, Tensor>;
  candidates: Record<string, Tensor>;
}

export type RankRequest = FlatRequest | RankingRequest;

export interface RankResponse {
  /** One tensor per model output (e.g. ctr, cvr): [N, width] for candidate outputs. */
  outputs: Record<string, Tensor<"f32">>;
  model: string;
  timing: { queueMs: number; computeMs: number };
}
