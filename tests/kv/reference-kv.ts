// Behaviour model of the native KV store (rf_kv_store_*) for one shard, in
// TypeScript: entries keyed by (version, user), whole-entry LRU over pages of
// two tiers (native -> host -> dropped), promotion on a host hit, prefix
// fingerprint checks, counters. It keeps the exact fp32 values each entry was
// given plus the error bound the tiers it passed through allow, so a test can
// compare the store's K/V bytes with what was appended.
import type { KvPageDType } from "../../runtime/ffi";

const M64 = (1n << 64n) - 1n;

/** rankfn.h mix(): splitmix64's finaliser, modulo 2^64. */
export function mix64(x: bigint): bigint {
  x &= M64;
  x ^= x >> 30n;
  x = (x * 0xbf58476d1ce4e5b9n) & M64;
  x ^= x >> 27n;
  x = (x * 0x94d049bb133111ebn) & M64;
  return x ^ (x >> 31n);
}

/** Fingerprints of one history as rankfn.h defines them: fp[i] = fp(i + 1). */
export function referenceFingerprints(ids: readonly bigint[], timestamps: readonly bigint[]): bigint[] {
  let h = 0x9e3779b97f4a7c15n;
  return ids.map((id, i) => (h = mix64(mix64(h ^ BigInt.asUintN(64, id)) ^ BigInt.asUintN(64, timestamps[i]!))));
}

/** Largest absolute error one pass through a tier of `dtype` may add to values in [-1, 1] (rankfn.h; int8 includes requantization). */
export function tierError(dtype: KvPageDType): number {
  return dtype === "f32" ? 0 : dtype === "bf16" ? 2 ** -8 : 2 / 127;
}

/** K and V of one token: [layers * width] each. */
export interface TokenKv {
  k: Float32Array;
  v: Float32Array;
}

interface Entry {
  version: bigint;
  user: bigint;
  tier: 0 | 1;
  fp: bigint;
  tokens: TokenKv[];
  stamp: number;
  /** Error bound of the values now stored (sum over the tiers passed through). */
  tol: number;
}

export interface RefCounters {
  hits: number;
  misses: number;
  hostHits: number;
  tokensReused: number;
  tokensComputed: number;
  mismatches: number;
  evictions: number;
  hostEvictions: number;
  appendsSkipped: number;
}

export class ReferenceKvStore {
  readonly entries = new Map<string, Entry>();
  readonly counters: RefCounters = { hits: 0, misses: 0, hostHits: 0, tokensReused: 0, tokensComputed: 0, mismatches: 0, evictions: 0, hostEvictions: 0, appendsSkipped: 0 };
  #clock = 1;

  constructor(
    readonly pageTokens: number,
    /** Pages of each tier: [native, host]. */
    readonly capacity: [number, number],
    readonly dtypes: [KvPageDType, KvPageDType],
  ) {}

  #pages(tokens: number): number {
    return Math.ceil(tokens / this.pageTokens);
  }

  /** Pages in use per tier. */
  used(tier: 0 | 1): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.tier === tier) n += this.#pages(e.tokens.length);
    return n;
  }

  count(tier: 0 | 1): number {
    return [...this.entries.values()].filter((e) => e.tier === tier).length;
  }

  #key(version: bigint, user: bigint): string {
    return `${version}:${user}`;
  }

  #makeRoom(tier: 0 | 1, n: number, exclude: Entry | null): boolean {
    while (this.capacity[tier] - this.used(tier) < n) {
      let victim: Entry | null = null;
      for (const e of this.entries.values()) if (e.tier === tier && e !== exclude && (!victim || e.stamp < victim.stamp)) victim = e;
      if (!victim) return false;
      this.#evict(victim, exclude);
    }
    return true;
  }

  #evict(e: Entry, exclude: Entry | null): void {
    if (e.tier === 1) {
      this.counters.hostEvictions++;
      this.entries.delete(this.#key(e.version, e.user));
      return;
    }
    this.counters.evictions++;
    const pages = this.#pages(e.tokens.length);
    if (this.capacity[1] > 0 && pages <= this.capacity[1] && this.#makeRoom(1, pages, exclude)) this.#move(e, 1);
    else this.entries.delete(this.#key(e.version, e.user));
  }

  #move(e: Entry, tier: 0 | 1): void {
    e.tier = tier;
    e.tol += tierError(this.dtypes[tier]);
  }

  #promote(e: Entry): boolean {
    const pages = this.#pages(e.tokens.length);
    if (pages > this.capacity[0] || !this.#makeRoom(0, pages, e)) return false;
    this.#move(e, 0);
    return true;
  }

  /** One user of a lookup: the cached tokens (empty on a miss) and their error bound. */
  lookup(version: bigint, user: bigint, histFp: readonly bigint[]): { tokens: TokenKv[]; tol: number } {
    const e = this.entries.get(this.#key(version, user));
    if (!e) {
      this.counters.misses++;
      return { tokens: [], tol: 0 };
    }
    const len = e.tokens.length;
    if (len > histFp.length || histFp[len - 1] !== e.fp) {
      this.counters.mismatches++;
      this.counters.misses++;
      this.entries.delete(this.#key(version, user));
      return { tokens: [], tol: 0 };
    }
    const host = e.tier === 1;
    const out = { tokens: e.tokens.slice(), tol: e.tol };
    if (host) this.#promote(e);
    e.stamp = this.#clock++;
    this.counters.hits++;
    this.counters.tokensReused += len;
    if (host) this.counters.hostHits++;
    return out;
  }

  /** One append item; true when stored. */
  append(version: bigint, user: bigint, start: number, prefixFp: bigint, fp: bigint, tokens: TokenKv[]): boolean {
    this.counters.tokensComputed += tokens.length;
    const key = this.#key(version, user);
    const total = this.#pages(start + tokens.length);
    const skip = () => {
      this.counters.appendsSkipped++;
      return false;
    };
    let e = this.entries.get(key);
    if (start === 0) {
      if (e) this.entries.delete(key);
      if (total > this.capacity[0] || !this.#makeRoom(0, total, null)) return skip();
      e = { version, user, tier: 0, fp, tokens: tokens.map(copyToken), stamp: this.#clock++, tol: tierError(this.dtypes[0]) };
      this.entries.set(key, e);
      return true;
    }
    if (!e || e.tokens.length !== start || e.fp !== prefixFp || total > this.capacity[0]) return skip();
    if (e.tier === 1 && !this.#promote(e)) return skip();
    if (!this.#makeRoom(0, total - this.#pages(start), e)) return skip();
    e.tokens.push(...tokens.map(copyToken));
    e.fp = fp;
    e.stamp = this.#clock++;
    return true;
  }

  erase(version: bigint, user: bigint): void {
    this.entries.delete(this.#key(version, user));
  }

  eraseVersion(version: bigint): void {
    for (const [k, e] of this.entries) if (e.version === version) this.entries.delete(k);
  }
}

function copyToken(t: TokenKv): TokenKv {
  return { k: t.k.slice(), v: t.v.slice() };
}
