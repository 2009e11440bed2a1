// The hot/cold split of one table: its most frequent rows stay in this
// process's memory (decoded to fp32, as the hot-row cache holds them), the rest
// live in Redis. Which rows are hot comes from per-row counts the user passes
// (a frequency file from training logs), else ids 0..N-1 (tables whose ids are
// assigned by frequency, as Criteo-style preprocessing does). An id → slot
// index (open addressing over typed arrays) answers "is this row local?".
import { RankfnError } from "../errors";
import { type RowDType, decodeRow, rowBytes } from "./row-codec";

/** `tables: { t: { local: "hot", hotRows } }`: keep the `hotRows` most frequent rows (a count, or a fraction of the table) local. */
export interface HotSplitOptions {
  local: "hot";
  /** Rows kept local: a count (≥ 1), or a fraction of the table's rows (0 < f < 1). */
  hotRows: number;
  /** Per-row use counts (length = the table's rows) that rank the rows; default: lower ids are hotter. */
  counts?: ArrayLike<number>;
}

/** Resolve `hotRows` to a row count for a table of `rows` rows (400 naming the table on a bad value). */
export function hotRowCount(table: string, rows: number, hotRows: number): number {
  if (!(Number.isFinite(hotRows) && hotRows > 0)) throw new RankfnError(`embeddings.tables["${table}"].hotRows: ${hotRows} must be a row count >= 1 or a fraction in (0, 1)`, "bad_option", 400);
  const n = hotRows < 1 ? Math.round(hotRows * rows) : Math.floor(hotRows);
  return Math.min(rows, Math.max(0, n));
}

/** The ids of the `count` hottest rows, ascending (ties: the lower id). */
export function hotRowIds(table: string, rows: number, count: number, counts?: ArrayLike<number>): Int32Array {
  if (!counts) return Int32Array.from({ length: count }, (_, i) => i);
  if (counts.length !== rows) throw new RankfnError(`embeddings.tables["${table}"].counts has ${counts.length} entries, the table has ${rows} rows`, "bad_option", 400);
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  order.sort((a, b) => counts[b]! - counts[a]! || a - b);
  return order.subarray(0, count).sort();
}

export class HotRows {
  readonly count: number;
  /** fp32 rows [count, dim], slot order = ascending id. */
  readonly data: Float32Array;
  readonly ids: Int32Array;
  readonly #keys: Float64Array;
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly #bits: number;
  /** Per slot: 0, or the generation of the update it waits for. */
  readonly #stale: Uint32Array;
  #generation = 0;

  /** Copy the rows of `ids` out of the table's encoded bytes (as the model file stores them). */
  constructor(
    ids: Int32Array,
    encoded: Uint8Array,
    dtype: RowDType,
    readonly dim: number,
  ) {
    this.count = ids.length;
    this.ids = ids;
    this.data = new Float32Array(ids.length * dim);
    this.#stale = new Uint32Array(ids.length);
    const rb = rowBytes(dtype, dim);
    for (let s = 0; s < ids.length; s++) decodeRow(encoded.subarray(ids[s]! * rb, (ids[s]! + 1) * rb), dtype, dim, this.data, s * dim);
    this.#bits = Math.max(4, Math.ceil(Math.log2(2 * ids.length + 1)));
    this.#mask = (1 << this.#bits) - 1;
    this.#keys = new Float64Array(1 << this.#bits).fill(-1);
    this.#slots = new Int32Array(1 << this.#bits);
    for (let s = 0; s < ids.length; s++) {
      let h = this.#hash(ids[s]!);
      while (this.#keys[h] !== -1) h = (h + 1) & this.#mask;
      this.#keys[h] = ids[s]!;
      this.#slots[h] = s;
    }
  }

  #hash(id: number): number {
    return (Math.imul(id | 0, 0x9e3779b1) ^ Math.imul((id / 4294967296) | 0, 0x85ebca6b)) >>> (32 - this.#bits);
  }

  /** The slot of `id`, or -1 when the row is not local (or stale: updated elsewhere, not read back yet). */
  slot(id: number): number {
    let h = this.#hash(id);
    for (;;) {
      const k = this.#keys[h]!;
      if (k === id) {
        const s = this.#slots[h]!;
        return this.#stale[s] === 0 ? s : -1;
      }
      if (k === -1) return -1;
      h = (h + 1) & this.#mask;
    }
  }

  /** Copy slot `s`'s row to out[at ..]. */
  copy(s: number, out: Float32Array, at: number): void {
    out.set(this.data.subarray(s * this.dim, (s + 1) * this.dim), at);
  }

  /** Take slot `s` out of service until restore(); returns the generation restore() must match. */
  markStale(s: number): number {
    this.#stale[s] = ++this.#generation;
    return this.#generation;
  }

  /** Put slot `s` back with its new row, unless a later update marked it stale again. */
  restore(s: number, generation: number, row: Float32Array): void {
    if (this.#stale[s] !== generation) return;
    this.write(s, row);
    this.#stale[s] = 0;
  }

  /** Overwrite the local copy of a hot row (an online update). */
  write(s: number, row: Float32Array): void {
    this.data.set(row, s * this.dim);
  }
}
