// A model's remote embedding tables, tiered like a hierarchical parameter
// server: a hot/cold split's local rows → the native hot-row cache (fp32 rows,
// per table, behind a frequency sketch's admission) → the host row cache
// (lru-cache, bytes + TTL) → Redis. `gatherMany` fills the rows of one batch's
// ids over all its tables, fetching every miss of the batch in one round trip
// per node (MGETs, redis-store.ts); rows that earn a place in the hot cache are
// inserted after the batch is scored (admission.ts). The fault policy decides
// what a failed or late fetch does. Row updates (from this process or announced
// over pub/sub) evict stale copies and rewrite a hot/cold split's local rows.
// `prefetch` fetches the next batch's misses ahead (prefetch.ts): a batch takes
// those staged rows instead of fetching them. Its option and stats types are
// in remote-embedding-types.ts.
import { RankfnError } from "../errors";
import { EmbeddingCache, cacheSetBytes } from "../ffi/emb-cache";
import { AdmissionQueue, FrequencySketch } from "./admission";
import { CacheBypass } from "./cache-bypass";
import { HostRowCache } from "./host-cache";
import { HotRows } from "./hot-rows";
import { RowPrefetch, type StagedRow } from "./prefetch";
import { type FetchRequest, ROW_LAYOUT, RedisEmbeddingStore, RemoteTierError, type TableMeta, type UpdateMessage } from "./redis-store";
import { decodeRow, encodeRows, rowBytes } from "./row-codec";
import { type Needed, type Table, type TableSpec, admitRows, fillRow, idArray, lookupLocal } from "./table-tiers";
import type { GatherItem, RemoteEmbeddingOptions, RemoteEmbeddingStats, TableTierStats, TierStages } from "./remote-embedding-types";

export type { TableSpec };
export type { GatherItem, RemoteEmbeddingOptions, RemoteEmbeddingStats, TableTierStats, TierStages } from "./remote-embedding-types";

/** Misses of one plan fetched together: indices j into its `needed`, and their ids. */
interface FetchPart {
  p: Plan;
  idx: Int32Array;
  ids: Float64Array;
}

/** Rows staged ahead (prefetch) more than this many at once: the oldest are dropped. */
const MAX_STAGED_ROWS = 1 << 18;

/** One table's part of a batch: what the local tiers left (`needed`), the rows obtained for it (host or Redis), and the misses still to fetch. */
interface Plan {
  t: Table;
  needed: Needed;
  out: Float32Array;
  outBytes: Uint8Array;
  /** Per miss j: its encoded row once obtained. */
  rows: (Uint8Array | null | undefined)[];
  /** Per miss j: 1 when its row came from Redis (else the host cache). */
  remote: Uint8Array;
  /** Misses still needed after the host cache (indices j) and their ids. */
  needIdx: Int32Array;
  needIds: Float64Array;
}

export class RemoteEmbeddings {
  readonly store: RedisEmbeddingStore;
  readonly options: Required<Omit<RemoteEmbeddingOptions, "prefix" | "tables">>;
  readonly #tables = new Map<string, Table>();
  readonly #host: HostRowCache;
  readonly #prefetch: RowPrefetch;
  #meta: Promise<void> | undefined;
  readonly #subscribed: Promise<void>;
  // Rows updated while a fetch was in flight must not be cached from that (older) fetch.
  #updateSeq = 0;
  #resyncSeq = 0;
  readonly #recentUpdates = new Map<string, number>();
  #inflight = 0;
  readonly #admission = new AdmissionQueue();
  readonly #origin = crypto.randomUUID();
  readonly #cost = { batches: 0, gatherMs: 0, insertMs: 0 };
  readonly #stages: TierStages = { localMs: 0, hostMs: 0, fetchMs: 0, decodeMs: 0, admitMs: 0 };
  /** Moving average of what one row fetched from Redis costs (round-trip share + decode), ms. */
  #msPerRow = 0;
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
      cacheBypass: options.cacheBypass ?? true,
      prefetch: options.prefetch ?? true,
    };
    this.store = new RedisEmbeddingStore({ url: options.redis, prefix: options.prefix ?? `rankfn:${modelName}` });
    this.#host = new HostRowCache(this.options.hostCacheBytes, this.options.hostTtlMs);
    this.#prefetch = new RowPrefetch(MAX_STAGED_ROWS, this.options.hostTtlMs > 0 ? this.options.hostTtlMs : 60_000);
    const shares = splitBudget(specs, this.options.hotCacheBytes, this.options.ways);
    specs.forEach((s, i) => {
      const share = shares[i]!;
      const setBytes = cacheSetBytes(s.dim, this.options.ways);
      const cache = share >= setBytes ? new EmbeddingCache({ rows: s.rows, dim: s.dim, budgetBytes: share, ways: this.options.ways }) : undefined;
      const capacity = cache ? cache.stats().capacityRows : 0;
      const admitPerBatch = cache ? Math.max(16, Math.floor(capacity / 8)) : 0;
      const hot = s.hotIds && s.hotIds.length > 0 ? new HotRows(s.hotIds, s.data!, s.dtype, s.dim) : undefined;
      const scratch = new Float32Array(s.dim);
      const { data: _data, ...spec } = s;
      this.#tables.set(s.name, {
        ...spec, cache, sketch: cache ? new FrequencySketch(capacity) : undefined, bypass: cache ? new CacheBypass(capacity, 16, this.options.cacheBypass) : undefined, hot, admitPerBatch, scratch, rowBytes: rowBytes(s.dtype, s.dim), defaultRow: new Float32Array(s.dim),
        stats: { localHits: 0, hostHits: 0, hostMisses: 0, remoteRows: 0, remoteBytes: 0, fetches: 0, latencyMsSum: 0, latencyMsMax: 0, defaulted: 0, admitted: 0, rejected: 0, probeHits: 0, probeMisses: 0 },
      });
    });
    // Our own announcements come back too: they were applied when written (re-applying would drop rows fetched since).
    this.#subscribed = this.options.subscribe ? this.store.subscribe((u) => (u.origin === this.#origin ? undefined : this.applyUpdate(u)), () => this.resync()) : Promise.resolve();
  }

  /** Resolves once following updates and connected (or after `timeoutMs` if Redis is not reachable yet: it keeps trying). */
  async ready(timeoutMs = 2000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The read connections too, so a first batch does not spend its deadline connecting.
    const connected = this.store.connect(timeoutMs).catch(() => undefined);
    await Promise.race([Promise.all([this.#subscribed, connected]), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
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

  /** gatherMany for one table. */
  gather(name: string, ids: Int32Array | BigInt64Array, n: number, out: Float32Array, deadlineMs: number): Promise<number> {
    return this.gatherMany([{ table: name, ids, n, out }], deadlineMs);
  }

  /**
   * Fill each item's out[i*dim ..] with the row of ids[i] for i < n (ids already
   * range-checked), all items' misses in one fetch (one round trip per node).
   * Returns the number of rows that were defaulted (fault policy "default").
   */
  async gatherMany(items: GatherItem[], deadlineMs: number): Promise<number> {
    const t0 = performance.now();
    try {
      return await this.#gatherMany(items, deadlineMs);
    } finally {
      this.#cost.batches++;
      this.#cost.gatherMs += performance.now() - t0;
    }
  }

  async #gatherMany(items: GatherItem[], deadlineMs: number): Promise<number> {
    const plans = this.#lookupAll(items, true);
    const pending = plans.filter((p) => this.#readHost(p) > 0);
    if (pending.length === 0) {
      this.#creditHits(plans);
      for (const p of plans) this.#admit(p, this.#updateSeq);
      return 0;
    }
    // Rows read before an update lands must not be cached after it (see applyUpdate).
    const seq = this.#updateSeq;
    this.#inflight++;
    try {
      let defaulted = 0;
      try {
        // Rows a prefetch staged are awaited while the rest are fetched (both in flight at once).
        const started = performance.now();
        const staged = this.#takeStaged(pending);
        const direct = pending.filter((p) => p.needIdx.length > 0).map((p) => ({ p, idx: p.needIdx, ids: p.needIds }));
        const [, retry] = await Promise.all([this.#fetchInto(direct, deadlineMs), this.#useStaged(staged, deadlineMs)]);
        // A staged row whose prefetch failed or came too late: this batch fetches it itself.
        if (retry.length > 0) await this.#fetchInto(retry, Math.max(1, deadlineMs - (performance.now() - started)));
      } catch (err) {
        if (!(err instanceof RemoteTierError) || this.options.onFailure === "fail") {
          this.#counters.failedBatches++;
          throw err;
        }
        for (const p of pending) defaulted += this.#defaultRows(p);
      }
      this.#creditHits(plans);
      for (const p of plans) this.#admit(p, seq);
      return defaulted;
    } finally {
      if (--this.#inflight === 0 && this.#pendingAdmits === 0) this.#recentUpdates.clear();
    }
  }

  /** One fetchMany for these misses, decoded into their plans. */
  async #fetchInto(parts: FetchPart[], deadlineMs: number): Promise<void> {
    if (parts.length === 0) return;
    const t0 = performance.now();
    const rows = await this.store.fetchMany(parts.map(({ p, ids }) => ({ table: p.t.name, ids })), deadlineMs);
    const t1 = performance.now();
    parts.forEach((part, k) => this.#fill(part, rows[k]!, t1 - t0));
    const t2 = performance.now();
    this.#stages.fetchMs += t1 - t0;
    this.#stages.decodeMs += t2 - t1;
    // What one fetched row costs this tier (its share of the round trip, plus decoding): what a cache hit saves.
    const fetched = parts.reduce((a, part) => a + part.ids.length, 0);
    const perRow = (t2 - t0) / fetched;
    this.#msPerRow = this.#msPerRow === 0 ? perRow : this.#msPerRow + 0.25 * (perRow - this.#msPerRow);
  }

  /** Take the staged rows of the plans' misses (prefetch); leaves p.needIdx / p.needIds the misses still to fetch. */
  #takeStaged(pending: Plan[]): { p: Plan; j: number; s: StagedRow }[] {
    const staged: { p: Plan; j: number; s: StagedRow }[] = [];
    if (this.#prefetch.size === 0) return staged;
    for (const p of pending) {
      const rest: number[] = [];
      for (let q = 0; q < p.needIdx.length; q++) {
        const s = this.#prefetch.take(HostRowCache.key(p.t.name, p.needIds[q]!));
        if (s) staged.push({ p, j: p.needIdx[q]!, s });
        else rest.push(q);
      }
      if (rest.length === p.needIdx.length) continue;
      const { needIdx, needIds } = p;
      p.needIdx = Int32Array.from(rest, (q) => needIdx[q]!);
      p.needIds = Float64Array.from(rest, (q) => needIds[q]!);
    }
    return staged;
  }

  /** Wait (within the deadline) for the staged rows' prefetches and fill what they brought; returns the misses they did not serve. */
  async #useStaged(staged: { p: Plan; j: number; s: StagedRow }[], deadlineMs: number): Promise<FetchPart[]> {
    if (staged.length === 0) return [];
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(new Set(staged.map(({ s }) => s.group.done))), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
    const t1 = performance.now();
    const retry = new Map<Plan, number[]>();
    for (const { p, j, s } of staged) {
      const row = s.group.rows?.[s.k];
      if (row && row.byteLength === p.t.rowBytes) {
        fillRow(p.t, row, p.needed.pos[j]!, p.out, p.outBytes);
        p.rows[j] = row;
        p.remote[j] = 1;
        p.t.stats.remoteRows++;
        p.t.stats.remoteBytes += row.byteLength;
      } else {
        const js = retry.get(p);
        if (js) js.push(j);
        else retry.set(p, [j]);
      }
    }
    const failed = [...retry.values()].reduce((a, js) => a + js.length, 0);
    this.#prefetch.note(staged.length - failed, failed);
    this.#stages.fetchMs += t1 - t0;
    this.#stages.decodeMs += performance.now() - t1;
    return [...retry].map(([p, js]) => ({ p, idx: Int32Array.from(js), ids: Float64Array.from(js, (j) => p.needed.ids[j]!) }));
  }

  /**
   * Start fetching the rows that batches of these (distinct) ids will miss: not in the split's
   * local rows, the hot cache (probed; not counted as lookups), the host cache or already
   * staged. One fetchMany (one round trip per node) for all tables; never throws for Redis
   * (a failed prefetch leaves its rows to the batch). Returns the rows requested.
   */
  prefetch(items: { table: string; ids: Int32Array | BigInt64Array }[]): number {
    // The hot-cache inserts queued by the batch just gathered go in first (the next batch would
    // flush them before its probe): a row they evict is then prefetched, not left to a second fetch.
    this.#admission.flush();
    const keys: string[] = [];
    const requests: FetchRequest[] = [];
    const seen = new Set<string>();
    for (const { table, ids } of items) {
      const t = this.#tables.get(table);
      if (!t || ids.length === 0) continue;
      const idAt = ids instanceof BigInt64Array ? (i: number) => Number(ids[i]!) : (i: number) => (ids as Int32Array)[i]!;
      let rest: number[] = [];
      for (let i = 0; i < ids.length; i++) if (!t.hot || t.hot.slot(idAt(i)) < 0) rest.push(idAt(i));
      if (t.cache && !t.bypass?.bypassed && rest.length > 0) {
        const probe = idArray(rest, t.rows);
        const miss = t.cache.lookup(probe, new Float32Array(rest.length * t.dim), t.dim);
        t.stats.probeHits += rest.length - miss.length;
        t.stats.probeMisses += miss.length;
        const low = new Int32Array(miss.buffer, miss.byteOffset, 2 * miss.length);
        const all = rest;
        rest = Array.from({ length: miss.length }, (_, j) => all[low[2 * j]!]!);
      }
      const want: number[] = [];
      for (const id of rest) {
        const key = HostRowCache.key(table, id);
        if (seen.has(key) || this.#host.has(key) || this.#prefetch.has(key)) continue;
        seen.add(key);
        keys.push(key);
        want.push(id);
      }
      if (want.length > 0) requests.push({ table, ids: want });
    }
    if (keys.length === 0) return 0;
    this.#prefetch.add(keys, this.store.fetchMany(requests, this.options.timeoutMs).then((rows) => rows.flat()));
    return keys.length;
  }

  /**
   * Fill the items from the local tiers only (hot/cold split, hot cache, host
   * cache) — nothing leaves the process. Returns, per table, how many distinct
   * rows are not local (all zero: every row was filled).
   */
  gatherLocal(items: GatherItem[]): Map<string, number> {
    // Every local tier is consulted (a bypassed cache too: it may hold the rows), and nothing is measured.
    const plans = this.#lookupAll(items, false);
    const missing = new Map<string, number>();
    for (const p of plans) {
      const left = this.#readHost(p);
      if (left > 0) missing.set(p.t.name, (missing.get(p.t.name) ?? 0) + left);
    }
    if (missing.size === 0) for (const p of plans) this.#admit(p, this.#updateSeq);
    return missing;
  }

  #lookupAll(items: GatherItem[], measured: boolean): Plan[] {
    // Rows queued for the hot cache go in before it is read again (and their cost is charged to the batch that fetched them).
    this.#admission.flush();
    return items.map(({ table, ids, n, out }) => {
      const t = this.#tables.get(table);
      if (!t) throw new RankfnError(`"${table}" is not a remote table of this model (its remote tables: ${[...this.#tables.keys()].join(", ")})`, "unknown_table", 404);
      const useCache = t.cache !== undefined && (!measured || !t.bypass || t.bypass.use());
      const t0 = performance.now();
      const needed = lookupLocal(t, ids, n, out, useCache);
      const ms = performance.now() - t0;
      this.#stages.localMs += ms;
      if (measured && needed.cached) t.bypass?.charge(ms);
      const needIdx = new Int32Array(needed.count);
      for (let j = 0; j < needed.count; j++) needIdx[j] = j;
      return { t, needed, out, outBytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), rows: new Array(needed.count), remote: new Uint8Array(needed.count), needIdx, needIds: needed.ids };
    });
  }

  /** Tell each table's bypass what its cache saved this batch (its hits, at the tier's cost per fetched row). */
  #creditHits(plans: Plan[]): void {
    for (const p of plans) if (p.needed.cached) p.t.bypass?.credit(p.needed.hits, this.#msPerRow);
  }

  /** Rows in the host cache go straight to `out` (and into `p.rows`); leaves the misses still needed in p.needIdx / p.needIds and returns their count. */
  #readHost(p: Plan): number {
    const { t, needed } = p;
    if (!this.#host.enabled) {
      t.stats.hostMisses += needed.count; // a disabled tier misses everything
      return needed.count;
    }
    const t0 = performance.now();
    const idx: number[] = [];
    for (let j = 0; j < needed.count; j++) {
      const row = this.#host.get(HostRowCache.key(t.name, needed.ids[j]!));
      if (row) {
        t.stats.hostHits++;
        fillRow(t, row, needed.pos[j]!, p.out, p.outBytes);
        p.rows[j] = row;
      } else {
        t.stats.hostMisses++;
        idx.push(j);
      }
    }
    if (idx.length < needed.count) {
      p.needIdx = Int32Array.from(idx);
      p.needIds = Float64Array.from(idx, (j) => needed.ids[j]!);
    }
    this.#stages.hostMs += performance.now() - t0;
    return idx.length;
  }

  /** Rows fetched from Redis for a part's ids: checked, decoded into `out`, kept in `p.rows`. */
  #fill({ p, idx, ids }: FetchPart, rows: (Uint8Array | null)[], ms: number): void {
    const { t, needed } = p;
    t.stats.fetches++;
    t.stats.latencyMsSum += ms;
    t.stats.latencyMsMax = Math.max(t.stats.latencyMsMax, ms);
    let absent = 0;
    let first = -1;
    for (let k = 0; k < rows.length; k++) {
      if (rows[k] !== null && rows[k]!.byteLength === t.rowBytes) continue;
      absent++;
      if (first < 0) first = ids[k]!;
    }
    if (absent > 0) throw new RemoteTierError(`table "${t.name}" has no valid row for id ${first} under ${this.store.rowKey(t.name, first)} (${absent} missing or malformed): push it with \`rankfn embeddings push\``, "embeddings_missing");
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k]!;
      const j = idx[k]!;
      t.stats.remoteRows++;
      t.stats.remoteBytes += row.byteLength;
      fillRow(t, row, needed.pos[j]!, p.out, p.outBytes);
      p.rows[j] = row;
      p.remote[j] = 1;
    }
  }

  /** Every miss of p not obtained (from the host cache, a prefetch or Redis) gets the default row. */
  #defaultRows(p: Plan): number {
    const { t, needed } = p;
    let n = 0;
    for (let j = 0; j < needed.count; j++) {
      if (p.rows[j]) continue;
      p.out.set(t.defaultRow, needed.pos[j]! * t.dim);
      n++;
    }
    t.stats.defaulted += n;
    return n;
  }

  /**
   * New rows into the host cache now; the hot cache's admission (sketch counts,
   * then the admissible rows) after this batch (queued) — unless an update or
   * resync since `seq` made them stale.
   */
  #admit(p: Plan, seq: number): void {
    const { t, needed } = p;
    const stale = (j: number) => this.#resyncSeq > seq || (this.#recentUpdates.size > 0 && (this.#recentUpdates.get(HostRowCache.key(t.name, needed.ids[j]!)) ?? -1) >= seq);
    // Only rows new from Redis enter the host cache: re-setting host hits would renew their TTL forever.
    // A fetched row is a view into its reply's buffer: the host cache keeps a copy, not the whole reply.
    if (this.#host.enabled) {
      for (let j = 0; j < needed.count; j++) if (p.remote[j] && !stale(j)) this.#host.set(HostRowCache.key(t.name, needed.ids[j]!), p.rows[j]!.slice());
    }
    if (!t.cache || !needed.cached) return;
    this.#pendingAdmits++;
    this.#admission.push(() => {
      this.#pendingAdmits--;
      if (!this.#tables.has(t.name)) return; // disposed
      const t0 = performance.now();
      for (let j = 0; j < needed.count; j++) if (p.rows[j] && stale(j)) p.rows[j] = null;
      t.bypass?.inserted(admitRows(t, needed, p.rows));
      const ms = performance.now() - t0;
      this.#cost.insertMs += ms;
      this.#stages.admitMs += ms;
      t.bypass?.charge(ms);
      if (this.#inflight === 0 && this.#pendingAdmits === 0) this.#recentUpdates.clear();
    });
  }

  #pendingAdmits = 0;

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
    const encoded = encodeRows(rows, ids.length, t.dim, t.dtype);
    await this.store.write(name, ids, encoded, t.rowBytes);
    // A hot/cold split's local rows take the new rows at once (as encoded, so as the model file would hold them).
    if (t.hot) {
      ids.forEach((id, i) => {
        const slot = t.hot!.slot(id);
        if (slot < 0) return;
        decodeRow(encoded.subarray(i * t.rowBytes, (i + 1) * t.rowBytes), t.dtype, t.dim, t.scratch, 0);
        t.hot!.write(slot, t.scratch);
      });
    }
    this.applyUpdate({ table: name, ids }, { hotWritten: true });
    await this.store.publish({ table: name, ids, origin: this.#origin });
  }

  /**
   * Drop the cached copies of updated rows. Updated rows of a hot/cold split's
   * local part are served from Redis until their new value is read back into it
   * (unless `hotWritten`: this process wrote them).
   */
  applyUpdate(u: UpdateMessage, { hotWritten = false } = {}): void {
    const t = this.#tables.get(u.table);
    if (!t) return;
    const ids = u.ids.filter((id) => Number.isInteger(id) && id >= 0 && id < t.rows);
    const seq = ++this.#updateSeq;
    for (const id of ids) {
      const key = HostRowCache.key(u.table, id);
      this.#host.delete(key);
      this.#prefetch.invalidate(key);
      if (this.#inflight > 0 || this.#pendingAdmits > 0) this.#recentUpdates.set(key, seq);
    }
    t.cache?.erase(idArray(ids, t.rows));
    if (t.hot && !hotWritten) this.#refreshHot(t, ids);
    this.#counters.updates++;
  }

  /** Mark updated local rows stale (served through the remote path meanwhile), read them back, then serve them locally again. */
  #refreshHot(t: Table, ids: number[]): void {
    const hot = t.hot!;
    const marked = ids.map((id) => [id, hot.slot(id)] as const).filter(([, s]) => s >= 0).map(([id, s]) => [id, s, hot.markStale(s)] as const);
    if (marked.length === 0) return;
    void this.store.fetch(t.name, marked.map(([id]) => id), Math.max(1000, this.options.timeoutMs)).then(
      (rows) => {
        marked.forEach(([, s, gen], i) => {
          const row = rows[i];
          if (!row || row.byteLength !== t.rowBytes) return; // stays stale: served from Redis
          const decoded = new Float32Array(t.dim);
          decodeRow(row, t.dtype, t.dim, decoded, 0);
          hot.restore(s, gen, decoded);
        });
      },
      () => undefined, // stays stale: served from Redis
    );
  }

  /** Updates may have been missed (the subscription dropped): forget every cached row. */
  resync(): void {
    this.#resyncSeq = ++this.#updateSeq;
    for (const t of this.#tables.values()) t.cache?.clear();
    this.#host.clear();
    this.#prefetch.clear();
    this.#counters.resyncs++;
  }

  stats(): RemoteEmbeddingStats {
    const tables: Record<string, TableTierStats> = {};
    for (const t of this.#tables.values()) {
      const hot = t.cache?.stats();
      tables[t.name] = {
        local: t.hot ? { rows: t.hot.count, hits: t.stats.localHits } : null,
        hot: hot ? { hits: hot.hits - t.stats.probeHits, misses: hot.misses - t.stats.probeMisses, evictions: hot.evictions, usedRows: hot.usedRows, capacityRows: hot.capacityRows, bytes: hot.bytes } : null,
        host: { hits: t.stats.hostHits, misses: t.stats.hostMisses },
        admission: { admitted: t.stats.admitted, rejected: t.stats.rejected },
        bypass: t.bypass?.stats() ?? null,
        remote: { rows: t.stats.remoteRows, bytes: t.stats.remoteBytes, fetches: t.stats.fetches, latencyMsSum: t.stats.latencyMsSum, latencyMsMax: t.stats.latencyMsMax },
        defaultedRows: t.stats.defaulted,
      };
    }
    return { tables, host: this.#host.stats(), redis: this.store.stats(), cost: { ...this.#cost, stages: { ...this.#stages } }, prefetch: this.#prefetch.stats(), ...this.#counters };
  }

  dispose(): void {
    this.store.close();
    for (const t of this.#tables.values()) t.cache?.dispose();
    this.#tables.clear();
  }
}

/**
 * The hot budget split over the tables in proportion to their fp32 size, no table getting more
 * than twice what holding all its remote rows takes. (An equal split, water-filled, measured no
 * better on DLRM's Zipf stream: its big tables are also its busy ones, up to 100 ids a sample.)
 */
export function splitBudget(specs: TableSpec[], budget: number, ways: number): number[] {
  const total = specs.reduce((a, s) => a + s.rows * s.dim * 4, 0) || 1;
  return specs.map((s) => {
    const remoteRows = s.rows - (s.hotIds?.length ?? 0);
    const cap = remoteRows > 0 ? (Math.ceil(remoteRows / ways) * 2 + 1) * cacheSetBytes(s.dim, ways) : 0;
    return Math.min(Math.floor((budget * s.rows * s.dim * 4) / total), cap);
  });
}

function checkMeta(t: TableSpec, meta: TableMeta, prefix: string): void {
  if (meta.layout !== ROW_LAYOUT) {
    throw new RankfnError(`remote table "${t.name}" under "${prefix}" was pushed in the key layout "${meta.layout ?? "one untagged key per row"}", this rankfn reads "${ROW_LAYOUT}": push this model's tables again`, "embeddings_mismatch", 500);
  }
  if (meta.rows !== t.rows || meta.dim !== t.dim || meta.dtype !== t.dtype) {
    throw new RankfnError(`remote table "${t.name}" under "${prefix}" is ${meta.dtype} [${meta.rows}, ${meta.dim}] in Redis, the model has ${t.dtype} [${t.rows}, ${t.dim}]: push this model's tables again`, "embeddings_mismatch", 500);
  }
}
