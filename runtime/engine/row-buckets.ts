// The batch sizes an executor plans for: candidate rows in power-of-two buckets
// from 16 up to maxBatch, and per candidate bucket a few context-row buckets.
// Executor.plan rounds a batch up to these; warm-up (Model.warm) and the
// parallel planner (`parallel: "auto"`) walk the same buckets.

/** The candidate-row capacity a batch of `rows` rows is planned at. */
export function rowCapacity(rows: number, maxBatch: number): number {
  return Math.min(Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, rows)))), Math.max(16, maxBatch));
}

/** One batch size per bucket up to `limit` rows: 16, 32, … and `limit` itself last. */
export function rowBuckets(limit: number): number[] {
  const out: number[] = [];
  for (let cap = 16; ; cap *= 2) {
    out.push(Math.min(cap, limit));
    if (cap >= limit) break;
  }
  return out;
}

/** Every candidate-row capacity an executor of `maxBatch` rows plans. */
export function rowCapacities(maxBatch: number): number[] {
  return [...new Set(rowBuckets(maxBatch).map((rows) => rowCapacity(rows, maxBatch)))];
}

/** The context-row capacities planned for a candidate capacity: up to 8 requests, up to 64, or one per row. */
export function contextBuckets(capacity: number): number[] {
  return [...new Set([Math.min(8, capacity), Math.min(64, capacity), capacity])];
}
