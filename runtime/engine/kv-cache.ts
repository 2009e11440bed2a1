// The user-history KV cache of one model (issue 16): the native paged store
// (runtime/ffi/kv-store.ts) sized for the model's history chain, the version its
// entries are keyed by, and the user keys of requests. It lives with the executor,
// where the model computes (the worker in worker mode), and outlives batches.
import type { BuiltModel } from "../graph/builder";
import { RankfnError } from "../errors";
import { type KvEviction, type KvPageDType, KvStore, type KvStoreStats } from "../ffi/kv-store";
import { type HistoryChain, historyChain } from "./history-chain";

export interface KvCacheOptions {
  /** Native tier budget in MiB. */
  mb: number;
  /** Native page dtype. Default "f32". */
  dtype?: KvPageDType;
  /** A host tier catching the native tier's evictions. */
  host?: { mb: number; dtype?: KvPageDType };
  /** Tokens per page. Default 16. */
  pageTokens?: number;
  shards?: number;
  eviction?: KvEviction;
  /** The model version entries are keyed by. Default: a digest of the graph and every weight, so other weights never match. */
  version?: string;
  /** A store shared with other models (in process; each keys its entries by its own version). */
  store?: KvStore;
  /** false: a model without a cacheable history runs without a cache instead of failing (a server's flag for all its models). Default true. */
  required?: boolean;
}

/** stats().kvCache: the store's counters and sizes, with the version and the hit ratio. */
export interface KvCacheStats extends KvStoreStats {
  /** The version key, hex. */
  version: string;
  dtype: KvPageDType;
  hostDtype?: KvPageDType;
  /** hits / (hits + misses), 0 before any lookup. */
  hitRatio: number;
  /** Requests whose history prefix came from an earlier request of the same user in their batch (one encoding for both). */
  sharedInBatch: number;
}

const pageDTypes: KvPageDType[] = ["f32", "bf16", "i8"];

/** Check the options a caller passes (a bad budget or dtype is a 400, before native code). */
export function checkKvCacheOptions(o: KvCacheOptions): void {
  const bad = (msg: string) => new RankfnError(`kvCache: ${msg}`, "bad_option", 400);
  if (!(Number.isFinite(o.mb) && o.mb > 0)) throw bad(`mb must be a positive number, got ${o.mb}`);
  if (o.dtype !== undefined && !pageDTypes.includes(o.dtype)) throw bad(`dtype must be one of ${pageDTypes.join(", ")}, got ${JSON.stringify(o.dtype)}`);
  if (o.host && !(Number.isFinite(o.host.mb) && o.host.mb > 0)) throw bad(`host.mb must be a positive number, got ${o.host.mb}`);
  if (o.host?.dtype !== undefined && !pageDTypes.includes(o.host.dtype)) throw bad(`host.dtype must be one of ${pageDTypes.join(", ")}, got ${JSON.stringify(o.host.dtype)}`);
}

/** A model's user-history KV cache: the store, the version key and the history chain it serves. */
export class KvCache {
  readonly store: KvStore;
  readonly version: bigint;
  readonly chain: HistoryChain;
  /** Requests that took their prefix from an earlier request of their user in the same batch. */
  sharedInBatch = 0;
  readonly #owned: boolean;
  readonly #dtype: KvPageDType;
  readonly #hostDtype: KvPageDType | undefined;

  constructor(model: BuiltModel, options: KvCacheOptions) {
    checkKvCacheOptions(options);
    const chain = historyChain(model.graph);
    if (typeof chain === "string") throw new RankfnError(`kvCache: model "${model.graph.name}" has no history the cache can reuse: ${chain}`, "no_kv_history", 400);
    if (chain.qkDim !== chain.vDim) throw new RankfnError(`kvCache: the history's qkDim (${chain.qkDim}) and vDim (${chain.vDim}) must be equal (a page holds K and V of one width)`, "bad_option", 400);
    this.chain = chain;
    this.version = options.version !== undefined ? Bun.hash.wyhash(options.version, 0x7665n) : modelDigest(model);
    this.#dtype = options.dtype ?? "f32";
    this.#hostDtype = options.host ? (options.host.dtype ?? "bf16") : undefined;
    const shape = { layers: chain.layers.length, heads: chain.heads, headDim: chain.qkDim };
    if (options.store) {
      const s = options.store;
      if (s.layers !== shape.layers || s.width !== chain.heads * chain.qkDim) {
        throw new RankfnError(`kvCache.store holds ${s.layers} layers × ${s.width} wide K/V, this model's history has ${shape.layers} × ${chain.heads * chain.qkDim}`, "bad_option", 400);
      }
      this.store = s;
      this.#owned = false;
      return;
    }
    const mb = (x: number) => Math.floor(x * 1024 * 1024);
    this.store = new KvStore({
      ...shape,
      pageTokens: options.pageTokens ?? 16,
      dtype: this.#dtype,
      budgetBytes: mb(options.mb),
      host: options.host ? { dtype: this.#hostDtype!, budgetBytes: mb(options.host.mb) } : undefined,
      shards: options.shards,
      eviction: options.eviction,
    });
    this.#owned = true;
  }

  /** The store's counters and sizes (since creation), with this cache's version, dtypes, hit ratio and in-batch sharing. */
  stats(): KvCacheStats {
    const s = this.store.stats();
    const lookups = s.hits + s.misses;
    return { ...s, version: this.version.toString(16), dtype: this.#dtype, ...(this.#hostDtype ? { hostDtype: this.#hostDtype } : {}), hitRatio: lookups > 0 ? s.hits / lookups : 0, sharedInBatch: this.sharedInBatch };
  }

  /** Free the store (a shared one only loses this version's entries). */
  dispose(): void {
    if (this.#owned) this.store.dispose();
    else this.store.eraseVersion(this.version);
  }
}

/** A digest of the graph and every weight's bytes: any other weights give another version. */
function modelDigest(model: BuiltModel): bigint {
  let h = Bun.hash.wyhash(JSON.stringify(model.graph), 0x7665n);
  for (const [name, t] of [...model.weights].sort(([a], [b]) => (a < b ? -1 : 1))) {
    h = Bun.hash.wyhash(name, h);
    h = Bun.hash.wyhash(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), h);
  }
  return h;
}
