// Staged batches for the sections of `bun run bench parallel`: `n` rows of a
// model's flat inputs (dense features uniform in [0, 1), ids uniform over their
// table `emb_<i>.table` for input `cat_<i>`), validated and staged as the
// engine stages a request.
import type { StagedBatch } from "../runtime/engine/executor";
import { Stager } from "../runtime/engine/stager";
import { RequestValidator } from "../runtime/engine/validate";
import type { BuiltModel } from "../runtime/graph/builder";
import type { Rng } from "../runtime/tensor/random";
import { tensor } from "../runtime/tensor/tensor";

export function stagedBatch(model: BuiltModel, n: number, rng: Rng): StagedBatch {
  const rows = Object.fromEntries(model.graph.inputs.map((input) => {
    const width = input.shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "f32") return [input.name, tensor("f32", [n, width], Float32Array.from({ length: n * width }, () => rng.next()))];
    const table = model.weights.get(`emb_${input.name.slice(4)}.table`)!.shape[0]!;
    return [input.name, tensor("i64", [n, width], BigInt64Array.from({ length: n * width }, () => BigInt(rng.int(table))))];
  }));
  return new Stager(model.graph).stage([new RequestValidator(model.graph).validate({ rows })]).batch;
}
