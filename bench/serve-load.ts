// Load generators for `bench serve`: an open-loop sweep step (request i is sent at
// start + i/rate whatever the responses do, latency measured from that scheduled
// time, so no coordinated omission) over a pool that may hold malformed requests
// (counted apart: the figures are the valid requests'), and a closed-loop probe of
// one request at a time (what a model costs alone, to set beside its SLO).
import { MSGPACK } from "../runtime/server/wire";

/** One request body of the pool; `malformed` ones are expected to get a 4xx. */
export interface PoolEntry {
  body: Uint8Array;
  rows: number;
  malformed?: string;
}

/** What one open-loop step measured, over the valid requests (malformed ones only in the last three fields). */
export interface StepResult {
  /** Valid requests answered 200, per second. */
  achieved: number;
  /** Their rows per second. */
  rowsPerS: number;
  /** Of them, answered within goodMs (the client's deadline: goodput), per second. */
  goodPerS: number;
  p50: number;
  p99: number;
  p999: number;
  /** Valid requests answered 503 (shed or queue full), 504, and anything else. */
  rejected: number;
  /** Of `rejected`, those shed by admission control (503 "overloaded", not "queue_full"). */
  overloaded: number;
  expired: number;
  errors: number;
  /** Valid requests answered 200 / valid requests sent. */
  validOk: number;
  /** Requests actually sent per second (the client may fall behind the schedule). */
  sentPerS: number;
  malformedSent: number;
  /** Malformed requests answered 4xx, as they should be. */
  malformed4xx: number;
}

/** Send `rate` req/s for `seconds` from `pool` (cycled) to the model's rank endpoint. */
export async function sweep(url: string, pool: PoolEntry[], rate: number, seconds: number, goodMs = Infinity): Promise<StepResult> {
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  let rows = 0;
  let good = 0;
  let rejected = 0;
  let overloaded = 0;
  let expired = 0;
  let errors = 0;
  let validSent = 0;
  let malformedSent = 0;
  let malformed4xx = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    const req = pool[i % pool.length]!;
    if (req.malformed) malformedSent++;
    else validSent++;
    inflight.push(
      fetch(`${url}/v1/models/dlrm/rank`, { method: "POST", body: req.body, headers: { "Content-Type": MSGPACK, Accept: MSGPACK } })
        .then(async (res) => {
          const body = await res.arrayBuffer();
          if (req.malformed) {
            if (res.status >= 400 && res.status < 500) malformed4xx++;
            return;
          }
          if (res.status === 503) {
            rejected++;
            if (new TextDecoder().decode(body).includes('"overloaded"')) overloaded++;
          } else if (res.status === 504) expired++;
          else if (!res.ok) errors++;
          else {
            const latency = performance.now() - at;
            latencies.push(latency);
            if (latency <= goodMs) good++;
            rows += req.rows;
          }
        })
        .catch(() => void (req.malformed ? undefined : errors++)),
    );
  }
  const sentFor = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    achieved: latencies.length / elapsed,
    rowsPerS: rows / elapsed,
    goodPerS: good / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    p999: q(0.999),
    rejected,
    overloaded,
    expired,
    errors,
    validOk: validSent > 0 ? latencies.length / validSent : NaN,
    sentPerS: total > 1 ? (total - 1) / Math.max(sentFor, 1e-3) : rate,
    malformedSent,
    malformed4xx,
  };
}

/** Latency of one request at a time (closed loop, `count` after a few unmeasured): p50 and p99, ms. */
export async function singleRequestLatency(url: string, pool: PoolEntry[], count: number): Promise<{ p50: number; p99: number }> {
  const send = async (req: PoolEntry) => {
    const res = await fetch(`${url}/v1/models/dlrm/rank`, { method: "POST", body: req.body, headers: { "Content-Type": MSGPACK, Accept: MSGPACK } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`single-request probe: status ${res.status}`);
  };
  const valid = pool.filter((r) => !r.malformed);
  for (let i = 0; i < 5; i++) await send(valid[i % valid.length]!);
  const t: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await send(valid[i % valid.length]!);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(t.length / 2)]!, p99: t[Math.min(t.length - 1, Math.floor(0.99 * t.length))]! };
}
