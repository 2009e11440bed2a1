// Timing helpers for benchmarks: warm up, then repeat until a time budget is
// spent; report median and percentiles of per-call times.

export interface Timing {
  /** Median seconds per call. */
  median: number;
  p99: number;
  calls: number;
}

/** Time `fn` (sync or async): `warmup` calls, then at least `minCalls` and `minSeconds`. */
export async function time(fn: () => unknown, { warmup = 3, minCalls = 5, minSeconds = 0.3, maxCalls = 100_000 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxCalls && (samples.length < minCalls || performance.now() - start < minSeconds * 1000)) {
    const t0 = performance.now();
    const r = fn();
    if (r instanceof Promise) await r;
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { median: at(0.5), p99: at(0.99), calls: samples.length };
}

/** Progress on stderr, so `--json` output on stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}
