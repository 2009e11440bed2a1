// The requests every accuracy figure is measured on: one user (the context
// inputs, once) × 200 candidates, generated from the graph alone, seeded and
// deterministic. Unlike the uniform sample requests they look like traffic:
//   - ids are Zipf(1.05) over the table each input indexes (rank r is row r), so a
//     few hot rows dominate, as they do in production logs; inputs that declare a
//     padding id leave ~20% of their slots empty (variable-length bags);
//   - dense features are log(1 + count), the Criteo/DLRM preprocessing, with
//     counts exponential around a per-feature mean between 1 and ~1100 and ~30%
//     zeros: values in [0, ~12], heavy on small ones, per-feature scales that
//     differ by orders of magnitude (what makes activation ranges hard);
//   - bool inputs are true with probability 1/2.
import type { BuiltModel } from "../graph/builder";
import { idRowCounts } from "../graph/embedding-lookups";
import type { GraphInput } from "../graph/schema";
import type { RankingRequest } from "../engine/request";
import { Rng, Zipf } from "../tensor/random";
import { type Tensor, tensor } from "../tensor/tensor";

export interface RankingRequestOptions {
  /** Requests (users). Default 8. */
  count?: number;
  /** Candidates per request. Default 200. */
  candidates?: number;
  seed?: number;
  /** Zipf exponent of the ids (default 1.05). */
  zipf?: number;
}

/** How one input's values are drawn: fixed per input for the whole run, so every request sees the same feature scales. */
type Draw = (rng: Rng) => number;

function drawFor(input: GraphInput, idRows: Map<string, number>, rng: Rng, zipf: number): Draw[] {
  const width = input.shape.reduce((a, b) => a * b, 1);
  if (input.dtype === "f32") {
    return Array.from({ length: width }, () => {
      const mean = Math.exp(rng.uniform(0, 7));
      return (r: Rng) => (r.next() < 0.3 ? 0 : Math.log1p(Math.floor(-mean * Math.log(1 - r.next()))));
    });
  }
  if (input.dtype === "bool") return Array.from({ length: width }, () => (r: Rng) => (r.next() < 0.5 ? 1 : 0));
  const ids = new Zipf(Math.max(1, idRows.get(input.name) ?? 1), zipf);
  const padding = input.padding;
  const draw: Draw = padding === undefined ? (r) => ids.sample(r) : (r) => (r.next() < 0.2 ? padding : ids.sample(r));
  return Array.from({ length: width }, () => draw);
}

function features(inputs: GraphInput[], draws: Map<string, Draw[]>, rows: number, rng: Rng): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const input of inputs) {
    const d = draws.get(input.name)!;
    const w = d.length;
    const values = Array.from({ length: rows * w }, (_, i) => d[i % w]!(rng));
    if (input.dtype === "f32") out[input.name] = tensor("f32", [rows, w], Float32Array.from(values));
    else if (input.dtype === "i64") out[input.name] = tensor("i64", [rows, w], BigInt64Array.from(values, (v) => BigInt(v)));
    else if (input.dtype === "i32") out[input.name] = tensor("i32", [rows, w], Int32Array.from(values));
    else out[input.name] = tensor("bool", [rows, w], Uint8Array.from(values));
  }
  return out;
}

/**
 * `count` ranking requests of one context × `candidates` items, realistic ranges (see the top of the file).
 * @example rankingRequests(zoo.dlrm.build({}), { count: 8, candidates: 200, seed: 1 })
 */
export function rankingRequests(model: BuiltModel, { count = 8, candidates = 200, seed = 1, zipf = 1.05 }: RankingRequestOptions = {}): RankingRequest[] {
  const rng = new Rng(seed);
  const idRows = idRowCounts(model.graph);
  const draws = new Map(model.graph.inputs.map((i) => [i.name, drawFor(i, idRows, rng, zipf)] as const));
  const ctx = model.graph.inputs.filter((i) => i.role === "context");
  const cand = model.graph.inputs.filter((i) => i.role === "candidate");
  return Array.from({ length: count }, () => ({ context: features(ctx, draws, 1, rng), candidates: features(cand, draws, candidates, rng) }));
}
