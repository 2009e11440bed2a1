// Two Workers look up batches (copying K/V) from one native KV store while a
// third appends, restarts and erases entries, under budgets small enough that
// entries move to the host tier, get promoted back by the readers and are
// dropped. Every value a reader gets must be exactly the value appended for
// that user and position; counters must add up across threads.
import { expect, test } from "bun:test";
import { KvStore, kvBudgetForPages, kvPageBytes } from "../../runtime/ffi";
import { type WorkerJob, shape } from "./fixtures/kv-worker";

test("two reading Workers and a writing Worker see only whole, correct prefixes", async () => {
  const pageTokens = 8;
  const pb = kvPageBytes("f32", shape.layers, shape.heads, shape.headDim, pageTokens);
  using store = new KvStore({ ...shape, pageTokens, shards: 2, budgetBytes: kvBudgetForPages(pb, 24, 2), host: { dtype: "f32", budgetBytes: kvBudgetForPages(pb, 16, 2) } });
  const jobs: Omit<WorkerJob, "handle">[] = [
    { role: "read", users: 24, iterations: 300, seed: 1 },
    { role: "read", users: 24, iterations: 300, seed: 2 },
    { role: "write", users: 24, iterations: 3000, seed: 3 },
  ];
  const workers = jobs.map(() => new Worker(new URL("./fixtures/kv-worker.ts", import.meta.url)));
  const results = await Promise.all(
    workers.map(
      (w, i) =>
        new Promise<{ wrong: number; lookups: number; hits: number; stored: number }>((resolve, reject) => {
          w.onmessage = (e) => resolve(e.data);
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage({ ...jobs[i]!, handle: Number(store.handle) });
        }),
    ),
  );
  for (const w of workers) w.terminate();
  const s = store.stats();
  expect(results.map((r) => r.wrong)).toEqual([0, 0, 0]);
  expect(s.hits + s.misses).toBe(results.reduce((a, r) => a + r.lookups, 0));
  expect(s.hits).toBe(results.reduce((a, r) => a + r.hits, 0));
  expect(s.mismatches).toBe(0); // every history is consistent: nothing may look mismatched
  expect(results[0]!.hits + results[1]!.hits).toBeGreaterThan(0);
  expect(results[2]!.stored).toBeGreaterThan(100);
  expect(s.evictions).toBeGreaterThan(0);
  expect(s.hostHits).toBeGreaterThan(0);
  expect(s.bytesUsed).toBeLessThanOrEqual(s.pages * s.pageBytes);
});
