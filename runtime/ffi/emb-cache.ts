// Typed wrapper of the native embedding hot-row cache (rf_emb_cache_*): a
// set-associative, fixed-budget cache of dequantized fp32 rows of one table,
// safe to use from concurrent batches. Ids are range-checked in C.
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";
import { dtypes } from "../tensor/dtype";
import { NativeResource, check, native } from "./native";

export interface EmbeddingCacheOptions {
  /** Rows of the table (ids must be in [0, rows)). */
  rows: number;
  dim: number;
  /** Memory budget in bytes (rows, keys, LRU stamps, locks). */
  budgetBytes: number;
  /** Slots per set (1..64). Default 8. */
  ways?: number;
  device?: number;
}

export interface EmbeddingCacheStats {
  hits: number;
  misses: number;
  insertions: number;
  evictions: number;
  updates: number;
  erased: number;
  usedRows: number;
  capacityRows: number;
  bytes: number;
  sets: number;
  ways: number;
  dim: number;
}

export type Ids = Int32Array | BigInt64Array;
export type RowDType = "f32" | "f16" | "bf16" | "u8q" | "u4q";

const unreleased = new FinalizationRegistry<Pointer>((handle) => native().rf_emb_cache_destroy(handle));
const idCode = (ids: Ids) => (ids instanceof BigInt64Array ? dtypes.i64.code : dtypes.i32.code);
const STATS_WORDS = 12; // rf_emb_cache_stats_t: 96 bytes

/** Bytes one set of the cache takes from its budget (rankfn.h: a 64-byte-aligned metadata block and `ways` fp32 rows). */
export function cacheSetBytes(dim: number, ways: number): number {
  return Math.ceil((8 + 12 * ways) / 64) * 64 + ways * dim * 4;
}

/** Bytes of one packed row of `dtype` (u8q: dim bytes + fp16 scale + fp16 bias; u4q: ⌈dim/2⌉ bytes of nibbles + the same). */
export function packedRowBytes(dtype: RowDType, dim: number): number {
  return dtype === "u8q" ? dim + 4 : dtype === "u4q" ? Math.ceil(dim / 2) + 4 : dim * dtypes[dtype].bytes;
}

/**
 * Hot-row cache of one embedding table.
 * @example
 * using cache = new EmbeddingCache({ rows: 1e6, dim: 64, budgetBytes: 8 << 20 });
 * const { misses } = cache.lookup(ids, out); // fill the misses, then cache.insert(missIds, rows)
 */
export class EmbeddingCache extends NativeResource {
  protected readonly kind = "EmbeddingCache";
  readonly #handle: Pointer;
  readonly rows: number;
  readonly dim: number;
  #miss = new BigInt64Array(0);
  readonly #count = new BigInt64Array(1);

  constructor({ rows, dim, budgetBytes, ways = 8, device = 0 }: EmbeddingCacheOptions) {
    super();
    const out = new BigUint64Array(1);
    check(native().rf_emb_cache_create(device, rows, dim, budgetBytes, ways, out), "rf_emb_cache_create");
    this.#handle = Number(out[0]) as Pointer;
    this.rows = rows;
    this.dim = dim;
    unreleased.register(this, this.#handle, this);
  }

  /** The native handle (for a Worker sharing this cache; the owner keeps it alive). */
  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  /**
   * Copy the cached rows of `ids` into `out` (row i at i * ldo) and return the
   * positions that missed, ascending (a view valid until the next lookup).
   */
  lookup(ids: Ids, out: Float32Array, ldo = this.dim): BigInt64Array {
    this.alive();
    const n = ids.length;
    if (n > 0 && out.length < (n - 1) * ldo + this.dim) throw new TensorError(`EmbeddingCache.lookup: out holds ${out.length} floats, ${n} rows of ldo ${ldo} need ${(n - 1) * ldo + this.dim}`, "bad_shape");
    if (this.#miss.length < n) this.#miss = new BigInt64Array(Math.max(n, 2 * this.#miss.length));
    check(native().rf_emb_cache_lookup(this.#handle, n, ids, idCode(ids), out, ldo, this.#miss, this.#count), "rf_emb_cache_lookup");
    return this.#miss.subarray(0, Number(this.#count[0]));
  }

  /** Insert or overwrite rows (packed rows of `dtype`, dequantized in C). `updateOnly` skips ids not cached. */
  insert(ids: Ids, rows: Float32Array | Uint16Array | Uint8Array, dtype: RowDType = "f32", { updateOnly = false } = {}): void {
    this.alive();
    const need = ids.length * packedRowBytes(dtype, this.dim);
    if (rows.byteLength < need) throw new TensorError(`EmbeddingCache.insert: ${ids.length} rows of ${dtype} need ${need} bytes, got ${rows.byteLength}`, "bad_shape");
    check(native().rf_emb_cache_insert(this.#handle, ids.length, ids, idCode(ids), rows, dtypes[dtype].code, updateOnly ? 1 : 0), "rf_emb_cache_insert");
  }

  /** Drop these ids where cached. */
  erase(ids: Ids): void {
    this.alive();
    check(native().rf_emb_cache_erase(this.#handle, ids.length, ids, idCode(ids)), "rf_emb_cache_erase");
  }

  /** Drop every row. */
  clear(): void {
    this.alive();
    check(native().rf_emb_cache_erase(this.#handle, -1, null, 0), "rf_emb_cache_erase");
  }

  /** Counters (since creation or the last reset) and sizes. */
  stats({ reset = false } = {}): EmbeddingCacheStats {
    this.alive();
    const s = new BigInt64Array(STATS_WORDS);
    check(native().rf_emb_cache_stats(this.#handle, s, reset ? 1 : 0), "rf_emb_cache_stats");
    const w = new Int32Array(s.buffer);
    return {
      hits: Number(s[0]), misses: Number(s[1]), insertions: Number(s[2]), evictions: Number(s[3]), updates: Number(s[4]), erased: Number(s[5]),
      usedRows: Number(s[6]), capacityRows: Number(s[7]), bytes: Number(s[8]), sets: Number(s[9]), ways: w[20]!, dim: Number(s[11]),
    };
  }

  protected release(): void {
    unreleased.unregister(this);
    native().rf_emb_cache_destroy(this.#handle);
  }
}

