// One self-healing Redis connection (Bun's RedisClient): commands fail fast
// while it is down (no offline queue), a new connection is attempted on demand
// with exponential backoff, and every wait is bounded by the caller's deadline.
import { RedisClient } from "bun";
import { RankfnError } from "../errors";

/** The remote tier failed or missed its deadline (503: retry later). */
export class RemoteTierError extends RankfnError {
  override readonly name = "RemoteTierError";
  constructor(message: string, code = "embeddings_unavailable") {
    super(message, code, 503);
  }
}

export const BACKOFF_MS = [50, 100, 200, 500, 1000, 2000];

/** Resolve `p`, or reject with RemoteTierError after `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RemoteTierError(`${what}: no answer from Redis within ${Math.round(ms)} ms`, "embeddings_timeout")), Math.max(0, ms));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class Connection {
  #client: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #failures = 0;
  #retryAt = 0;
  #closed = false;
  #everConnected = false;
  reconnects = 0;

  constructor(
    readonly url: string,
    readonly connectTimeoutMs: number,
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
    if (this.#everConnected) this.reconnects++;
    this.#everConnected = true;
    this.#failures = 0;
    this.#client = c;
    return c;
  }

  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }
}
