// The host tier in front of Redis: fetched rows (encoded, as stored) in an
// lru-cache bounded by bytes and a time to live, shared by a model's remote
// tables. A TTL bounds staleness even if an update announcement is lost.
import { LRUCache } from "lru-cache";

export interface HostCacheStats {
  hits: number;
  misses: number;
  rows: number;
  bytes: number;
}

export class HostRowCache {
  readonly #lru: LRUCache<string, Uint8Array> | undefined;
  #hits = 0;
  #misses = 0;

  /** maxBytes 0 disables the tier (every get misses). */
  constructor(maxBytes: number, ttlMs: number) {
    this.#lru = maxBytes > 0 ? new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (v) => Math.max(1, v.byteLength), ttl: ttlMs > 0 ? ttlMs : undefined, ttlAutopurge: false }) : undefined;
  }

  get enabled(): boolean {
    return this.#lru !== undefined;
  }

  static key(table: string, id: number): string {
    return `${table}\u0000${id}`;
  }

  get(key: string): Uint8Array | undefined {
    const v = this.#lru?.get(key);
    if (v) this.#hits++;
    else this.#misses++;
    return v;
  }

  /** Whether `key` is held (and fresh), without counting a lookup or touching its recency. */
  has(key: string): boolean {
    return this.#lru?.has(key) ?? false;
  }

  set(key: string, row: Uint8Array): void {
    this.#lru?.set(key, row);
  }

  delete(key: string): void {
    this.#lru?.delete(key);
  }

  clear(): void {
    this.#lru?.clear();
  }

  stats(): HostCacheStats {
    return { hits: this.#hits, misses: this.#misses, rows: this.#lru?.size ?? 0, bytes: this.#lru?.calculatedSize ?? 0 };
  }
}
