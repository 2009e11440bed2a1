// Several threads (Bun Workers, each dlopen-ing the library) calling kernels at
// the same time as the main thread get the same results as a lone caller.
import { expect, test } from "bun:test";
import { computeWorkload } from "./fixtures/workload";

test("concurrent callers from three threads get correct, uncorrupted results", async () => {
  const alone = computeWorkload();
  const workers = [0, 1].map(() => new Worker(new URL("./fixtures/concurrent-worker.ts", import.meta.url)));
  const results = workers.map(
    (worker) =>
      new Promise<{ first: Float32Array; worst: number }>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage({ iterations: 40 });
      }),
  );
  // The main thread competes for the pool meanwhile.
  let mainWorst = 0;
  for (let i = 0; i < 40; i++) {
    const again = computeWorkload();
    for (let j = 0; j < again.length; j++) mainWorst = Math.max(mainWorst, Math.abs(again[j]! - alone[j]!));
  }
  const done = await Promise.all(results);
  for (const w of workers) w.terminate();
  const scale = Math.max(...alone.map(Math.abs));
  expect(mainWorst / scale).toBeLessThan(1e-6);
  for (const r of done) {
    expect(r.worst / scale).toBeLessThan(1e-6);
    let diff = 0;
    for (let j = 0; j < alone.length; j++) diff = Math.max(diff, Math.abs(r.first[j]! - alone[j]!));
    expect(diff / scale).toBeLessThan(1e-6);
  }
});
