// Upload a model's embedding tables to Redis (what `rankfn embeddings push`
// runs): every row under its key in the row codec's layout, in pipelined MSET
// chunks, then the table's metadata (shape, encoding, mean row, key layout)
// last, so a reader that sees the metadata sees a complete table. A table with
// a hot/cold split uploads only its cold rows (the hot ones stay in memory).
import type { BuiltModel } from "../graph/builder";
import { RankfnError } from "../errors";
import { ROW_LAYOUT, type RedisEmbeddingStore } from "./redis-store";
import { type HotSplitOptions, hotRowCount, hotRowIds } from "./hot-rows";
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
  /** Per table: keep its hot rows out of Redis (the split the serving model is loaded with). */
  split?: Record<string, Omit<HotSplitOptions, "local">>;
  /** Rows per pipelined batch of MSETs. Default 8192. */
  rowsPerBatch?: number;
  onProgress?: (p: PushProgress) => void;
}

/** Push tables of `model` under `store.prefix`; returns the bytes of rows written. */
export async function pushTables(model: BuiltModel, store: RedisEmbeddingStore, { tables, split, rowsPerBatch = 8192, onProgress }: PushOptions = {}): Promise<number> {
  const all = embeddingTables(model.graph);
  const names = tables ?? all;
  const specs = names.map((name) => {
    const t = model.weights.get(name);
    if (!t || !all.includes(name)) throw new RankfnError(`push: "${name}" is not an embedding table of model "${model.graph.name}" (tables: ${all.join(", ")})`, "unknown_table", 400);
    if (!rowDTypes.includes(t.dtype as RowDType)) throw new RankfnError(`push: table "${name}" is ${t.dtype}, not f32/f16/bf16/u8q/u4q`, "bad_dtype", 400);
    const [rows, dim] = t.shape as [number, number];
    const dtype = t.dtype as RowDType;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const hot = split?.[name] ? hotRowIds(name, rows, hotRowCount(name, rows, split[name]!.hotRows), split[name]!.counts) : new Int32Array(0);
    // The cold ids, ascending.
    const isHot = new Uint8Array(rows);
    for (const id of hot) isHot[id] = 1;
    const cold = hot.length === 0 ? undefined : Int32Array.from({ length: rows - hot.length }, () => 0);
    if (cold) for (let r = 0, k = 0; r < rows; r++) if (!isHot[r]) cold[k++] = r;
    return { name, rows, dim, dtype, rb: rowBytes(dtype, dim), bytes, cold, pushed: cold ? cold.length : rows };
  });
  const bytesTotal = specs.reduce((a, s) => a + s.pushed * s.rb, 0);
  let bytesDone = 0;
  for (const s of specs) {
    for (let at = 0; at < s.pushed; at += rowsPerBatch) {
      const count = Math.min(rowsPerBatch, s.pushed - at);
      const ids = s.cold ? s.cold.subarray(at, at + count) : Int32Array.from({ length: count }, (_, i) => at + i);
      const rowsOut = s.cold ? gatherRows(s.bytes, ids, s.rb) : s.bytes.subarray(at * s.rb, (at + count) * s.rb);
      await store.write(s.name, ids, rowsOut, s.rb, { timeoutMs: 60_000 });
      bytesDone += count * s.rb;
      onProgress?.({ table: s.name, rowsDone: at + count, rowsTotal: s.pushed, bytesDone, bytesTotal });
    }
    const mean = meanRow(s.bytes, s.rows, s.dtype, s.dim);
    await store.writeMeta(s.name, { rows: s.rows, dim: s.dim, dtype: s.dtype, mean: Array.from(mean), layout: ROW_LAYOUT, ...(s.cold ? { pushedRows: s.pushed } : {}) });
    if (s.rows === 0) onProgress?.({ table: s.name, rowsDone: 0, rowsTotal: 0, bytesDone, bytesTotal });
  }
  return bytesTotal;
}

/** The encoded rows of `ids`, packed. */
function gatherRows(bytes: Uint8Array, ids: Int32Array, rb: number): Uint8Array {
  const out = new Uint8Array(ids.length * rb);
  ids.forEach((id, i) => out.set(bytes.subarray(id * rb, (id + 1) * rb), i * rb));
  return out;
}
