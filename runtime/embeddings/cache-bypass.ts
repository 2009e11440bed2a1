// Per table: does the hot-row cache pay for itself? A cache costs its probe on
// every batch and its admission work (sketch counts, selection, inserts) after
// it; it saves the Redis fetch and decode of every row it serves. On a table
// whose working set it cannot hold (a long Zipf tail, a 1% budget) the cost
// wins, and the cache makes the tier slower than no cache. So each table keeps
// moving averages of both, measured on the batches that use the cache — the
// saving as hits × the tier's measured cost per fetched row — and bypasses its
// cache (no probe, no counting, no inserts) while the cost exceeds the saving,
// re-probing every `reprobeEvery` batches with the full cached path, which also
// keeps the cache's contents fresh for the day it pays again.

/** Smoothing of the per-batch averages (weight of the newest batch). */
const ALPHA = 0.25;
/**
 * A new cache is judged only once warm: after at least MIN_WARMUP batches, and once half its rows
 * were inserted or MAX_WARMUP batches ran (a cold cache would be judged on hits it cannot have yet).
 */
const MIN_WARMUP = 8;
const MAX_WARMUP = 64;
/** Back on only once the saving clearly beats the cost (no flapping on noise). */
const RESUME_MARGIN = 1.25;

export interface CacheBypassStats {
  /** The cache is bypassed now. */
  bypassed: boolean;
  /** Batches that used the cache, and those that skipped it. */
  cachedBatches: number;
  bypassedBatches: number;
  /** Moving averages per cached batch: ms the cache cost, ms it saved. */
  costMs: number;
  savedMs: number;
}

export class CacheBypass {
  #cost = 0;
  #saved = 0;
  #sampled = 0;
  #bypassed = false;
  #sinceProbe = 0;
  #cachedBatches = 0;
  #bypassedBatches = 0;
  // The batch being measured: its cost arrives in two parts (probe now, admission after the batch).
  #pendingCost = 0;
  #pendingSaved = 0;
  #pending = false;

  #inserted = 0;

  constructor(
    readonly capacityRows: number,
    readonly reprobeEvery = 16,
    readonly enabled = true,
  ) {}

  /** Rows the cache took in (it warms up). */
  inserted(rows: number): void {
    this.#inserted += rows;
  }

  /** Whether the cache is bypassed now (read only: no batch is counted). */
  get bypassed(): boolean {
    return this.#bypassed;
  }

  /** Should this batch use the cache? (Folds in the previous cached batch's measurements first.) */
  use(): boolean {
    this.#settle();
    if (!this.#bypassed) return this.#cached();
    if (++this.#sinceProbe >= this.reprobeEvery) {
      this.#sinceProbe = 0;
      return this.#cached();
    }
    this.#bypassedBatches++;
    return false;
  }

  /** Time the cache cost the batch that is being measured (probe, admission, inserts). */
  charge(ms: number): void {
    if (this.#pending) this.#pendingCost += ms;
  }

  /** The batch being measured got `hits` rows from the cache, each saving `msPerRow` of fetch and decode. */
  credit(hits: number, msPerRow: number): void {
    if (this.#pending) this.#pendingSaved += hits * msPerRow;
  }

  stats(): CacheBypassStats {
    this.#settle();
    return { bypassed: this.#bypassed, cachedBatches: this.#cachedBatches, bypassedBatches: this.#bypassedBatches, costMs: this.#cost, savedMs: this.#saved };
  }

  #cached(): boolean {
    this.#cachedBatches++;
    this.#pending = true;
    return true;
  }

  #settle(): void {
    if (!this.#pending) return;
    this.#pending = false;
    const first = this.#sampled++ === 0;
    this.#cost = first ? this.#pendingCost : this.#cost + ALPHA * (this.#pendingCost - this.#cost);
    this.#saved = first ? this.#pendingSaved : this.#saved + ALPHA * (this.#pendingSaved - this.#saved);
    this.#pendingCost = 0;
    this.#pendingSaved = 0;
    const warm = this.#sampled >= MIN_WARMUP && (2 * this.#inserted >= this.capacityRows || this.#sampled >= MAX_WARMUP);
    if (!this.enabled || !warm) return;
    if (!this.#bypassed && this.#cost > this.#saved) {
      this.#bypassed = true;
      this.#sinceProbe = 0;
    } else if (this.#bypassed && this.#saved > RESUME_MARGIN * this.#cost) this.#bypassed = false;
  }
}
