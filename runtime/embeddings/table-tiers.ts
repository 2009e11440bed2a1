// One remote table's local tiers, in lookup order: its hot/cold split's local
// rows (hot-rows.ts), the native hot-row cache (rf_emb_cache_*) behind its
// admission sketch, and (shared by the model's tables, in remote-tables.ts)
// the host row cache. `lookupLocal` fills what these hold and returns the ids
// still needed with their positions; it never touches the network, so a batch
// whose rows are all local can run synchronously (rankSync).
import type { EmbeddingCache } from "../ffi/emb-cache";
import type { FrequencySketch } from "./admission";
import type { CacheBypass } from "./cache-bypass";
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
  /** Hot-cache hits and misses of prefetch probes (not batch lookups: subtracted from the cache's own counts). */
  probeHits: number;
  probeMisses: number;
}

/**
 * What the local tiers of one lookup left to fetch: miss j is id `ids[j]`, whose row goes to
 * out row `pos[j]`; `probed` are the ids that reached the hot cache (after the split) and
 * `probeIndex[j]` miss j's index among them. Typed arrays: no per-id allocation on the hot path.
 */
export interface Needed {
  ids: Float64Array;
  pos: Int32Array;
  count: number;
  /** Ids looked up in the hot cache (empty when it was bypassed or absent), for its admission sketch. */
  probed: Int32Array | BigInt64Array;
  probeIndex: Int32Array;
  /** Rows the hot cache served. */
  hits: number;
  /** The hot cache was consulted (not absent or bypassed). */
  cached: boolean;
}

export interface Table extends TableSpec {
  cache: EmbeddingCache | undefined;
  sketch: FrequencySketch | undefined;
  /** Whether the cache pays on this table (cache-bypass.ts). */
  bypass: CacheBypass | undefined;
  hot: HotRows | undefined;
  /** Most missed rows one batch may insert into the hot cache. */
  admitPerBatch: number;
  /** One decoded row. */
  scratch: Float32Array;
  rowBytes: number;
  defaultRow: Float32Array;
  stats: TableCounters;
}

/** A row seen from a slower tier this batch: used this often by recent batches (see admission.ts). */
export const ADMIT_AFTER_BATCHES = 2;

const NO_IDS = new Int32Array(0);

/**
 * Fill out[pos*dim ..] from the local tiers for ids[0..n) (already range-checked):
 * the split's local rows, then (when `useCache`) the hot cache; returns what is left.
 */
export function lookupLocal(t: Table, ids: Int32Array | BigInt64Array, n: number, out: Float32Array, useCache: boolean): Needed {
  const wide = ids instanceof BigInt64Array;
  const idAt = wide ? (i: number) => Number(ids[i]!) : (i: number) => (ids as Int32Array)[i]!;
  const missIds = new Float64Array(n);
  const missPos = new Int32Array(n);
  let count = 0;
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
    if (m < n) {
      restPos = keep.subarray(0, m);
      restIds = wide ? BigInt64Array.from(restPos, (i) => ids[i] as bigint) : Int32Array.from(restPos, (i) => (ids as Int32Array)[i]!);
    }
  }
  const m = restIds.length;
  // 2. The hot-row cache (into a scratch buffer when the rest is not contiguous in `out`).
  if (useCache && t.cache && m > 0) {
    const target = restPos ? new Float32Array(m * t.dim) : out;
    const miss = t.cache.lookup(restIds, target, t.dim);
    // Miss positions are small non-negative int64s: read their low words.
    const low = new Int32Array(miss.buffer, miss.byteOffset, 2 * miss.length);
    const probeIndex = new Int32Array(miss.length);
    let next = 0;
    if (restPos) {
      for (let k = 0; k < m; k++) {
        if (next < miss.length && low[2 * next] === k) {
          next++;
          continue;
        }
        out.set(target.subarray(k * t.dim, (k + 1) * t.dim), restPos[k]! * t.dim);
      }
    }
    for (let j = 0; j < miss.length; j++) {
      const k = low[2 * j]!;
      probeIndex[j] = k;
      const at = restPos ? restPos[k]! : k;
      missIds[count] = idAt(at);
      missPos[count++] = at;
    }
    return { ids: missIds.subarray(0, count), pos: missPos.subarray(0, count), count, probed: restIds, probeIndex, hits: m - miss.length, cached: true };
  }
  for (let k = 0; k < m; k++) {
    const at = restPos ? restPos[k]! : k;
    missIds[count] = idAt(at);
    missPos[count++] = at;
  }
  return { ids: missIds.subarray(0, count), pos: missPos.subarray(0, count), count, probed: NO_IDS, probeIndex: NO_IDS, hits: 0, cached: false };
}

/** Decode an encoded row into out row `pos` (f32: a byte copy, whatever the source's alignment). */
export function fillRow(t: Table, row: Uint8Array, pos: number, out: Float32Array, outBytes: Uint8Array): void {
  if (t.dtype === "f32") outBytes.set(row, pos * t.dim * 4);
  else decodeRow(row, t.dtype, t.dim, out, pos * t.dim);
}

/**
 * After a batch (off its critical path): count every id that reached the hot cache in the
 * admission sketch, then insert the missed rows `rows[j]` (null: none, or stale) used by at
 * least ADMIT_AFTER_BATCHES recent batches (a row one batch uses never evicts a hot one), at
 * most `admitPerBatch`, the most frequent first. Returns the rows inserted.
 */
export function admitRows(t: Table, needed: Needed, rows: (Uint8Array | null | undefined)[]): number {
  if (!t.cache || !t.sketch || !needed.cached) return 0;
  const probed = needed.probed;
  const est = new Uint8Array(probed.length);
  if (probed instanceof BigInt64Array) for (let k = 0; k < probed.length; k++) est[k] = t.sketch.add(Number(probed[k]!));
  else t.sketch.addAll(probed, est);
  // Candidates bucketed by count (0..15): the most frequent first, without a sort.
  const byCount: number[][] = Array.from({ length: 16 }, () => []);
  let candidates = 0;
  for (let j = 0; j < needed.count; j++) {
    if (!rows[j]) continue;
    candidates++;
    const c = est[needed.probeIndex[j]!]!;
    if (c >= ADMIT_AFTER_BATCHES) byCount[c]!.push(j);
  }
  const chosen: number[] = [];
  for (let c = 15; c >= ADMIT_AFTER_BATCHES && chosen.length < t.admitPerBatch; c--) {
    for (const j of byCount[c]!) {
      if (chosen.length >= t.admitPerBatch) break;
      chosen.push(j);
    }
  }
  t.stats.admitted += chosen.length;
  t.stats.rejected += candidates - chosen.length;
  if (chosen.length === 0) return 0;
  const packed = new Uint8Array(chosen.length * t.rowBytes);
  const ids = t.rows <= 0x7fffffff ? new Int32Array(chosen.length) : new BigInt64Array(chosen.length);
  chosen.forEach((j, i) => {
    packed.set(rows[j]!, i * t.rowBytes);
    if (ids instanceof BigInt64Array) ids[i] = BigInt(needed.ids[j]!);
    else ids[i] = needed.ids[j]!;
  });
  t.cache.insert(ids, packed, t.dtype);
  return chosen.length;
}

export function idArray(ids: number[], rows: number): Int32Array | BigInt64Array {
  return rows <= 0x7fffffff ? Int32Array.from(ids) : BigInt64Array.from(ids, BigInt);
}
