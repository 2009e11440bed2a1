// Row updates from outside a serving process (a training job, a feature
// pipeline): read the table's layout from its metadata in Redis, write the
// rows in that layout, and announce them so every running model that follows
// these tables drops its cached copies.
import { RankfnError } from "../errors";
import { RedisEmbeddingStore } from "./redis-store";
import { encodeRows, rowBytes } from "./row-codec";

export interface RowUpdate {
  /** Redis (or one node of a Redis Cluster) holding the tables. */
  redis: string;
  /** Key prefix the tables were pushed under, e.g. "rankfn:dlrm". */
  prefix: string;
  table: string;
  ids: number[];
  /** fp32 rows [ids.length, dim], encoded as the table is stored. */
  rows: Float32Array;
}

/**
 * Write new rows of a pushed table and announce them to every subscribed model.
 * @example await updateEmbeddingRows({ redis: "redis://10.0.0.5:6379", prefix: "rankfn:dlrm", table: "emb_3.table", ids: [42], rows });
 */
export async function updateEmbeddingRows({ redis, prefix, table, ids, rows }: RowUpdate): Promise<void> {
  const store = new RedisEmbeddingStore({ url: redis, prefix });
  try {
    const meta = await store.readMeta(table, 5000);
    if (!meta) throw new RankfnError(`no table "${table}" under "${prefix}" in ${redis} (push it with \`rankfn embeddings push\`)`, "unknown_table", 404);
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= meta.rows) throw new RankfnError(`update of "${table}": id ${id} is outside the table's ${meta.rows} rows`, "id_out_of_range", 400);
    if (rows.length !== ids.length * meta.dim) throw new RankfnError(`update of "${table}": ${rows.length} values for ${ids.length} rows of dim ${meta.dim}`, "bad_shape", 400);
    await store.write(table, ids, encodeRows(rows, ids.length, meta.dim, meta.dtype), rowBytes(meta.dtype, meta.dim));
    await store.publish({ table, ids });
  } finally {
    store.close();
  }
}
