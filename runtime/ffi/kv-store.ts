// Typed wrapper of the native user-history KV store (rf_kv_store_*): each
// cached user's per-layer attention K/V in pages within fixed byte budgets (a
// native tier and an optional host tier), keyed by (model version, user), reused
// only when the request's prefix fingerprint matches. Buffer extents are checked
// here, before native code writes into them.
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";
import { dtypes } from "../tensor/dtype";
import { NativeResource, check, native } from "./native";

/** Page dtypes of a tier (int8: one fp32 scale per page, layer and K|V). */
export type KvPageDType = "f32" | "bf16" | "i8";
/** Eviction policies (rankfn.h RF_KV_EVICT_LRU, RF_KV_EVICT_LFU_DA). */
export type KvEviction = "lru" | "lfu-da";
const evictionCodes: Record<KvEviction, number> = { lru: 0, "lfu-da": 1 };

export interface KvStoreOptions {
  layers: number;
  heads: number;
  headDim: number;
  /** Tokens per page. Default 16. */
  pageTokens?: number;
  /** Native tier page dtype. Default "f32". */
  dtype?: KvPageDType;
  /** Native tier budget in bytes (pages and their metadata). */
  budgetBytes: number;
  /** Host tier catching evictions (none when absent). */
  host?: { dtype: KvPageDType; budgetBytes: number };
  /** Independent shards (own lock, table, pages, eviction); 1..256. Default 1. */
  shards?: number;
  /** Victim choice: least recently used (default) or LFU with dynamic aging (rankfn.h RF_KV_EVICT_*). */
  eviction?: KvEviction;
  device?: number;
}

export interface KvStoreStats {
  hits: number;
  misses: number;
  hostHits: number;
  tokensReused: number;
  tokensComputed: number;
  mismatches: number;
  evictions: number;
  hostEvictions: number;
  appendsSkipped: number;
  entries: number;
  hostEntries: number;
  bytesUsed: number;
  hostBytesUsed: number;
  bytes: number;
  hostBytes: number;
  pages: number;
  hostPages: number;
  pageBytes: number;
  hostPageBytes: number;
}

/** One user's new tokens (rankfn.h rf_kv_append_t). */
export interface KvAppendItem {
  user: bigint;
  /** Tokens the entry holds before (0 starts a new entry). */
  start: number;
  count: number;
  /** Row of the first new token in k / v. */
  srcRow: number;
  /** fp(start) of the history (ignored when start is 0). */
  prefixFp: bigint;
  /** fp(start + count). */
  fp: bigint;
}

/** Jagged K/V buffers: K of layer l, row t, head h at l*layerStride + t*ld + h*headDim. */
export interface KvLayout {
  ld?: number;
  layerStride: number;
}

const unreleased = new FinalizationRegistry<Pointer>((handle) => native().rf_kv_store_destroy(handle));
const STATS_WORDS = 20; // rf_kv_store_stats_t: 160 bytes
const ITEM_WORDS = 6; // rf_kv_append_t: 48 bytes
const pageCodes: Record<KvPageDType, number> = { f32: dtypes.f32.code, bf16: dtypes.bf16.code, i8: dtypes.i8.code };

/** Bytes of one page (rankfn.h): int8 adds a float scale per layer and K|V. */
export function kvPageBytes(dtype: KvPageDType, layers: number, heads: number, headDim: number, pageTokens: number): number {
  const elem = dtype === "f32" ? 4 : dtype === "bf16" ? 2 : 1;
  return (dtype === "i8" ? 8 * layers : 0) + pageTokens * layers * 2 * heads * headDim * elem;
}

/** Budget that holds `pages` pages per shard (each page plus its 96 bytes of metadata). */
export function kvBudgetForPages(pageBytes: number, pages: number, shards = 1): number {
  return pages * shards * (pageBytes + 96);
}

/** Prefix fingerprints of jagged histories: fp[i] = fp of its user's events up to and including i (rankfn.h). */
export function kvFingerprints(offsets: BigInt64Array, ids: BigInt64Array, timestamps: BigInt64Array): BigUint64Array {
  const batch = offsets.length - 1;
  if (batch < 0) throw new TensorError("kvFingerprints: offsets needs batch + 1 entries", "bad_shape");
  const n = Number(offsets[batch]);
  if (ids.length < n || timestamps.length < n) throw new TensorError(`kvFingerprints: ${n} events need ids and timestamps of that length (got ${ids.length}, ${timestamps.length})`, "bad_shape");
  const fp = new BigUint64Array(Math.max(n, 1));
  check(native().rf_kv_store_fingerprint(batch, offsets, ids, timestamps, fp), "rf_kv_store_fingerprint");
  return fp.subarray(0, n);
}

function needFloats(what: string, buf: Float32Array, layers: number, lastRow: number, width: number, { ld, layerStride }: Required<KvLayout>): void {
  if (lastRow < 0) return;
  const need = (layers - 1) * layerStride + lastRow * ld + width;
  if (buf.length < need) throw new TensorError(`KvStore.${what}: buffer holds ${buf.length} floats, rows up to ${lastRow} of ${layers} layers (ld ${ld}, layerStride ${layerStride}) need ${need}`, "bad_shape");
}

/**
 * Paged K/V store of users' histories.
 * @example
 * using store = new KvStore({ layers: 4, heads: 4, headDim: 64, budgetBytes: 1 << 30 });
 * const cached = store.lookup(1n, users, histOffsets, histFp, { k, v, kvOffsets, layerStride }); // compute rows cached[b].., then append them
 */
export class KvStore extends NativeResource {
  protected readonly kind = "KvStore";
  readonly #handle: Pointer;
  readonly #owner: boolean;
  readonly layers: number;
  readonly width: number;

  constructor(options: KvStoreOptions);
  constructor(options: KvStoreOptions, attach: { handle: number });
  constructor(options: KvStoreOptions, attach?: { handle: number }) {
    super();
    const { layers, heads, headDim } = options;
    this.layers = layers;
    this.width = heads * headDim;
    this.#owner = attach === undefined;
    if (attach) {
      this.#handle = attach.handle as Pointer;
      return;
    }
    const { pageTokens = 16, dtype = "f32", budgetBytes, host, shards = 1, eviction = "lru", device = 0 } = options;
    for (const [name, v] of Object.entries({ layers, heads, headDim, pageTokens, shards, budgetBytes }))
      if (!Number.isSafeInteger(v)) throw new TensorError(`KvStore: ${name} = ${v} must be an integer`, "bad_option");
    const cfg = new BigInt64Array(6);
    const w = new Int32Array(cfg.buffer);
    w.set([layers, heads, headDim, pageTokens, pageCodes[dtype], host ? pageCodes[host.dtype] : 0, shards, evictionCodes[eviction]]);
    cfg[4] = BigInt(budgetBytes);
    cfg[5] = BigInt(host?.budgetBytes ?? 0);
    const out = new BigUint64Array(1);
    check(native().rf_kv_store_create(device, cfg, out), "rf_kv_store_create");
    this.#handle = Number(out[0]) as Pointer;
    unreleased.register(this, this.#handle, this);
  }

  /** A view of a store owned elsewhere (a Worker's side; dispose() does not free it). */
  static attach(handle: number, options: Pick<KvStoreOptions, "layers" | "heads" | "headDim">): KvStore {
    return new KvStore({ ...options, budgetBytes: 0 }, { handle });
  }

  /** The native handle (for a Worker sharing this store; the owner keeps it alive). */
  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  /**
   * Cached lengths of a batch of users (0: miss; a mismatched entry is dropped),
   * copying each hit's K/V into rows kvOffsets[b].. of `out` when given.
   */
  lookup(version: bigint, users: BigUint64Array, histOffsets: BigInt64Array, histFp: BigUint64Array, out?: KvLayout & { k: Float32Array; v: Float32Array; kvOffsets: BigInt64Array }): BigInt64Array {
    this.alive();
    const batch = users.length;
    if (histOffsets.length !== batch + 1) throw new TensorError(`KvStore.lookup: histOffsets has ${histOffsets.length} entries for ${batch} users (needs ${batch + 1})`, "bad_shape");
    if (histFp.length < Number(histOffsets[batch])) throw new TensorError(`KvStore.lookup: histFp has ${histFp.length} entries, histOffsets ends at ${histOffsets[batch]}`, "bad_shape");
    const cached = new BigInt64Array(batch);
    if (!out) {
      check(native().rf_kv_store_lookup(this.#handle, version, batch, users, histOffsets, histFp, null, null, this.width, 0, null, cached), "rf_kv_store_lookup");
      return cached;
    }
    const layout = { ld: out.ld ?? this.width, layerStride: out.layerStride };
    if (out.kvOffsets.length !== batch + 1) throw new TensorError(`KvStore.lookup: kvOffsets has ${out.kvOffsets.length} entries for ${batch} users (needs ${batch + 1})`, "bad_shape");
    const lastRow = Number(out.kvOffsets[batch]) - 1;
    needFloats("lookup", out.k, this.layers, lastRow, this.width, layout);
    needFloats("lookup", out.v, this.layers, lastRow, this.width, layout);
    check(native().rf_kv_store_lookup(this.#handle, version, batch, users, histOffsets, histFp, out.k, out.v, layout.ld, layout.layerStride, out.kvOffsets, cached), "rf_kv_store_lookup");
    return cached;
  }

  /** Store users' new tokens (rows of k / v); returns 1 per stored item, 0 per skipped (stale or too large). */
  append(version: bigint, items: readonly KvAppendItem[], k: Float32Array, v: Float32Array, layout: KvLayout): Int32Array {
    this.alive();
    const full = { ld: layout.ld ?? this.width, layerStride: layout.layerStride };
    const packed = new BigUint64Array(Math.max(1, items.length * ITEM_WORDS));
    let lastRow = -1;
    items.forEach((it, i) => {
      for (const [name, x] of Object.entries({ start: it.start, count: it.count, srcRow: it.srcRow }))
        if (!Number.isSafeInteger(x) || x < 0) throw new TensorError(`KvStore.append: items[${i}].${name} = ${x} must be a non-negative integer`, "bad_shape");
      if (it.count < 1) throw new TensorError(`KvStore.append: items[${i}].count must be >= 1`, "bad_shape");
      packed.set([BigInt.asUintN(64, it.user), BigInt(it.start), BigInt(it.count), BigInt(it.srcRow), BigInt.asUintN(64, it.prefixFp), BigInt.asUintN(64, it.fp)], i * ITEM_WORDS);
      lastRow = Math.max(lastRow, it.srcRow + it.count - 1);
    });
    needFloats("append", k, this.layers, lastRow, this.width, full);
    needFloats("append", v, this.layers, lastRow, this.width, full);
    const stored = new Int32Array(Math.max(1, items.length));
    check(native().rf_kv_store_append(this.#handle, version, items.length, packed, k, v, full.ld, full.layerStride, stored), "rf_kv_store_append");
    return stored.subarray(0, items.length);
  }

  /** Drop these users' entries of `version`. */
  erase(version: bigint, users: BigUint64Array): void {
    this.alive();
    check(native().rf_kv_store_erase(this.#handle, version, users.length, users), "rf_kv_store_erase");
  }

  /** Drop every entry of `version` (a retired model version). */
  eraseVersion(version: bigint): void {
    this.alive();
    check(native().rf_kv_store_erase(this.#handle, version, -1, null), "rf_kv_store_erase");
  }

  /** Counters (since creation or the last reset) and sizes. */
  stats({ reset = false } = {}): KvStoreStats {
    this.alive();
    const s = new BigInt64Array(STATS_WORDS);
    check(native().rf_kv_store_stats(this.#handle, s, reset ? 1 : 0), "rf_kv_store_stats");
    const n = (i: number) => Number(s[i]);
    return {
      hits: n(0), misses: n(1), hostHits: n(2), tokensReused: n(3), tokensComputed: n(4), mismatches: n(5), evictions: n(6), hostEvictions: n(7),
      appendsSkipped: n(8), entries: n(9), hostEntries: n(10), bytesUsed: n(11), hostBytesUsed: n(12), bytes: n(13), hostBytes: n(14),
      pages: n(15), hostPages: n(16), pageBytes: n(17), hostPageBytes: n(18),
    };
  }

  protected release(): void {
    if (!this.#owner) return;
    unreleased.unregister(this);
    native().rf_kv_store_destroy(this.#handle);
  }
}
