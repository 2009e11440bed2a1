// Random but valid requests for any model, from its graph alone: dense inputs
// uniform in [0, 1), ids uniform over the table each sparse input indexes
// (some slots padded where the input declares padding). Used to measure
// quantization accuracy and in benchmarks; deterministic for a seed.
import type { BuiltModel } from "../runtime/graph/builder";
import { idRowCounts } from "../runtime/graph/embedding-lookups";
import type { GraphInput } from "../runtime/graph/schema";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import type { RankingRequest } from "./request";

/** Rows of the smallest table each id input indexes (ids must fit all of them). */
export function idRanges(model: BuiltModel): Map<string, number> {
  return idRowCounts(model.graph);
}

function features(inputs: GraphInput[], rows: number, ranges: Map<string, number>, rng: Rng): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const input of inputs) {
    const w = input.shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "f32") {
      out[input.name] = tensor("f32", [rows, w], rng.floats(rows * w, 0, 1));
      continue;
    }
    const range = ranges.get(input.name) ?? 1;
    const id = () => (input.padding !== undefined && rng.next() < 0.2 ? input.padding : rng.int(range));
    out[input.name] = input.dtype === "i64" ? tensor("i64", [rows, w], BigInt64Array.from({ length: rows * w }, () => BigInt(id()))) : tensor("i32", [rows, w], Int32Array.from({ length: rows * w }, id));
  }
  return out;
}

/** `count` ranking requests of `candidates` items each. */
export function sampleRequests(model: BuiltModel, { count = 4, candidates = 100, seed = 1 } = {}): RankingRequest[] {
  const rng = new Rng(seed);
  const ranges = idRanges(model);
  const ctx = model.graph.inputs.filter((i) => i.role === "context");
  const cand = model.graph.inputs.filter((i) => i.role === "candidate");
  return Array.from({ length: count }, () => ({ context: features(ctx, 1, ranges, rng), candidates: features(cand, candidates, ranges, rng) }));
}

/** One flat request of `rows` rows (every row its own context): how batch throughput is measured. */
export function sampleFlatRequest(model: BuiltModel, rows: number, seed = 1): { rows: Record<string, Tensor> } {
  return { rows: features(model.graph.inputs, rows, idRanges(model), new Rng(seed)) };
}
