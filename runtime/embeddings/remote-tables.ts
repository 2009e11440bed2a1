// A model's remote embedding tables, tiered like a hierarchical parameter
// server: the native hot-row cache (dequantized fp32 rows, per table) → the
// host row cache (lru-cache, bytes + TTL) → Redis. `gather` fills the rows of
// one batch's ids, fetching every miss of the batch in one pipelined round
// trip; the fault policy decides what a failed or late fetch does. Row updates
// (from this process or announced over pub/sub) evict the stale copies.
import { RankfnError } from "../errors";
import { EmbeddingCache, type EmbeddingCacheStats, cacheSetBytes } from "../ffi/emb-cache";
import { HostRowCache, type HostCacheStats } from "./host-cache";
import { RedisEmbeddingStore, RemoteTierError, type RedisStoreStats, type TableMeta, type UpdateMessage } from "./redis-store";
import { type RowDType, decodeRow, encodeRows, rowBytes } from "./row-codec";

export interface RemoteEmbeddingOptions {
  /** Redis URL of the remote tier, e.g. redis://127.0.0.1:6379 */
  redis: string;
  /** Tables served from Redis ("all": every embedding table). */
  tables: string[] | "all";
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
}

export interface TableSpec {
  name: string;
  rows: number;
  dim: number;
  /** Encoding of the rows in Redis (the table's dtype in the model file). */
  dtype: RowDType;
}

/** Per table; tier lookups count each batch's distinct ids once. */
export interface TableTierStats {
  hot: Pick<EmbeddingCacheStats, "hits" | "misses" | "evictions" | "usedRows" | "capacityRows" | "bytes"> | null;
  host: { hits: number; misses: number };
  /** Rows and bytes fetched from Redis; fetches of this table and their total and worst latency. */
  remote: { rows: number; bytes: number; fetches: number; latencyMsSum: number; latencyMsMax: number };
  defaultedRows: number;
}

export interface RemoteEmbeddingStats {
  tables: Record<string, TableTierStats>;
  host: HostCacheStats;
  redis: RedisStoreStats;
  degradedBatches: number;
  failedBatches: number;
  updates: number;
  resyncs: number;
}

/** A row this batch obtained: id, encoded bytes, whether it came from Redis (else the host cache). */
type Got = [id: number, row: Uint8Array, remote: boolean];

interface Table extends TableSpec {
  cache: EmbeddingCache | undefined;
  /** Most missed rows one batch may insert into the hot cache (see gather). */
  admitPerBatch: number;
  /** One decoded row, and its bytes (an f32 row is copied in whatever its source alignment). */
  scratch: Float32Array;
  scratchBytes: Uint8Array;
  rowBytes: number;
  defaultRow: Float32Array;
  stats: { hostHits: number; hostMisses: number; remoteRows: number; remoteBytes: number; fetches: number; latencyMsSum: number; latencyMsMax: number; defaulted: number };
}

export class RemoteEmbeddings {
  readonly store: RedisEmbeddingStore;
  readonly options: Required<Omit<RemoteEmbeddingOptions, "prefix" | "tables">>;
  readonly #tables = new Map<string, Table>();
  readonly #host: HostRowCache;
  #meta: Promise<void> | undefined;
  readonly #subscribed: Promise<void>;
  // Rows updated while a fetch was in flight must not be cached from that (older) fetch.
  #updateSeq = 0;
  #resyncSeq = 0;
  readonly #recentUpdates = new Map<string, number>();
  #inflight = 0;
  readonly #counters = { degradedBatches: 0, failedBatches: 0, updates: 0, resyncs: 0 };

  constructor(specs: TableSpec[], modelName: string, options: RemoteEmbeddingOptions) {
    this.options = {
      redis: options.redis,
      hotCacheBytes: options.hotCacheBytes ?? 64 << 20,
      hostCacheBytes: options.hostCacheBytes ?? 256 << 20,
      hostTtlMs: options.hostTtlMs ?? 60_000,
      timeoutMs: options.timeoutMs ?? 100,
      onFailure: options.onFailure ?? "fail",
      defaultRow: options.defaultRow ?? "zeros",
      subscribe: options.subscribe ?? true,
      ways: options.ways ?? 8,
    };
    this.store = new RedisEmbeddingStore({ url: options.redis, prefix: options.prefix ?? `rankfn:${modelName}` });
    this.#host = new HostRowCache(this.options.hostCacheBytes, this.options.hostTtlMs);
    // The hot budget is split in proportion to each table's fp32 size (no table gets more than it needs).
    const total = specs.reduce((a, s) => a + s.rows * s.dim * 4, 0) || 1;
    for (const s of specs) {
      const setBytes = cacheSetBytes(s.dim, this.options.ways);
      // No table gets more than twice what holding all its rows takes.
      const share = Math.min(Math.floor((this.options.hotCacheBytes * s.rows * s.dim * 4) / total), (Math.ceil(s.rows / this.options.ways) * 2 + 1) * setBytes);
      const cache = share >= setBytes ? new EmbeddingCache({ rows: s.rows, dim: s.dim, budgetBytes: share, ways: this.options.ways }) : undefined;
      const admitPerBatch = cache ? Math.max(16, Math.floor(cache.stats().capacityRows / 8)) : 0;
      const scratch = new Float32Array(s.dim);
      this.#tables.set(s.name, { ...s, cache, admitPerBatch, scratch, scratchBytes: new Uint8Array(scratch.buffer), rowBytes: rowBytes(s.dtype, s.dim), defaultRow: new Float32Array(s.dim), stats: { hostHits: 0, hostMisses: 0, remoteRows: 0, remoteBytes: 0, fetches: 0, latencyMsSum: 0, latencyMsMax: 0, defaulted: 0 } });
    }
    this.#subscribed = this.options.subscribe ? this.store.subscribe((u) => this.applyUpdate(u), () => this.resync()) : Promise.resolve();
  }

  /** Resolves once following updates (or after `timeoutMs` if Redis is not reachable yet: it keeps trying). */
  async ready(timeoutMs = 2000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#subscribed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  get tableNames(): string[] {
    return [...this.#tables.keys()];
  }

  table(name: string): TableSpec | undefined {
    return this.#tables.get(name);
  }

  /** Read each table's metadata once (checks shapes, loads mean rows); retried on the next batch if Redis is down. */
  ensureMeta(): Promise<void> {
    this.#meta ??= this.#loadMeta().catch((err) => {
      this.#meta = undefined;
      if (!(err instanceof RemoteTierError)) throw err;
    });
    return this.#meta;
  }

  async #loadMeta(): Promise<void> {
    const metas = await Promise.all([...this.#tables.values()].map(async (t) => [t, await this.store.readMeta(t.name, this.options.timeoutMs)] as const));
    for (const [t, meta] of metas) {
      if (!meta) continue; // rows may have been written without metadata
      checkMeta(t, meta, this.store.prefix);
      if (this.options.defaultRow === "mean" && meta.mean?.length === t.dim) t.defaultRow = Float32Array.from(meta.mean);
    }
  }

  /**
   * Fill out[i*dim ..] with the row of ids[i] for i < n (ids already range-checked).
   * `uses[i]`, how often the batch uses ids[i] (default 1), ranks rows for the hot cache's admission.
   * Returns the number of rows that were defaulted (fault policy "default").
   */
  async gather(name: string, ids: Int32Array | BigInt64Array, n: number, out: Float32Array, deadlineMs: number, uses?: Int32Array): Promise<number> {
    const t = this.#tables.get(name);
    if (!t) throw new RankfnError(`"${name}" is not a remote table of this model (its remote tables: ${[...this.#tables.keys()].join(", ")})`, "unknown_table", 404);
    const positions = missPositions(t, ids, n, out);
    if (positions.size === 0) return 0;
    // Rows read before an update lands must not be cached after it (see applyUpdate).
    const seq = this.#updateSeq;
    this.#inflight++;
    try {
      const got: Got[] = [];
      const need = this.#readHost(t, positions, out, got);
      const defaulted = need.length > 0 ? await this.#fetchRemote(t, need, positions, out, got, deadlineMs) : 0;
      const fresh =
        this.#resyncSeq > seq ? [] // a resync meanwhile: any of these rows may be stale
        : this.#recentUpdates.size === 0 ? got
        : got.filter(([id]) => (this.#recentUpdates.get(HostRowCache.key(name, id)) ?? -1) < seq);
      // Only rows new from Redis enter the host cache: re-setting host hits would renew their TTL forever.
      if (this.#host.enabled) for (const [id, row, remote] of fresh) if (remote) this.#host.set(HostRowCache.key(name, id), row);
      admit(t, fresh, (id) => positions.get(id)!.reduce((a, pos) => a + (uses ? uses[pos]! : 1), 0));
      return defaulted;
    } finally {
      if (--this.#inflight === 0) this.#recentUpdates.clear();
    }
  }

  /** Rows in the host cache go straight to `out` (and into `got`); returns the ids still needed. */
  #readHost(t: Table, positions: Map<number, number[]>, out: Float32Array, got: Got[]): number[] {
    if (!this.#host.enabled) {
      t.stats.hostMisses += positions.size; // a disabled tier misses everything
      return [...positions.keys()];
    }
    const need: number[] = [];
    for (const id of positions.keys()) {
      const row = this.#host.get(HostRowCache.key(t.name, id));
      if (row) {
        t.stats.hostHits++;
        fillPositions(t, row, positions.get(id)!, out);
        got.push([id, row, false]);
      } else {
        t.stats.hostMisses++;
        need.push(id);
      }
    }
    return need;
  }

  /** Fetch `need` from Redis in one pipelined round trip; on failure apply the fault policy. Returns rows defaulted. */
  async #fetchRemote(t: Table, need: number[], positions: Map<number, number[]>, out: Float32Array, got: Got[], deadlineMs: number): Promise<number> {
    try {
      const t0 = performance.now();
      const rows = await this.store.fetch(t.name, need, deadlineMs);
      const ms = performance.now() - t0;
      t.stats.fetches++;
      t.stats.latencyMsSum += ms;
      t.stats.latencyMsMax = Math.max(t.stats.latencyMsMax, ms);
      const absent = need.filter((_, i) => rows[i] === null || rows[i]!.byteLength !== t.rowBytes);
      if (absent.length > 0) throw new RemoteTierError(`table "${t.name}" has no valid row for id ${absent[0]} under ${this.store.rowKey(t.name, absent[0]!)} (${absent.length} missing or malformed): push it with \`rankfn embeddings push\``, "embeddings_missing");
      need.forEach((id, i) => {
        const row = rows[i]!;
        t.stats.remoteRows++;
        t.stats.remoteBytes += row.byteLength;
        fillPositions(t, row, positions.get(id)!, out);
        got.push([id, row, true]);
      });
      return 0;
    } catch (err) {
      if (!(err instanceof RemoteTierError) || this.options.onFailure === "fail") {
        this.#counters.failedBatches++;
        throw err;
      }
      let defaulted = 0;
      for (const id of need) {
        for (const pos of positions.get(id)!) out.set(t.defaultRow, pos * t.dim);
        defaulted += positions.get(id)!.length;
      }
      t.stats.defaulted += defaulted;
      return defaulted;
    }
  }

  /** Count a batch that used default rows (the response is flagged degraded). */
  noteDegraded(): void {
    this.#counters.degradedBatches++;
  }

  /**
   * Write new rows to Redis and announce them; this model (and every server
   * subscribed to the same prefix) drops its cached copies.
   * @example await remote.update("emb_3.table", [17, 42], rows); // rows: f32 [2 * dim]
   */
  async update(name: string, ids: number[], rows: Float32Array): Promise<void> {
    const t = this.#tables.get(name);
    if (!t) throw new RankfnError(`"${name}" is not a remote table of this model (remote: ${this.tableNames.join(", ")})`, "unknown_table", 400);
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= t.rows) throw new RankfnError(`update of "${name}": id ${id} is outside the table's ${t.rows} rows`, "id_out_of_range", 400);
    if (rows.length !== ids.length * t.dim) throw new RankfnError(`update of "${name}": ${rows.length} values for ${ids.length} rows of dim ${t.dim}`, "bad_shape", 400);
    await this.store.write(name, ids, encodeRows(rows, ids.length, t.dim, t.dtype), t.rowBytes);
    this.applyUpdate({ table: name, ids });
    await this.store.publish({ table: name, ids });
  }

  /** Drop the cached copies of updated rows. */
  applyUpdate(u: UpdateMessage): void {
    const t = this.#tables.get(u.table);
    if (!t) return;
    const ids = u.ids.filter((id) => Number.isInteger(id) && id >= 0 && id < t.rows);
    const seq = ++this.#updateSeq;
    for (const id of ids) {
      const key = HostRowCache.key(u.table, id);
      this.#host.delete(key);
      if (this.#inflight > 0) this.#recentUpdates.set(key, seq);
    }
    t.cache?.erase(idArray(ids, t.rows));
    this.#counters.updates++;
  }

  /** Updates may have been missed (the subscription dropped): forget every cached row. */
  resync(): void {
    this.#resyncSeq = ++this.#updateSeq;
    for (const t of this.#tables.values()) t.cache?.clear();
    this.#host.clear();
    this.#counters.resyncs++;
  }

  stats(): RemoteEmbeddingStats {
    const tables: Record<string, TableTierStats> = {};
    for (const t of this.#tables.values()) {
      const hot = t.cache?.stats();
      tables[t.name] = {
        hot: hot ? { hits: hot.hits, misses: hot.misses, evictions: hot.evictions, usedRows: hot.usedRows, capacityRows: hot.capacityRows, bytes: hot.bytes } : null,
        host: { hits: t.stats.hostHits, misses: t.stats.hostMisses },
        remote: { rows: t.stats.remoteRows, bytes: t.stats.remoteBytes, fetches: t.stats.fetches, latencyMsSum: t.stats.latencyMsSum, latencyMsMax: t.stats.latencyMsMax },
        defaultedRows: t.stats.defaulted,
      };
    }
    return { tables, host: this.#host.stats(), redis: this.store.stats(), ...this.#counters };
  }

  dispose(): void {
    this.store.close();
    for (const t of this.#tables.values()) t.cache?.dispose();
    this.#tables.clear();
  }
}

/** Look `ids` up in the hot cache (rows of hits land in `out`); the missed ids and their positions. */
function missPositions(t: Table, ids: Int32Array | BigInt64Array, n: number, out: Float32Array): Map<number, number[]> {
  const idAt = ids instanceof BigInt64Array ? (i: number) => Number(ids[i]!) : (i: number) => (ids as Int32Array)[i]!;
  const missPos = t.cache?.lookup(ids.subarray(0, n), out, t.dim); // without a hot cache every position misses
  const nm = missPos ? missPos.length : n;
  const positions = new Map<number, number[]>();
  for (let k = 0; k < nm; k++) {
    const pos = missPos ? Number(missPos[k]!) : k;
    const id = idAt(pos);
    const list = positions.get(id);
    if (list) list.push(pos);
    else positions.set(id, [pos]);
  }
  return positions;
}

/** Decode a row once (into the table's scratch row), then copy it to every position. */
function fillPositions(t: Table, row: Uint8Array, positions: number[], out: Float32Array): void {
  if (t.dtype === "f32") t.scratchBytes.set(row);
  else decodeRow(row, t.dtype, t.dim, t.scratch, 0);
  for (const pos of positions) out.set(t.scratch, pos * t.dim);
}

/**
 * Insert fetched rows into the hot cache. A batch that misses more rows than
 * the cache holds would flush the hot rows with its one-off ids (LRU thrash):
 * admit at most `admitPerBatch` rows, the ones this batch used most often first.
 */
function admit(t: Table, rows: Got[], usesOf: (id: number) => number): void {
  if (!t.cache || rows.length === 0) return;
  if (rows.length > t.admitPerBatch) {
    const count = new Map(rows.map(([id]) => [id, usesOf(id)]));
    rows = [...rows].sort((a, b) => count.get(b[0])! - count.get(a[0])!).slice(0, t.admitPerBatch);
  }
  const packed = new Uint8Array(rows.length * t.rowBytes);
  rows.forEach(([, row], i) => packed.set(row, i * t.rowBytes));
  t.cache.insert(idArray(rows.map(([id]) => id), t.rows), packed, t.dtype);
}

function idArray(ids: number[], rows: number): Int32Array | BigInt64Array {
  return rows <= 0x7fffffff ? Int32Array.from(ids) : BigInt64Array.from(ids, BigInt);
}

function checkMeta(t: TableSpec, meta: TableMeta, prefix: string): void {
  if (meta.rows !== t.rows || meta.dim !== t.dim || meta.dtype !== t.dtype) {
    throw new RankfnError(`remote table "${t.name}" under "${prefix}" is ${meta.dtype} [${meta.rows}, ${meta.dim}] in Redis, the model has ${t.dtype} [${t.rows}, ${t.dim}]: push this model's tables again`, "embeddings_mismatch", 500);
  }
}
