// A plain TypeScript model of the native hot-row cache (the oracle of its
// property test): the same set mapping (splitmix64, multiply-high) and the
// same LRU-within-a-set rule, written as obviously as possible.
const M64 = (1n << 64n) - 1n;

function mix(id: number): bigint {
  let x = (BigInt(id) + 0x9e3779b97f4a7c15n) & M64;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M64;
  return x ^ (x >> 31n);
}

export class ReferenceLru {
  readonly sets: number;
  /** Per set: keys from least to most recently used. */
  readonly #sets: number[][];
  readonly #rows = new Map<number, Float32Array>();
  hits = 0;
  misses = 0;
  insertions = 0;
  evictions = 0;
  updates = 0;

  constructor(readonly dim: number, budgetBytes: number, readonly ways: number) {
    this.sets = Math.floor(budgetBytes / (Math.ceil((8 + 12 * ways) / 64) * 64 + ways * dim * 4));
    this.#sets = Array.from({ length: this.sets }, () => []);
  }

  setOf(id: number): number {
    return Number((mix(id) * BigInt(this.sets)) >> 64n);
  }

  /** Rows of the hits (null for a miss). */
  lookup(ids: number[]): (Float32Array | null)[] {
    return ids.map((id) => {
      const set = this.#sets[this.setOf(id)]!;
      const at = set.indexOf(id);
      if (at < 0) {
        this.misses++;
        return null;
      }
      set.splice(at, 1);
      set.push(id);
      this.hits++;
      return this.#rows.get(id)!;
    });
  }

  insert(ids: number[], rows: Float32Array[], updateOnly = false): void {
    ids.forEach((id, i) => {
      const set = this.#sets[this.setOf(id)]!;
      const at = set.indexOf(id);
      if (at >= 0) {
        set.splice(at, 1);
        this.updates++;
      } else {
        if (updateOnly) return;
        if (set.length === this.ways) {
          this.#rows.delete(set.shift()!);
          this.evictions++;
        }
        this.insertions++;
      }
      set.push(id);
      this.#rows.set(id, rows[i]!);
    });
  }

  erase(ids: number[]): void {
    for (const id of ids) {
      const set = this.#sets[this.setOf(id)]!;
      const at = set.indexOf(id);
      if (at >= 0) {
        set.splice(at, 1);
        this.#rows.delete(id);
      }
    }
  }

  get size(): number {
    return this.#rows.size;
  }
}
