// Prefetch of the next batch's remote rows: while batch i computes, the rows
// the next queued batch will miss are already being fetched (one fetchMany:
// one round trip per node), so Redis latency overlaps compute. Fetched rows
// wait here, per (table, id), until a batch takes them; they are never cached
// by this staging itself, so the host and hot tiers keep their own rules. An
// update (or resync) drops a staged row at once, exactly as it drops a cached
// copy, so a batch never uses a row read before an update it has seen. A
// prefetch that fails only marks its rows failed: the batch that wanted them
// fetches them itself, and the fault policy applies to that fetch as always.

/** Counters of the prefetch (rows are distinct (table, id) pairs). */
export interface PrefetchStats {
  /** Prefetches issued (each one fetchMany). */
  fetches: number;
  /** Rows requested by those prefetches. */
  rows: number;
  /** Staged rows a batch took and used (its Redis fetch for them was saved). */
  used: number;
  /** Staged rows no batch used: dropped for room or age, or found in a faster tier first. */
  wasted: number;
  /** Staged rows dropped by an update or resync before use. */
  invalidated: number;
  /** Staged rows a batch took whose prefetch failed, timed out or found no valid row (the batch fetched them itself). */
  failed: number;
}

/** One prefetch in flight or landed: `rows[k]` once done (undefined while in flight or when it failed). */
interface Group {
  done: Promise<void>;
  /** When it was issued (ms, performance.now): a row older than the host tier's TTL is not used. */
  at: number;
  rows: (Uint8Array | null)[] | undefined;
}

/** A staged row: its prefetch and its index in that prefetch's rows. */
export interface StagedRow {
  group: Group;
  k: number;
}

export class RowPrefetch {
  /**
   * @param maxRows rows staged at most: past it the oldest staging is dropped (requests that
   *   never ran, say). @param maxAgeMs a staged row older than this is not used (the host
   *   tier's TTL: the same bound on staleness if an update announcement is lost).
   */
  constructor(
    readonly maxRows: number,
    readonly maxAgeMs: number,
  ) {}

  readonly #staged = new Map<string, StagedRow>();
  readonly #stats: PrefetchStats = { fetches: 0, rows: 0, used: 0, wasted: 0, invalidated: 0, failed: 0 };

  /** Rows staged now. */
  get size(): number {
    return this.#staged.size;
  }

  /** A row of `key` is staged (in flight or landed). */
  has(key: string): boolean {
    return this.#staged.has(key);
  }

  /**
   * Stage the rows of `keys` as `fetch` will return them (in order). Rows staged earlier stay
   * (requests a batch left queued still want them) until room or age drops them.
   */
  add(keys: string[], fetch: Promise<(Uint8Array | null)[]>): void {
    if (keys.length === 0) return;
    // Map order is insertion order: the oldest staged rows go first.
    for (const key of this.#staged.keys()) {
      if (this.#staged.size + keys.length <= this.maxRows) break;
      this.#staged.delete(key);
      this.#stats.wasted++;
    }
    const group: Group = { done: Promise.resolve(), at: performance.now(), rows: undefined };
    // Never rejects: a failed prefetch leaves `rows` undefined, and a batch refetches.
    group.done = fetch.then(
      (rows) => void (group.rows = rows),
      () => undefined,
    );
    keys.forEach((key, k) => this.#staged.set(key, { group, k }));
    this.#stats.fetches++;
    this.#stats.rows += keys.length;
  }

  /** Remove and return the staged row of `key` (undefined: none staged). */
  take(key: string): StagedRow | undefined {
    const s = this.#staged.get(key);
    if (!s) return undefined;
    this.#staged.delete(key);
    if (performance.now() - s.group.at <= this.maxAgeMs) return s;
    this.#stats.wasted++;
    return undefined;
  }

  /** An update of `key`: a staged copy may predate it. */
  invalidate(key: string): void {
    if (this.#staged.delete(key)) this.#stats.invalidated++;
  }

  /** Updates may have been missed: nothing staged can be trusted. */
  clear(): void {
    this.#stats.invalidated += this.#staged.size;
    this.#staged.clear();
  }

  /** Count the outcome of rows a batch took. */
  note(used: number, failed: number): void {
    this.#stats.used += used;
    this.#stats.failed += failed;
  }

  stats(): PrefetchStats & { staged: number } {
    return { ...this.#stats, staged: this.#staged.size };
  }
}
