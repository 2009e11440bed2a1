// The remote tier: embedding tables in Redis, one key per row holding the row's
// bytes exactly as the table stores them (row-codec.ts), under
// `${prefix}:${table}:${row}`; table metadata under `${prefix}:${table}:meta`.
// All rows a batch misses are fetched in one pipelined round trip (Bun's client
// pipelines the commands issued in one tick). Row updates are announced on the
// channel `${prefix}:updates`. Every call has a deadline; a lost connection is
// re-established in the background with backoff, and commands fail fast (no
// offline queue) while it is down, so a caller never waits past its deadline.
import { RedisClient } from "bun";
import { RankfnError } from "../errors";
import type { RowDType } from "./row-codec";

export interface RedisStoreOptions {
  /** redis://host:port[/db] */
  url: string;
  /** Key prefix of one model's tables (default "rankfn"). */
  prefix?: string;
  /** Longest wait for a connection attempt, ms. Default 1000. */
  connectTimeoutMs?: number;
}

/** What `rankfn embeddings push` records next to a table's rows. */
export interface TableMeta {
  rows: number;
  dim: number;
  dtype: RowDType;
  /** Mean row (fp32), for the "mean" default-row policy. */
  mean?: number[];
}

/** A row update announcement: the rows of `ids` in `table` changed. */
export interface UpdateMessage {
  table: string;
  ids: number[];
}

export interface RedisStoreStats {
  /** Pipelined fetches (one per remote table a batch missed in; they share the batch's round trip). */
  fetches: number;
  rowsFetched: number;
  bytesFetched: number;
  errors: number;
  timeouts: number;
  reconnects: number;
  latencyMsSum: number;
  latencyMsMax: number;
  connected: boolean;
}

/** The remote tier failed or missed its deadline (503: retry later). */
export class RemoteTierError extends RankfnError {
  override readonly name = "RemoteTierError";
  constructor(message: string, code = "embeddings_unavailable") {
    super(message, code, 503);
  }
}

const BACKOFF_MS = [50, 100, 200, 500, 1000, 2000];

/** Resolve `p`, or reject with RemoteTierError after `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RemoteTierError(`${what}: no answer from Redis within ${ms} ms`, "embeddings_timeout")), Math.max(0, ms));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A self-healing connection: `client()` returns a connected client or throws at once. */
class Connection {
  #client: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #failures = 0;
  #retryAt = 0;
  #closed = false;
  reconnects = 0;

  constructor(
    readonly url: string,
    readonly connectTimeoutMs: number,
    readonly onLost: () => void = () => {},
  ) {}

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** The connected client; starts (re)connecting when there is none, failing fast during backoff. */
  async client(deadlineMs: number): Promise<RedisClient> {
    if (this.#closed) throw new RemoteTierError("the Redis store is closed");
    if (this.#client?.connected) return this.#client;
    if (!this.#connecting) {
      if (Date.now() < this.#retryAt) throw new RemoteTierError(`Redis at ${this.url} is unreachable (retrying in ${this.#retryAt - Date.now()} ms)`);
      this.#connecting = this.#connect().finally(() => (this.#connecting = undefined));
    }
    return withDeadline(this.#connecting, deadlineMs, `connecting to ${this.url}`);
  }

  async #connect(): Promise<RedisClient> {
    this.#client?.close();
    this.#client = undefined;
    const c = new RedisClient(this.url, { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: this.connectTimeoutMs });
    try {
      await c.connect();
    } catch (err) {
      c.close();
      this.#retryAt = Date.now() + BACKOFF_MS[Math.min(this.#failures++, BACKOFF_MS.length - 1)]!;
      throw new RemoteTierError(`cannot connect to Redis at ${this.url}: ${(err as Error).message}`);
    }
    if (this.#closed) {
      c.close();
      throw new RemoteTierError("the Redis store is closed");
    }
    if (this.#failures > 0 || this.reconnects > 0 || this.#everConnected) this.reconnects++;
    this.#everConnected = true;
    this.#failures = 0;
    c.onclose = () => {
      if (this.#client === c) this.onLost();
    };
    this.#client = c;
    return c;
  }

  #everConnected = false;

  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }
}

export class RedisEmbeddingStore {
  readonly prefix: string;
  readonly url: string;
  readonly #conn: Connection;
  readonly #stats = { fetches: 0, rowsFetched: 0, bytesFetched: 0, errors: 0, timeouts: 0, latencyMsSum: 0, latencyMsMax: 0 };
  #subscriber: { stop(): void } | undefined;

  constructor({ url, prefix = "rankfn", connectTimeoutMs = 1000 }: RedisStoreOptions) {
    this.url = url;
    this.prefix = prefix;
    this.#conn = new Connection(url, connectTimeoutMs);
  }

  rowKey(table: string, id: number): string {
    return `${this.prefix}:${table}:${id}`;
  }

  get updatesChannel(): string {
    return `${this.prefix}:updates`;
  }

  get connected(): boolean {
    return this.#conn.connected;
  }

  /** Connect now (otherwise the first command connects). */
  async connect(timeoutMs = 1000): Promise<void> {
    await this.#conn.client(timeoutMs);
  }

  /**
   * The rows of `ids` (null where Redis has no such key), in one pipelined
   * round trip; rejects with RemoteTierError on failure or after `timeoutMs`.
   */
  async fetch(table: string, ids: ArrayLike<number>, timeoutMs: number): Promise<(Uint8Array | null)[]> {
    if (ids.length === 0) return [];
    const t0 = performance.now();
    try {
      const client = await this.#conn.client(timeoutMs);
      const pending: Promise<Uint8Array | null>[] = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) pending[i] = client.getBuffer(this.rowKey(table, ids[i]!));
      const rows = await withDeadline(Promise.all(pending), timeoutMs - (performance.now() - t0), `fetching ${ids.length} rows of "${table}"`);
      const ms = performance.now() - t0;
      const s = this.#stats;
      s.fetches++;
      s.rowsFetched += ids.length;
      for (const r of rows) s.bytesFetched += r?.byteLength ?? 0;
      s.latencyMsSum += ms;
      s.latencyMsMax = Math.max(s.latencyMsMax, ms);
      return rows;
    } catch (err) {
      if (err instanceof RemoteTierError && err.code === "embeddings_timeout") this.#stats.timeouts++;
      else this.#stats.errors++;
      throw err instanceof RemoteTierError ? err : new RemoteTierError(`Redis fetch of "${table}" failed: ${(err as Error).message}`);
    }
  }

  /** Write encoded rows (`rowBytes` each, in `ids` order), `chunk` rows per MSET. */
  async write(table: string, ids: ArrayLike<number>, encoded: Uint8Array, rowBytes: number, { chunk = 512, timeoutMs = 10_000 } = {}): Promise<void> {
    const client = await this.#conn.client(timeoutMs);
    const sends: Promise<unknown>[] = [];
    for (let at = 0; at < ids.length; at += chunk) {
      const args: (string | Uint8Array)[] = [];
      for (let i = at; i < Math.min(ids.length, at + chunk); i++) args.push(this.rowKey(table, ids[i]!), encoded.subarray(i * rowBytes, (i + 1) * rowBytes));
      sends.push(client.mset(...args));
    }
    await withDeadline(Promise.all(sends), timeoutMs, `writing ${ids.length} rows of "${table}"`);
  }

  async writeMeta(table: string, meta: TableMeta, timeoutMs = 5000): Promise<void> {
    const client = await this.#conn.client(timeoutMs);
    await withDeadline(client.set(`${this.prefix}:${table}:meta`, JSON.stringify(meta)), timeoutMs, `writing the metadata of "${table}"`);
  }

  async readMeta(table: string, timeoutMs = 1000): Promise<TableMeta | null> {
    const client = await this.#conn.client(timeoutMs);
    const json = await withDeadline(client.get(`${this.prefix}:${table}:meta`), timeoutMs, `reading the metadata of "${table}"`);
    return json === null ? null : (JSON.parse(json) as TableMeta);
  }

  /** Tell every subscribed server that these rows changed. */
  async publish(update: UpdateMessage, timeoutMs = 5000): Promise<number> {
    const client = await this.#conn.client(timeoutMs);
    return withDeadline(client.publish(this.updatesChannel, JSON.stringify(update)), timeoutMs, "publishing an update");
  }

  /**
   * Follow row updates on a dedicated connection, resubscribing with backoff
   * when it drops; resolves once first subscribed. `onResync` runs after every re-subscription: updates may
   * have been missed meanwhile, so cached rows must be dropped.
   */
  subscribe(onUpdate: (u: UpdateMessage) => void, onResync: () => void): Promise<void> {
    if (this.#subscriber) throw new Error("RedisEmbeddingStore: already subscribed");
    let subscribed!: () => void;
    const first = new Promise<void>((resolve) => (subscribed = resolve));
    let stopped = false;
    let client: RedisClient | undefined;
    let failures = 0;
    let subscribedOnce = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const attempt = async () => {
      if (stopped) return;
      const c = new RedisClient(this.url, { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: 1000 });
      client = c;
      try {
        await c.connect();
        await c.subscribe(this.updatesChannel, (message) => {
          try {
            const u = JSON.parse(message) as UpdateMessage;
            if (typeof u.table === "string" && Array.isArray(u.ids)) onUpdate(u);
          } catch {
            // A malformed announcement is ignored; it cannot be acted on.
          }
        });
        if (stopped) return c.close();
        if (subscribedOnce) onResync();
        subscribedOnce = true;
        subscribed();
        failures = 0;
        // Cached rows stay valid while Redis is down (nothing can write it); updates
        // published while only our subscription is down are covered by onResync above.
        c.onclose = () => {
          if (stopped || client !== c) return;
          timer = setTimeout(attempt, BACKOFF_MS[0]);
        };
      } catch {
        c.close();
        if (!stopped) timer = setTimeout(attempt, BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)]);
      }
    };
    void attempt();
    this.#subscriber = {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
        client?.close();
        subscribed();
      },
    };
    return first;
  }

  stats(): RedisStoreStats {
    return { ...this.#stats, reconnects: this.#conn.reconnects, connected: this.#conn.connected };
  }

  close(): void {
    this.#subscriber?.stop();
    this.#subscriber = undefined;
    this.#conn.close();
  }
}
