// The remote tier: embedding tables in Redis or a Redis Cluster, one key per
// row holding the row's bytes exactly as the table stores them (row-codec.ts),
// under `${prefix}:${table}:${row}`; table metadata under
// `${prefix}:${table}:meta`. All rows a batch misses are fetched in one
// pipelined round trip per node (Bun's client pipelines the commands issued in
// one tick; redis-cluster.ts groups keys by node). Row updates are announced on
// the channel `${prefix}:updates`. Every call has a deadline; a lost connection
// is re-established with backoff, and commands fail fast (no offline queue)
// while it is down, so a caller never waits past its deadline.
import { RedisClient } from "bun";
import { Router } from "./redis-cluster";
import { BACKOFF_MS, RemoteTierError, withDeadline } from "./redis-connection";
import type { RowDType } from "./row-codec";

export { RemoteTierError };

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
  cluster: boolean;
}

export class RedisEmbeddingStore {
  readonly prefix: string;
  readonly url: string;
  readonly #router: Router;
  readonly #stats = { fetches: 0, rowsFetched: 0, bytesFetched: 0, errors: 0, timeouts: 0, latencyMsSum: 0, latencyMsMax: 0 };
  #subscriber: { stop(): void } | undefined;

  constructor({ url, prefix = "rankfn", connectTimeoutMs = 1000 }: RedisStoreOptions) {
    this.url = url;
    this.prefix = prefix;
    this.#router = new Router(url, connectTimeoutMs);
  }

  rowKey(table: string, id: number): string {
    return `${this.prefix}:${table}:${id}`;
  }

  get updatesChannel(): string {
    return `${this.prefix}:updates`;
  }

  get connected(): boolean {
    return this.#router.connected;
  }

  /** Is the remote tier a Redis Cluster (known after the first command)? */
  get cluster(): boolean {
    return this.#router.cluster;
  }

  /** Connect now (otherwise the first command connects). */
  async connect(timeoutMs = 1000): Promise<void> {
    await this.#router.groups([], timeoutMs);
  }

  /**
   * The rows of `ids` (null where Redis has no such key), in one pipelined
   * round trip; rejects with RemoteTierError on failure or after `timeoutMs`.
   */
  async fetch(table: string, ids: ArrayLike<number>, timeoutMs: number): Promise<(Uint8Array | null)[]> {
    if (ids.length === 0) return [];
    const t0 = performance.now();
    const keys = Array.from({ length: ids.length }, (_, i) => this.rowKey(table, ids[i]!));
    try {
      let rows: (Uint8Array | null)[];
      try {
        rows = await this.#fetchKeys(keys, timeoutMs);
      } catch (err) {
        // A cluster resharded under us: re-read the slot map and try once more.
        if (!/^MOVED /.test((err as Error).message ?? "")) throw err;
        await this.#router.refresh(timeoutMs - (performance.now() - t0));
        rows = await this.#fetchKeys(keys, timeoutMs - (performance.now() - t0));
      }
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

  /** GET every key, one pipelined round trip per node, all nodes at once. */
  async #fetchKeys(keys: string[], timeoutMs: number): Promise<(Uint8Array | null)[]> {
    const t0 = performance.now();
    const groups = await this.#router.groups(keys, timeoutMs);
    const rows: (Uint8Array | null)[] = new Array(keys.length);
    const pending = groups.map(async ({ client, indices }) => {
      const got = await Promise.all(indices.map((i) => client.getBuffer(keys[i]!)));
      indices.forEach((i, k) => (rows[i] = got[k]!));
    });
    await withDeadline(Promise.all(pending), timeoutMs - (performance.now() - t0), `fetching ${keys.length} rows`);
    return rows;
  }

  /** Write encoded rows (`rowBytes` each, in `ids` order): MSETs of `chunk` rows, or per-row SETs on a cluster (keys of one MSET must share a slot). */
  async write(table: string, ids: ArrayLike<number>, encoded: Uint8Array, rowBytes: number, { chunk = 512, timeoutMs = 10_000 } = {}): Promise<void> {
    const keys = Array.from({ length: ids.length }, (_, i) => this.rowKey(table, ids[i]!));
    const row = (i: number) => encoded.subarray(i * rowBytes, (i + 1) * rowBytes);
    const groups = await this.#router.groups(keys, timeoutMs);
    const sends: Promise<unknown>[] = [];
    for (const { client, indices } of groups) {
      if (this.#router.cluster) {
        for (const i of indices) sends.push(client.set(keys[i]!, row(i)));
        continue;
      }
      for (let at = 0; at < indices.length; at += chunk) {
        const args: (string | Uint8Array)[] = [];
        for (const i of indices.slice(at, at + chunk)) args.push(keys[i]!, row(i));
        sends.push(client.mset(...args));
      }
    }
    await withDeadline(Promise.all(sends), timeoutMs, `writing ${ids.length} rows of "${table}"`);
  }

  async writeMeta(table: string, meta: TableMeta, timeoutMs = 5000): Promise<void> {
    const key = `${this.prefix}:${table}:meta`;
    const client = await this.#router.client(key, timeoutMs);
    await withDeadline(client.set(key, JSON.stringify(meta)), timeoutMs, `writing the metadata of "${table}"`);
  }

  async readMeta(table: string, timeoutMs = 1000): Promise<TableMeta | null> {
    const key = `${this.prefix}:${table}:meta`;
    const client = await this.#router.client(key, timeoutMs);
    const json = await withDeadline(client.get(key), timeoutMs, `reading the metadata of "${table}"`);
    return json === null ? null : (JSON.parse(json) as TableMeta);
  }

  /** Tell every subscribed server that these rows changed. */
  async publish(update: UpdateMessage, timeoutMs = 5000): Promise<number> {
    // Any node: a cluster forwards classic pub/sub messages to every node.
    const client = await this.#router.client(this.updatesChannel, timeoutMs);
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
    return { ...this.#stats, reconnects: this.#router.reconnects, connected: this.#router.connected, cluster: this.#router.cluster };
  }

  close(): void {
    this.#subscriber?.stop();
    this.#subscriber = undefined;
    this.#router.close();
  }
}
