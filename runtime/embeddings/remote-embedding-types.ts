// The public types of the remote embedding tier (remote-tables.ts): its options
// as loadModel takes them, and the per-table and per-tier counters stats() and
// /metrics report.
import type { EmbeddingCacheStats } from "../ffi/emb-cache";
import type { CacheBypassStats } from "./cache-bypass";
import type { HostCacheStats } from "./host-cache";
import type { HotSplitOptions } from "./hot-rows";
import type { PrefetchStats } from "./prefetch";
import type { RedisStoreStats } from "./redis-store";

export interface RemoteEmbeddingOptions {
  /** Redis URL of the remote tier, e.g. redis://127.0.0.1:6379 */
  redis: string;
  /**
   * Tables served from Redis ("all": every embedding table), or per table:
   * `{ t: { local: "hot", hotRows: 0.05 } }` keeps t's most frequent rows (a
   * count or a fraction; ranked by `counts` when given) in memory, the rest in Redis.
   */
  tables: string[] | "all" | Record<string, HotSplitOptions | "remote">;
  /** Key prefix the tables were pushed under (default `rankfn:<model name>`). */
  prefix?: string;
  /** Native hot-row cache budget over all remote tables, bytes (0: none). Default 64 MiB. */
  hotCacheBytes?: number;
  /** Host row cache budget, bytes (0: none). Default 256 MiB. */
  hostCacheBytes?: number;
  /** Host row cache time to live, ms. Default 60 s. */
  hostTtlMs?: number;
  /** Longest a batch waits for Redis, ms. Default 100. */
  timeoutMs?: number;
  /** Redis down or late: fail the request (503) or score with a default row and flag it degraded. Default "fail". */
  onFailure?: "fail" | "default";
  /** The default row: zeros, or the table's mean recorded by `rankfn embeddings push`. Default "zeros". */
  defaultRow?: "zeros" | "mean";
  /** Follow row updates over Redis pub/sub. Default true. */
  subscribe?: boolean;
  /** Ways of the hot cache's sets. Default 8. */
  ways?: number;
  /** Turn a table's hot cache off while it costs more than it saves (measured; re-probed every 16 batches). Default true. */
  cacheBypass?: boolean;
  /** Fetch the rows of the next queued batch while this one computes (Model.run's `next`; the server passes its coalescer's queue). Default true. */
  prefetch?: boolean;
}

/** Per table; tier lookups count each batch's distinct ids once. */
export interface TableTierStats {
  /** Rows served from the hot/cold split's local part (null: no split). */
  local: { rows: number; hits: number } | null;
  hot: Pick<EmbeddingCacheStats, "hits" | "misses" | "evictions" | "usedRows" | "capacityRows" | "bytes"> | null;
  host: { hits: number; misses: number };
  /** Missed rows the admission sketch let into the hot cache, and those it kept out. */
  admission: { admitted: number; rejected: number };
  /** Whether the hot cache pays on this table (null: no cache): see cache-bypass.ts. */
  bypass: CacheBypassStats | null;
  /** Rows and bytes fetched from Redis; fetches of this table and their total and worst latency. */
  remote: { rows: number; bytes: number; fetches: number; latencyMsSum: number; latencyMsMax: number };
  defaultedRows: number;
}

export interface RemoteEmbeddingStats {
  tables: Record<string, TableTierStats>;
  host: HostCacheStats;
  redis: RedisStoreStats;
  /** Time this tier spent on batches: gathering rows (lookups, fetch, decode) and the hot-cache inserts queued after them. */
  cost: { batches: number; gatherMs: number; insertMs: number; stages: TierStages };
  /** Rows fetched ahead for the next batch (Model.run's `next`), and what became of them. */
  prefetch: PrefetchStats & { staged: number };
  degradedBatches: number;
  failedBatches: number;
  updates: number;
  resyncs: number;
}

/** Where the tier's time goes, summed over batches (ms). */
export interface TierStages {
  /** The split's local rows and the hot-cache probe (lookupLocal). */
  localMs: number;
  hostMs: number;
  /** The Redis round trip (keys, MGETs, replies). */
  fetchMs: number;
  /** Checking and decoding fetched rows into the batch's buffers. */
  decodeMs: number;
  /** After the batch: admission sketch counts, selection and hot-cache inserts. */
  admitMs: number;
}

/** One use of a table in a batch: its (distinct) ids and where their rows go. */
export interface GatherItem {
  table: string;
  ids: Int32Array | BigInt64Array;
  n: number;
  out: Float32Array;
}

