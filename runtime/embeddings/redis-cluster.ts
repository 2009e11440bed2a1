// Key routing for the remote tier: one Redis, or a Redis Cluster. In cluster
// mode the slot map (CLUSTER SLOTS) says which node owns each key's hash slot
// (CRC16 of the key, or of its {hash tag}, mod 16384); a batch's keys are
// grouped per node and each node gets its own pipelined round trip, all in
// flight at once. A MOVED answer refreshes the map. The mode is detected on
// first use: a node with cluster support disabled is a single Redis.
import type { RedisClient } from "bun";
import { Connection, RemoteTierError, withDeadline } from "./redis-connection";

const SLOTS = 16384;
const crcTable = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();
const encoder = new TextEncoder();

/** CRC16-XMODEM, the Redis Cluster key hash. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ crcTable[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/** The hash slot of a key (honouring a non-empty {hash tag}). */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(encoder.encode(key)) % SLOTS;
}

export interface KeyGroup {
  client: RedisClient;
  /** Positions (in the caller's key list) of the keys this node owns. */
  indices: number[];
}

export class Router {
  readonly #seed: Connection;
  readonly #nodes = new Map<string, Connection>();
  #slots: Uint16Array | undefined; // slot -> index into #nodeList (cluster mode)
  #nodeList: Connection[] = [];
  #mode: Promise<"single" | "cluster"> | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    readonly url: string,
    readonly connectTimeoutMs: number,
  ) {
    this.#seed = new Connection(url, connectTimeoutMs);
  }

  get cluster(): boolean {
    return this.#slots !== undefined;
  }

  get connected(): boolean {
    return this.cluster ? this.#nodeList.every((n) => n.connected) : this.#seed.connected;
  }

  get reconnects(): number {
    return this.#seed.reconnects + this.#nodeList.reduce((a, n) => a + (n === this.#seed ? 0 : n.reconnects), 0);
  }

  /**
   * Keys grouped by the node that owns them, by URL only (no connection of
   * Bun's client is needed: the binary read path has its own per node).
   */
  async nodeGroups(keys: string[], deadlineMs: number): Promise<{ url: string; indices: number[] }[]> {
    const mode = await withDeadline(this.#detect(deadlineMs), deadlineMs, `connecting to ${this.url}`);
    if (mode === "single") return [{ url: this.url, indices: keys.map((_, i) => i) }];
    const byNode = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const node = this.#slots![keySlot(key)]!;
      const list = byNode.get(node);
      if (list) list.push(i);
      else byNode.set(node, [i]);
    });
    return [...byNode].map(([node, indices]) => ({ url: this.#nodeList[node]!.url, indices }));
  }

  /** URLs of every node (after detection): the seed alone for a single Redis. */
  async nodeUrls(deadlineMs: number): Promise<string[]> {
    const mode = await withDeadline(this.#detect(deadlineMs), deadlineMs, `connecting to ${this.url}`);
    return mode === "single" ? [this.url] : this.#nodeList.map((n) => n.url);
  }

  /** Keys grouped by the client that owns them. */
  async groups(keys: string[], deadlineMs: number): Promise<KeyGroup[]> {
    // The detection may be shared with a caller that has a longer deadline: bound the wait by ours.
    const mode = await withDeadline(this.#detect(deadlineMs), deadlineMs, `connecting to ${this.url}`);
    if (mode === "single") return [{ client: await this.#seed.client(deadlineMs), indices: keys.map((_, i) => i) }];
    const byNode = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const node = this.#slots![keySlot(key)]!;
      const list = byNode.get(node);
      if (list) list.push(i);
      else byNode.set(node, [i]);
    });
    return Promise.all([...byNode].map(async ([node, indices]) => ({ client: await this.#nodeList[node]!.client(deadlineMs), indices })));
  }

  /** The client owning one key. */
  async client(key: string, deadlineMs: number): Promise<RedisClient> {
    return (await this.groups([key], deadlineMs))[0]!.client;
  }

  /** Re-read the slot map (after a MOVED answer); no-op for a single Redis. */
  refresh(deadlineMs: number): Promise<void> {
    if (!this.cluster) return Promise.resolve();
    this.#refreshing ??= this.#loadSlots(deadlineMs).finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  #detect(deadlineMs: number): Promise<"single" | "cluster"> {
    this.#mode ??= (async () => {
      const t0 = performance.now();
      const c = await this.#seed.client(deadlineMs);
      try {
        await withDeadline(c.send("CLUSTER", ["SLOTS"]), deadlineMs - (performance.now() - t0), `asking ${this.url} for its cluster slots`);
      } catch (err) {
        if (/cluster support disabled/i.test((err as Error).message)) return "single";
        throw err;
      }
      await this.#loadSlots(deadlineMs);
      return "cluster";
    })().catch((err) => {
      this.#mode = undefined; // decide again once Redis answers
      throw err instanceof RemoteTierError ? err : new RemoteTierError(`Redis at ${this.url}: ${(err as Error).message}`);
    });
    return this.#mode;
  }

  async #loadSlots(deadlineMs: number): Promise<void> {
    // Any reachable node can describe the cluster.
    const candidates = [this.#seed, ...this.#nodeList];
    let lastError: unknown;
    for (const conn of candidates) {
      try {
        const c = await conn.client(deadlineMs);
        const ranges = (await withDeadline(c.send("CLUSTER", ["SLOTS"]), deadlineMs, "reading the cluster's slot map")) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const slots = new Uint16Array(SLOTS);
        const list: Connection[] = [];
        const index = new Map<Connection, number>();
        for (const [start, end, [host, port]] of ranges) {
          const node = this.#node(`redis://${host}:${port}`);
          if (!index.has(node)) index.set(node, list.push(node) - 1);
          slots.fill(index.get(node)!, start, end + 1);
        }
        this.#slots = slots;
        this.#nodeList = list;
        return;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof RemoteTierError ? lastError : new RemoteTierError(`cannot read the cluster's slot map: ${(lastError as Error)?.message}`);
  }

  #node(url: string): Connection {
    if (url === this.url) return this.#seed;
    let n = this.#nodes.get(url);
    if (!n) this.#nodes.set(url, (n = new Connection(url, this.connectTimeoutMs)));
    return n;
  }

  close(): void {
    this.#seed.close();
    for (const n of this.#nodes.values()) n.close();
  }
}
