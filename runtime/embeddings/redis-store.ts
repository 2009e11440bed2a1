// The remote tier: embedding tables in Redis or a Redis Cluster, one key per
// row holding the row's bytes exactly as the table stores them (row-codec.ts),
// under `${prefix}:${table}:{${id % 64}}:${id}`: the hash tag `{k}` puts rows
// of one tag (of every table) in one hash slot, so a batch's misses are read
// with MGETs of up to 1024 keys — one command per tag and node on a cluster,
// per 1024 rows on a single Redis — instead of one GET per row. Reads go over
// a binary RESP connection per node (resp-connection.ts: Bun's client decodes
// MGET replies as text), all nodes at once, every command to a node pipelined:
// one round trip per node per batch. Table metadata lives under
// `${prefix}:${table}:meta`; row updates are announced on `${prefix}:updates`.
// Every call has a deadline; a lost connection is re-established with backoff,
// and commands fail fast while it is down, so a caller never waits past its deadline.
import { RedisClient } from "bun";
import { Router } from "./redis-cluster";
import { BACKOFF_MS, RemoteTierError, withDeadline } from "./redis-connection";
import { RespConnection } from "./resp-connection";
import type { RowDType } from "./row-codec";

/** Hash tags rows are spread over (`id % KEY_TAGS`); recorded in each table's metadata as its layout. */
export const KEY_TAGS = 64;
/** The key layout `embeddings push` writes (a reader refuses tables pushed in another). */
export const ROW_LAYOUT = `tagged-${KEY_TAGS}`;
/** Most keys one MGET / MSET carries (bounds how long one command holds Redis). */
const KEYS_PER_COMMAND = 1024;

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
  /** Key layout of the rows (ROW_LAYOUT); absent: pushed by an older rankfn, one untagged key per row. */
  layout?: string;
  /** A hot/cold split: only these many rows were uploaded (the rest stay in the model's memory). */
  pushedRows?: number;
}

/** Rows of one table one batch needs from Redis. */
export interface FetchRequest {
  table: string;
  ids: ArrayLike<number>;
}

/** A row update announcement: the rows of `ids` in `table` changed. */
export interface UpdateMessage {
  table: string;
  ids: number[];
  /** The publishing process's model instance, which applied the update already and skips its own echo. */
  origin?: string;
}

export interface RedisStoreStats {
  /** Pipelined fetches (one per remote table a batch missed in; they share the batch's round trip). */
  fetches: number;
  /** Batches that went to Redis (one fetchMany each), the MGET commands they sent, and the round trips (one per node contacted). */
  batches: number;
  commands: number;
  roundTrips: number;
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
  readonly #stats = { fetches: 0, batches: 0, commands: 0, roundTrips: 0, rowsFetched: 0, bytesFetched: 0, errors: 0, timeouts: 0, latencyMsSum: 0, latencyMsMax: 0 };
  readonly #binary = new Map<string, RespConnection>();
  readonly #connectTimeoutMs: number;
  #subscriber: { stop(): void } | undefined;

  constructor({ url, prefix = "rankfn", connectTimeoutMs = 1000 }: RedisStoreOptions) {
    this.url = url;
    this.prefix = prefix;
    this.#router = new Router(url, connectTimeoutMs);
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  rowKey(table: string, id: number): string {
    return `${this.prefix}:${table}:{${id % KEY_TAGS}}:${id}`;
  }

  get updatesChannel(): string {
    return `${this.prefix}:updates`;
  }

  /** The connections rows are read through are up (before the first read: Bun's client for commands). */
  get connected(): boolean {
    return this.#binary.size > 0 ? [...this.#binary.values()].every((c) => c.connected) : this.#router.connected;
  }

  /** Is the remote tier a Redis Cluster (known after the first command)? */
  get cluster(): boolean {
    return this.#router.cluster;
  }

  /** Connect now, to every node and its binary read connection (otherwise the first command connects). */
  async connect(timeoutMs = 1000): Promise<void> {
    await this.#router.groups([], timeoutMs);
    const urls = await this.#router.nodeUrls(timeoutMs);
    await withDeadline(Promise.all(urls.map((u) => this.#connection(u).open())), timeoutMs, `connecting to ${urls.length} node(s)`);
  }

  /** The rows of `ids` of one table (null where Redis has no such key); see fetchMany. */
  async fetch(table: string, ids: ArrayLike<number>, timeoutMs: number): Promise<(Uint8Array | null)[]> {
    return (await this.fetchMany([{ table, ids }], timeoutMs))[0]!;
  }

  /**
   * The rows of several tables' ids (null where Redis has no such key), all in
   * one round trip per node: MGETs of one tag group (cluster) or of up to 1024
   * keys (single Redis). Rejects with RemoteTierError on failure or after `timeoutMs`.
   */
  async fetchMany(requests: FetchRequest[], timeoutMs: number): Promise<(Uint8Array | null)[][]> {
    const total = requests.reduce((a, r) => a + r.ids.length, 0);
    if (total === 0) return requests.map(() => []);
    const t0 = performance.now();
    const keys: string[] = new Array(total);
    const tag = new Uint8Array(total);
    let k = 0;
    for (const { table, ids } of requests) {
      for (let i = 0; i < ids.length; i++, k++) {
        keys[k] = this.rowKey(table, ids[i]!);
        tag[k] = ids[i]! % KEY_TAGS;
      }
    }
    try {
      let rows: (Uint8Array | null)[];
      try {
        rows = await this.#fetchKeys(keys, tag, timeoutMs);
      } catch (err) {
        // A cluster resharded under us: re-read the slot map and try once more.
        if (!/^MOVED /.test((err as Error).message ?? "")) throw err;
        await this.#router.refresh(timeoutMs - (performance.now() - t0));
        rows = await this.#fetchKeys(keys, tag, timeoutMs - (performance.now() - t0));
      }
      const ms = performance.now() - t0;
      const s = this.#stats;
      s.batches++;
      s.fetches += requests.filter((r) => r.ids.length > 0).length;
      s.rowsFetched += total;
      for (const r of rows) s.bytesFetched += r?.byteLength ?? 0;
      s.latencyMsSum += ms;
      s.latencyMsMax = Math.max(s.latencyMsMax, ms);
      const out: (Uint8Array | null)[][] = [];
      let at = 0;
      for (const r of requests) out.push(rows.slice(at, (at += r.ids.length)));
      return out;
    } catch (err) {
      if (err instanceof RemoteTierError && err.code === "embeddings_timeout") this.#stats.timeouts++;
      else this.#stats.errors++;
      const tables = [...new Set(requests.map((r) => r.table))].map((t) => `"${t}"`).join(", ");
      throw err instanceof RemoteTierError ? err : new RemoteTierError(`Redis fetch of ${tables} failed: ${(err as Error).message}`);
    }
  }

  /** MGET every key: per node, commands of one tag (cluster) or any keys (single), pipelined; all nodes at once. */
  async #fetchKeys(keys: string[], tag: Uint8Array, timeoutMs: number): Promise<(Uint8Array | null)[]> {
    const t0 = performance.now();
    const groups = await this.#router.nodeGroups(keys, timeoutMs);
    const rows: (Uint8Array | null)[] = new Array(keys.length);
    const cluster = this.#router.cluster;
    const pending: Promise<void>[] = [];
    for (const { url, indices } of groups) {
      const conn = this.#connection(url);
      this.#stats.roundTrips++;
      for (const part of commandGroups(indices, cluster ? tag : undefined)) {
        this.#stats.commands++;
        pending.push(
          conn.mget(part.map((i) => keys[i]!)).then((got) => {
            for (let j = 0; j < part.length; j++) rows[part[j]!] = got[j] ?? null;
          }),
        );
      }
    }
    await withDeadline(Promise.all(pending), timeoutMs - (performance.now() - t0), `fetching ${keys.length} rows`);
    return rows;
  }

  #connection(url: string): RespConnection {
    let c = this.#binary.get(url);
    if (!c) this.#binary.set(url, (c = new RespConnection(url, this.#connectTimeoutMs)));
    return c;
  }

  /** Write encoded rows (`rowBytes` each, in `ids` order): MSETs of up to 1024 rows, of one tag per MSET on a cluster (keys of one MSET must share a slot). */
  async write(table: string, ids: ArrayLike<number>, encoded: Uint8Array, rowBytes: number, { timeoutMs = 10_000 } = {}): Promise<void> {
    const keys = Array.from({ length: ids.length }, (_, i) => this.rowKey(table, ids[i]!));
    const tag = Uint8Array.from({ length: ids.length }, (_, i) => ids[i]! % KEY_TAGS);
    const row = (i: number) => encoded.subarray(i * rowBytes, (i + 1) * rowBytes);
    const groups = await this.#router.groups(keys, timeoutMs);
    const sends: Promise<unknown>[] = [];
    for (const { client, indices } of groups) {
      for (const part of commandGroups(indices, this.#router.cluster ? tag : undefined)) {
        const args: (string | Uint8Array)[] = [];
        for (const i of part) args.push(keys[i]!, row(i));
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
    const binary = [...this.#binary.values()];
    return { ...this.#stats, reconnects: this.#router.reconnects + binary.reduce((a, c) => a + c.reconnects, 0), connected: this.connected, cluster: this.#router.cluster };
  }

  close(): void {
    this.#subscriber?.stop();
    this.#subscriber = undefined;
    this.#router.close();
    for (const c of this.#binary.values()) c.close();
    this.#binary.clear();
  }
}

/** Positions split into commands: by tag when keys must share a slot (`tag` given), then into runs of at most KEYS_PER_COMMAND. */
function commandGroups(indices: number[], tag: Uint8Array | undefined): number[][] {
  const parts: number[][] = [];
  const chunk = (list: number[]) => {
    for (let at = 0; at < list.length; at += KEYS_PER_COMMAND) parts.push(list.slice(at, at + KEYS_PER_COMMAND));
  };
  if (!tag) {
    chunk(indices);
    return parts;
  }
  const byTag: number[][] = Array.from({ length: KEY_TAGS }, () => []);
  for (const i of indices) byTag[tag[i]!]!.push(i);
  for (const list of byTag) if (list.length > 0) chunk(list);
  return parts;
}
