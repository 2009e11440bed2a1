// The request and response types of the engine (and so of the public API):
// tensors are { dtype, shape, data } with the batch as the first dimension. A
// flat request scores rows; a ranking request scores one context (user, query,
// page) against N candidates. What a request must hold is checked by
// validate.ts against the model's inputs, one request at a time.
import type { Tensor } from "../tensor/tensor";

/** { rows: { feature: Tensor } }: every tensor has one row per item. */
export interface FlatRequest {
  rows: Record<string, Tensor>;
}

/** { context: { feature: 1-row Tensor }, candidates: { feature: N-row Tensor } }. */
export interface RankingRequest {
  /** Who the context belongs to: with a model's KV cache, the user's history K/V are reused across requests (none without). */
  user?: string | number;
  context?: Record<string, Tensor>;
  candidates: Record<string, Tensor>;
}

export type RankRequest = RankingRequest | FlatRequest;

export interface RankResponse {
  /** One tensor per model output (e.g. ctr, cvr): [N, width] for candidate outputs, [1, width] for context outputs. */
  outputs: Record<string, Tensor<"f32">>;
  model: string;
  timing: { queueMs: number; computeMs: number };
  /** Set when a remote embedding tier failed and default rows were scored (fault policy "default"). */
  degraded?: boolean;
  /**
   * Set when a history (an input the model declares a sequence) had more events than the model
   * keeps: by input, the events sent and kept (the most recent `kept`; the oldest were dropped).
   */
  truncated?: Record<string, { length: number; kept: number }>;
}
