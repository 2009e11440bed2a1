// One remote table's local tiers, in lookup order: its hot/cold split's local
// rows (hot-rows.ts), the native hot-row cache (rf_emb_cache_*) behind its
// admission sketch, and (shared by the model's tables, in remote-tables.ts)
// the host row cache. `lookupLocal` fills what these hold and returns the ids
// still needed with their positions; it never touches the network, so a batch
// whose rows are all local can run synchronously (rankSync).
import { EmbeddingCache } from "../ffi/emb-cache";
import { FrequencySketch } from "./admission";
import type { HotRows } from "./hot-rows";
import { type RowDType, decodeRow } from "./row-codec";

export interface TableSpec {
  name: string;
  rows: number;
  dim: number;
  /** Encoding of the rows in Redis (the table's dtype in the model file). */
  dtype: RowDType;
  /** The table's encoded rows as the model file stores them (needed for a hot/cold split). */
  data?: Uint8Array;
  /** The hot/cold split: the ids kept local (ascending); absent: every row is remote. */
  hotIds?: Int32Array;
}

export interface TableCounters {
  localHits: number;
  hostHits: number;
  hostMisses: number;
  remoteRows: number;
  remoteBytes: number;
  fetches: number;
  latencyMsSum: number;
  latencyMsMax: number;
  defaulted: number;
  admitted: number;
  rejected: number;
}

/** Missed distinct ids of one lookup: id → its positions, and its admission count (how many recent batches used it). */
export interface Needed {
  positions: Map<number, number[]>;
  frequency: Map<number, number>;
}

export interface Table extends TableSpec {
  cache: EmbeddingCache | undefined;
  sketch: FrequencySketch | undefined;
  hot: HotRows | undefined;
  /** Most missed rows one batch may insert into the hot cache. */
  admitPerBatch: number;
  /** One decoded row, and its bytes (an f32 row is copied in whatever its source alignment). */
  scratch: Float32Array;
  scratchBytes: Uint8Array;
  rowBytes: number;
  defaultRow: Float32Array;
  stats: TableCounters;
}

/** A row seen from a slower tier this batch: used this often by recent batches (see admission.ts). */
export const ADMIT_AFTER_BATCHES = 2;

/**
 * Fill out[pos*dim ..] from the local tiers for the ids[0..n) (already range-checked);
 * the ids still needed, by distinct id.
 */
export function lookupLocal(t: Table, ids: Int32Array | BigInt64Array, n: number, out: Float32Array): Needed {
  const wide = ids instanceof BigInt64Array;
  const idAt = wide ? (i: number) => Number(ids[i]!) : (i: number) => (ids as Int32Array)[i]!;
  const positions = new Map<number, number[]>();
  const frequency = new Map<number, number>();
  const need = (id: number, pos: number) => {
    const list = positions.get(id);
    if (list) list.push(pos);
    else positions.set(id, [pos]);
  };
  // 1. The hot/cold split's local rows; the rest (positions `restPos`) go on.
  let restIds: Int32Array | BigInt64Array = ids.subarray(0, n);
  let restPos: Int32Array | undefined;
  if (t.hot) {
    const keep = new Int32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = t.hot.slot(idAt(i));
      if (s >= 0) {
        t.hot.copy(s, out, i * t.dim);
        t.stats.localHits++;
      } else keep[m++] = i;
    }
    if (m === n) restPos = undefined;
    else {
      restPos = keep.subarray(0, m);
      restIds = wide ? BigInt64Array.from(restPos, (i) => ids[i] as bigint) : Int32Array.from(restPos, (i) => (ids as Int32Array)[i]!);
    }
  }
  const m = restIds.length;
  const posOf = restPos ? (k: number) => restPos![k]! : (k: number) => k;
  const idOf = restPos ? (k: number) => idAt(restPos![k]!) : idAt;
  // 2. The hot-row cache (into a scratch buffer when the rest is not contiguous in `out`).
  if (t.cache && m > 0) {
    const target = restPos ? new Float32Array(m * t.dim) : out;
    const miss = t.cache.lookup(restIds, target, t.dim);
    if (restPos) {
      let next = 0;
      for (let k = 0; k < m; k++) {
        if (next < miss.length && Number(miss[next]!) === k) {
          next++;
          continue;
        }
        out.set(target.subarray(k * t.dim, (k + 1) * t.dim), restPos[k]! * t.dim);
      }
    }
    // Every id this batch uses counts towards its admission; a miss is admitted once used by enough batches.
    for (let k = 0; k < m; k++) t.sketch!.add(idOf(k));
    for (let j = 0; j < miss.length; j++) {
      const k = Number(miss[j]!);
      const id = idOf(k);
      need(id, posOf(k));
      if (!frequency.has(id)) frequency.set(id, t.sketch!.estimate(id));
    }
  } else for (let k = 0; k < m; k++) need(idOf(k), posOf(k));
  return { positions, frequency };
}

/** Decode a row once (into the table's scratch row), then copy it to every position. */
export function fillPositions(t: Table, row: Uint8Array, positions: number[], out: Float32Array): void {
  if (t.dtype === "f32") t.scratchBytes.set(row);
  else decodeRow(row, t.dtype, t.dim, t.scratch, 0);
  for (const pos of positions) out.set(t.scratch, pos * t.dim);
}

/**
 * The rows of this batch that may enter the hot cache: those used by at least
 * ADMIT_AFTER_BATCHES recent batches (a row one batch uses never evicts a hot
 * one), at most `admitPerBatch`, the most frequent first.
 */
export function admissible<T extends [number, ...unknown[]]>(t: Table, rows: T[], frequency: Map<number, number>): T[] {
  let admitted = rows.filter(([id]) => (frequency.get(id) ?? 0) >= ADMIT_AFTER_BATCHES);
  if (admitted.length > t.admitPerBatch) admitted = admitted.sort((a, b) => frequency.get(b[0])! - frequency.get(a[0])!).slice(0, t.admitPerBatch);
  t.stats.admitted += admitted.length;
  t.stats.rejected += rows.length - admitted.length;
  return admitted;
}

/** Insert rows (encoded, as stored) into the table's hot cache. */
export function insertRows(t: Table, rows: [number, Uint8Array][]): void {
  if (!t.cache || rows.length === 0) return;
  const packed = new Uint8Array(rows.length * t.rowBytes);
  rows.forEach(([, row], i) => packed.set(row, i * t.rowBytes));
  t.cache.insert(idArray(rows.map(([id]) => id), t.rows), packed, t.dtype);
}

export function idArray(ids: number[], rows: number): Int32Array | BigInt64Array {
  return rows <= 0x7fffffff ? Int32Array.from(ids) : BigInt64Array.from(ids, BigInt);
}
