// Zipf(α) id streams for the embedding benchmark: ids 0..n-1 with P(rank k) ∝ k^-α
// (continuous inversion, exact enough for cache studies), scattered over the
// table by a fixed bijection so hot ids are not neighbours.
import { Rng } from "../runtime/tensor/random";

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class Zipf {
  readonly #rng: Rng;
  readonly #mult: number;
  readonly #tail: number;

  constructor(readonly n: number, readonly alpha: number, seed = 1) {
    if (alpha <= 1) throw new Error("Zipf: this sampler needs alpha > 1");
    this.#rng = new Rng(seed);
    let m = 2654435761 % n || 1;
    while (gcd(m, n) !== 1) m++;
    this.#mult = m;
    this.#tail = 1 - (n + 1) ** (1 - alpha);
  }

  /** Popularity rank (0 = hottest) of the next draw. */
  rank(): number {
    const u = this.#rng.next();
    const x = (1 - u * this.#tail) ** (1 / (1 - this.alpha));
    return Math.min(this.n - 1, Math.floor(x) - 1);
  }

  /** The row id of popularity rank `r` (exact double arithmetic while n * mult < 2^53). */
  idOf(r: number): number {
    if (this.n * this.#mult < 2 ** 53) return (r * this.#mult) % this.n;
    return Number((BigInt(r) * BigInt(this.#mult)) % BigInt(this.n));
  }

  /** The next id. */
  next(): number {
    return this.idOf(this.rank());
  }

  /** `count` ids. */
  ids(count: number): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}
