// Deterministic pseudo-random data for generated models, tests and benchmarks:
// the same seed gives the same numbers on every machine.

/** A seeded generator: xoshiro128** (period 2^128 − 1) seeded through splitmix32. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    let x = (seed >>> 0) ^ 0x9e3779b9;
    const splitmix = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = splitmix();
    this.#s1 = splitmix();
    this.#s2 = splitmix();
    this.#s3 = splitmix() | 1; // never the all-zero state
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
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

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
