// How sequence parallelism splits one long history over S devices: contiguous
// kv shards (candidate-to-history attention, merged afterwards), contiguous row
// slices (the GEMMs), and zig-zag query blocks for causal self-attention —
// 2S blocks, block i and block 2S-1-i to device i, so every device gets the
// same share of the causal triangle and each query row is computed whole by
// one device (no merge).

/** A half-open range [start, end). */
export interface Span {
  start: number;
  end: number;
}

/** `n` split into `parts` contiguous spans as equal as rounding allows (some empty when parts > n). */
export function contiguousSpans(n: number, parts: number): Span[] {
  return Array.from({ length: parts }, (_, i) => ({ start: Math.floor((i * n) / parts), end: Math.floor(((i + 1) * n) / parts) }));
}

/**
 * Causal query blocks of `n` rows for `devices` devices: device i gets blocks i and 2S-1-i of
 * 2S equal blocks (a block of rows [a, b) costs ~ b² - a², so the pair sums to the same for every i).
 */
export function zigzagBlocks(n: number, devices: number): Span[][] {
  const blocks = contiguousSpans(n, 2 * devices);
  return Array.from({ length: devices }, (_, i) => [blocks[i]!, blocks[2 * devices - 1 - i]!].filter((b) => b.end > b.start));
}

/** Causal work (visible (query, key) pairs) of the query rows in `spans`, for load reports and tests. */
export function causalWork(spans: readonly Span[]): number {
  return spans.reduce((acc, s) => acc + (s.end * (s.end + 1) - s.start * (s.start + 1)) / 2, 0);
}
