// The accuracy harness for engines other than rankfn (onnxruntime's int8 twin in
// `bench onnx`): the same generated ranking requests (ranking-requests.ts),
// handed to the peer as flat rows — the user's features repeated for each
// candidate, as a peer without context inputs takes them — and its scores
// compared with the same metrics (score-columns.ts) against a reference the
// caller scored the same way (the peer's fp32 run).
import type { RankingRequest } from "../engine/request";
import { RankfnError } from "../errors";
import { type Tensor, tensor } from "../tensor/tensor";
import { type OutputAccuracy, type RequestOutputs, type ScoreColumns, addColumns, compareColumns, worstOf } from "./score-columns";

/** One ranking request as flat rows: every context input [1, w] repeated to [candidates, w]. */
export function flatRows(req: RankingRequest): Record<string, Tensor> {
  const first = Object.values(req.candidates)[0];
  if (!first) throw new RankfnError("flatRows: the request has no candidate inputs", "bad_request", 400);
  const n = first.shape[0]!;
  const rows: Record<string, Tensor> = { ...req.candidates };
  for (const [name, t] of Object.entries(req.context ?? {})) {
    const w = t.data.length;
    const data = new (t.data.constructor as new (length: number) => typeof t.data)(n * w);
    for (let r = 0; r < n; r++) (data as { set(src: ArrayLike<unknown>, at: number): void }).set(t.data as ArrayLike<unknown>, r * w);
    rows[name] = tensor(t.dtype, [n, w], data as never);
  }
  return rows;
}

export interface PeerAccuracy {
  requests: number;
  /** Per output column: NDCG@10, τ and max |Δscore| of the peer's scores against the reference's. */
  outputs: Record<string, OutputAccuracy>;
  worst: OutputAccuracy;
}

/**
 * Compare a peer's outputs, one entry per request, with reference outputs for the same requests.
 * @example peerAccuracy(int8Outputs, fp32Outputs).worst.ndcg10
 */
export function peerAccuracy(got: RequestOutputs[], want: RequestOutputs[], k = 10): PeerAccuracy {
  if (want.length === 0 || got.length !== want.length) throw new RankfnError(`peerAccuracy: ${got.length} scored requests against ${want.length} reference ones`, "bad_option", 400);
  const columns = (all: RequestOutputs[]) => {
    const into: ScoreColumns = {};
    for (const outputs of all) addColumns(into, outputs);
    return into;
  };
  const outputs = compareColumns(columns(got), columns(want), k);
  return { requests: want.length, outputs, worst: worstOf(outputs) };
}
