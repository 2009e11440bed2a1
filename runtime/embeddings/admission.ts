// Admission to the hot-row cache (TinyLFU-style): a count-min sketch of how
// many recent batches used each id (4 rows of 4-bit-capped counters, halved
// every 10 × width additions so old popularity fades), and the rule that a
// missed row enters the cache only once its count reaches `threshold` — a
// row used by one batch (a scan of cold ids, a one-off user) never evicts the
// rows every batch uses. The admitted rows of a batch are queued and inserted
// after its scores are returned (AdmissionQueue), off the critical path.

const DEPTH = 4;
const CAP = 15;

export class FrequencySketch {
  readonly #width: number;
  readonly #mask: number;
  readonly #counts: Uint8Array;
  #additions = 0;
  readonly #resetAt: number;

  /** Sized for a cache of `capacityRows` rows (width: the next power of two ≥ 4 × capacity, at least 1024). */
  constructor(capacityRows: number) {
    this.#width = 1 << Math.max(10, Math.ceil(Math.log2(Math.max(1, 4 * capacityRows))));
    this.#mask = this.#width - 1;
    this.#counts = new Uint8Array(DEPTH * this.#width);
    this.#resetAt = 10 * this.#width;
  }

  /** Count one use of `id` (once per batch); returns its estimate after counting. */
  add(id: number): number {
    const h1 = hash1(id);
    const h2 = hash2(id) | 1;
    const c = this.#counts;
    let est = CAP;
    for (let d = 0; d < DEPTH; d++) {
      const at = d * this.#width + ((h1 + Math.imul(d, h2)) & this.#mask);
      const v = c[at]!;
      if (v < CAP) c[at] = v + 1;
      est = Math.min(est, Math.min(CAP, v + 1));
    }
    if (++this.#additions >= this.#resetAt) this.#age();
    return est;
  }

  /** add() for each of `ids` (one batch's distinct ids), each estimate into est[i]: the loop without per-call overhead. */
  addAll(ids: Int32Array, est: Uint8Array): void {
    const c = this.#counts;
    const w = this.#width;
    const mask = this.#mask;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // hash1 / hash2 of an id below 2^31 (its high word is 0), inlined.
      let h1 = Math.imul(id, 0x9e3779b1);
      h1 ^= h1 >>> 15;
      h1 = Math.imul(h1, 0x85ebca6b) >>> 0;
      let h2 = Math.imul(id + 0x7f4a7c15, 0xc2b2ae35);
      h2 ^= h2 >>> 13;
      h2 = (Math.imul(h2, 0x27d4eb2f) >>> 0) | 1;
      let e = CAP;
      for (let d = 0, base = 0; d < DEPTH; d++, base += w) {
        const at = base + ((h1 + Math.imul(d, h2)) & mask);
        const v = c[at]!;
        if (v < CAP) c[at] = v + 1;
        if (v + 1 < e) e = v + 1;
      }
      est[i] = e;
      if (++this.#additions >= this.#resetAt) this.#age();
    }
  }

  /** How many (recent) batches used `id`, at most 15; an overestimate only on collisions. */
  estimate(id: number): number {
    const h1 = hash1(id);
    const h2 = hash2(id) | 1;
    let est = CAP;
    for (let d = 0; d < DEPTH; d++) est = Math.min(est, this.#counts[d * this.#width + ((h1 + Math.imul(d, h2)) & this.#mask)]!);
    return est;
  }

  /** Halve every counter (TinyLFU's reset): popularity is recent popularity. */
  #age(): void {
    const c = this.#counts;
    for (let i = 0; i < c.length; i++) c[i] = c[i]! >> 1;
    this.#additions = 0;
  }
}

function hash1(id: number): number {
  const lo = id | 0;
  const hi = (id / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) >>> 0;
}

function hash2(id: number): number {
  const lo = id | 0;
  const hi = (id / 4294967296) | 0;
  let h = Math.imul(lo + 0x7f4a7c15, 0xc2b2ae35) ^ hi;
  h ^= h >>> 13;
  return Math.imul(h, 0x27d4eb2f) >>> 0;
}

/** Rows waiting to enter a hot cache: inserted after the batch that fetched them (or before the next lookup, whichever comes first). */
export class AdmissionQueue {
  #jobs: (() => void)[] = [];
  #scheduled = false;

  /** Queue an insert; it runs on the next macrotask (after the current batch has been scored). */
  push(job: () => void): void {
    this.#jobs.push(job);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Run every queued insert now (a lookup is about to read the cache). */
  flush(): void {
    this.#scheduled = false;
    if (this.#jobs.length === 0) return;
    const jobs = this.#jobs;
    this.#jobs = [];
    for (const job of jobs) job();
  }

  get size(): number {
    return this.#jobs.length;
  }
}
