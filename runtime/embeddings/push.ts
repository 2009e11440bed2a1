// Upload a model's embedding tables to Redis (what `rankfn embeddings push`
// runs): every row under its key in the row codec's layout, in pipelined MSET
// chunks, then the table's metadata (shape, encoding, mean row) last, so a
// reader that sees the metadata sees a complete table.
import type { BuiltModel } from "../graph/builder";
import { RankfnError } from "../errors";
import type { RedisEmbeddingStore } from "./redis-store";
import { embeddingTables } from "./resolver";
import { type RowDType, meanRow, rowBytes, rowDTypes } from "./row-codec";

export interface PushProgress {
  table: string;
  rowsDone: number;
  rowsTotal: number;
  /** Over all tables being pushed. */
  bytesDone: number;
  bytesTotal: number;
}

export interface PushOptions {
  /** Tables to push (default: every embedding table). */
  tables?: string[];
  /** Rows per pipelined batch of MSETs. Default 8192. */
  rowsPerBatch?: number;
  onProgress?: (p: PushProgress) => void;
}

/** Push tables of `model` under `store.prefix`; returns the bytes of rows written. */
export async function pushTables(model: BuiltModel, store: RedisEmbeddingStore, { tables, rowsPerBatch = 8192, onProgress }: PushOptions = {}): Promise<number> {
  const all = embeddingTables(model.graph);
  const names = tables ?? all;
  const specs = names.map((name) => {
    const t = model.weights.get(name);
    if (!t || !all.includes(name)) throw new RankfnError(`push: "${name}" is not an embedding table of model "${model.graph.name}" (tables: ${all.join(", ")})`, "unknown_table", 400);
    if (!rowDTypes.includes(t.dtype as RowDType)) throw new RankfnError(`push: table "${name}" is ${t.dtype}, not f32/f16/bf16/u8q`, "bad_dtype", 400);
    const [rows, dim] = t.shape as [number, number];
    const dtype = t.dtype as RowDType;
    return { name, rows, dim, dtype, rb: rowBytes(dtype, dim), bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  });
  const bytesTotal = specs.reduce((a, s) => a + s.rows * s.rb, 0);
  let bytesDone = 0;
  for (const s of specs) {
    for (let at = 0; at < s.rows; at += rowsPerBatch) {
      const count = Math.min(rowsPerBatch, s.rows - at);
      const ids = Int32Array.from({ length: count }, (_, i) => at + i);
      await store.write(s.name, ids, s.bytes.subarray(at * s.rb, (at + count) * s.rb), s.rb, { timeoutMs: 60_000 });
      bytesDone += count * s.rb;
      onProgress?.({ table: s.name, rowsDone: at + count, rowsTotal: s.rows, bytesDone, bytesTotal });
    }
    const mean = meanRow(s.bytes, s.rows, s.dtype, s.dim);
    await store.writeMeta(s.name, { rows: s.rows, dim: s.dim, dtype: s.dtype, mean: Array.from(mean) });
    if (s.rows === 0) onProgress?.({ table: s.name, rowsDone: 0, rowsTotal: 0, bytesDone, bytesTotal });
  }
  return bytesTotal;
}
