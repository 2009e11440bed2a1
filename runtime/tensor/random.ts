// Deterministic pseudo-random data for generated models, tests and benchmarks:
// the same seed gives the same numbers on every machine.

/** A seeded generator (xorshift128+ over two 32-bit halves, mixed by splitmix). */
export class Rng {
  #a: number;
  #b: number;

  constructor(seed: number) {
    let s = (seed >>> 0) ^ 0x9e3779b9;
    const mix = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
      return (t ^ (t >>> 14)) >>> 0;
    };
    this.#a = mix() | 1;
    this.#b = mix();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    let a = this.#a;
    const b = this.#b;
    this.#a = b;
    a ^= a << 23;
    a ^= a >>> 17;
    a ^= b ^ (b >>> 26);
    this.#b = a;
    return (this.#b + b) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = -1, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A Float32Array of n uniform values in [lo, hi). */
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

/**
 * Zipf-distributed integers in [0, n) with exponent s (rank 0 hottest), by
 * inverting the continuous approximation of the CDF: O(1) per sample, any n.
 */
export class Zipf {
  readonly #n: number;
  readonly #s: number;

  constructor(n: number, s = 1.05) {
    this.#n = n;
    this.#s = s;
  }

  sample(rng: Rng): number {
    const n = this.#n;
    const s = this.#s;
    const u = rng.next();
    let x: number;
    if (Math.abs(s - 1) < 1e-9) {
      x = Math.exp(u * Math.log(n + 1)) - 1;
    } else {
      const h = (v: number) => (Math.pow(v + 1, 1 - s) - 1) / (1 - s);
      x = Math.pow(u * h(n) * (1 - s) + 1, 1 / (1 - s)) - 1;
    }
    return Math.min(n - 1, Math.max(0, Math.floor(x)));
  }
}
