// Admission control under load: a contract every coalescing policy runs. Simulated
// traffic on a virtual clock (virtual-time.ts, injected as CoalescerOptions.now and
// .schedule) against an execute whose batches cost a known 2 ms + 0.05 ms per row
// (±10% seeded jitter), so goodput and rejection counts are exact and never depend on
// the machine. Capacity is measured, not assumed: the same model with an endless queue
// and no shedding. Then offered loads below, at and at 2× that capacity, slow first
// batches and a long slowdown (the estimate must recover once batches are fast again),
// an adaptive SLO that only an idle server could hold, and adaptive against off at
// loads off serves within the SLO.
import { beforeAll, describe, expect, test } from "bun:test";
import { Coalescer, type CoalescingPolicy } from "../../runtime/serving/coalescer";
import { Rng } from "../../runtime/tensor/random";
import { VirtualTime } from "./virtual-time";

const OVERHEAD_MS = 2;
const PER_ROW_MS = 0.05;
const DEADLINE_MS = 40;
const SLO_MS = 20;
/** Arrivals run this long; goodput counts what finishes in [WARM_UP_MS, DURATION_MS]. */
const DURATION_MS = 800;
const WARM_UP_MS = 100;
/**
 * Most of the admitted that may still finish late (or expire): under overload every admitted
 * request sits at the edge of its budget, and the estimate's margin is two standard deviations
 * (~2.3% one-sided), so a bound well under 5% would be noise on a few hundred requests.
 */
const LATE_SHARE = 0.05;

interface Req {
  rows: number;
}
/** How long a batch of `rows` takes; `startedAt` lets a scenario make some batches slow. */
type Cost = (rows: number, startedAt: number, jitter: number) => number;
const normalCost: Cost = (rows, _at, jitter) => (OVERHEAD_MS + PER_ROW_MS * rows) * jitter;

/** Counts over the requests sent in [from, to) (the warm-up excluded: nothing is predicted before 8 batches). */
interface LoadRun {
  offered: number;
  /** Finished within the policy's budget (adaptive: the SLO; off and static: the deadline). */
  good: number;
  /** Of those, finished within the measuring window, per ms of it. */
  goodputPerMs: number;
  /** Admitted, executed, finished after the budget. */
  late: number;
  shed: number;
  queueFull: number;
  expired: number;
  /** p99 latency of what finished, ms. */
  p99: number;
}

/** What a policy promises an admitted request: adaptive its SLO, the others the deadline. */
const budgetOf = (policy: CoalescingPolicy) => (policy === "adaptive" ? SLO_MS : DEADLINE_MS);

/**
 * Offer Poisson traffic of 1–4-row requests at `ratePerMs` for `duration` ms and let it drain.
 * `shed: false` with an endless deadline measures capacity. Goodput counts what finishes in [from, to].
 */
async function simulate(policy: CoalescingPolicy, ratePerMs: number, { cost = normalCost, shed = true, seed = 1, from = WARM_UP_MS, to = DURATION_MS, duration = DURATION_MS, slo = SLO_MS, goodWithin = budgetOf(policy) } = {}): Promise<LoadRun> {
  const time = new VirtualTime();
  const rng = new Rng(seed);
  const execute = (requests: Req[]) =>
    new Promise<Req[]>((resolve) => {
      const rows = requests.reduce((a, r) => a + r.rows, 0);
      time.schedule(() => resolve(requests), cost(rows, time.now(), 0.9 + 0.2 * rng.next()));
    });
  const coalescer = new Coalescer<Req, Req>(execute, {
    policy,
    maxBatchRows: 32,
    maxQueueDelayUs: 1000,
    maxQueueRows: 1 << 20, // shedLate, not the queue bound, is under test
    defaultDeadlineMs: shed ? DEADLINE_MS : 1e9,
    sloP99Ms: slo,
    shedLate: shed,
    now: time.now,
    schedule: time.schedule,
  });
  const budget = shed ? goodWithin : Infinity;
  const run: LoadRun = { offered: 0, good: 0, goodputPerMs: 0, late: 0, shed: 0, queueFull: 0, expired: 0, p99: 0 };
  const latencies: number[] = [];
  let inWindow = 0;
  for (let at = -Math.log(1 - rng.next()) / ratePerMs; at < duration; at += -Math.log(1 - rng.next()) / ratePerMs) {
    const rows = 1 + rng.int(4);
    const counted = at >= from && at < to;
    if (counted) run.offered++;
    time.schedule(() => {
      const sent = time.now();
      coalescer.submit({ rows }, { rows }).then(
        () => {
          const done = time.now();
          const good = done - sent <= budget;
          if (good && done >= from && done <= to) inWindow++;
          if (!counted) return;
          latencies.push(done - sent);
          if (good) run.good++;
          else run.late++;
        },
        (error: { code?: string }) => {
          if (!counted) return;
          if (error.code === "overloaded") run.shed++;
          else if (error.code === "queue_full") run.queueFull++;
          else if (error.code === "deadline_exceeded") run.expired++;
          else throw error;
        },
      );
    }, at);
  }
  await time.runUntil(Infinity);
  await coalescer.close();
  latencies.sort((a, b) => a - b);
  run.p99 = latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))] ?? 0;
  run.goodputPerMs = inWindow / (to - from);
  return run;
}

/** Requests per ms a policy completes when its queue never runs dry (3× a generous guess at the offered load). */
async function capacityOf(policy: CoalescingPolicy): Promise<number> {
  const guess = policy === "off" ? 1 / (OVERHEAD_MS + PER_ROW_MS * 2.5) : 32 / (OVERHEAD_MS + PER_ROW_MS * 32) / 2.5;
  const run = await simulate(policy, 3 * guess, { shed: false });
  return run.goodputPerMs;
}

describe.each(["off", "static", "adaptive"] as const)("coalescer load contract: %s", (policy) => {
  let capacity = 0;
  beforeAll(async () => void (capacity = await capacityOf(policy)));

  test("capacity: with an endless queue the model stays busy", () => {
    // off runs one request per batch; static and adaptive fill 32-row batches under a backlog
    const perBatch = policy === "off" ? 1 / (OVERHEAD_MS + PER_ROW_MS * 2.5) : 32 / (OVERHEAD_MS + PER_ROW_MS * 32) / 2.5;
    expect(capacity).toBeGreaterThan(0.85 * perBatch);
    expect(capacity).toBeLessThan(1.1 * perBatch);
  });

  test("below saturation (0.5×) nothing is shed and every request finishes within its budget", async () => {
    const run = await simulate(policy, 0.5 * capacity);
    expect(run).toMatchObject({ shed: 0, queueFull: 0, expired: 0, late: 0, good: run.offered });
    expect(run.p99).toBeLessThanOrEqual(budgetOf(policy));
  });

  test("at saturation (1×) goodput is ≥ 90% of capacity and only the excess is shed", async () => {
    const run = await simulate(policy, capacity);
    expect(run.goodputPerMs).toBeGreaterThanOrEqual(0.9 * capacity);
    expect(run.shed).toBeLessThanOrEqual(0.1 * run.offered);
    expect(run.late + run.expired).toBeLessThanOrEqual(LATE_SHARE * run.offered);
  });

  test("at 2× saturation goodput stays ≥ 90% of capacity, admitted requests finish in time, and the shed are the excess", async () => {
    const run = await simulate(policy, 2 * capacity);
    expect(run.goodputPerMs).toBeGreaterThanOrEqual(0.9 * capacity);
    const admitted = run.offered - run.shed;
    expect(run.late + run.expired).toBeLessThanOrEqual(LATE_SHARE * admitted);
    // The excess over capacity is about half the offered load; shedding much more would waste capacity.
    expect(run.shed).toBeGreaterThanOrEqual(0.4 * run.offered);
    const window = DURATION_MS - WARM_UP_MS;
    expect(run.shed).toBeLessThanOrEqual(run.offered - 0.9 * capacity * window);
    expect(run.good).toBeGreaterThanOrEqual(0.9 * capacity * window);
  });

  test("first batches that are slow (building plans) do not leave it shedding", async () => {
    let batches = 0;
    const warmUp: Cost = (rows, at, jitter) => (batches++ < 8 ? 30 : normalCost(rows, at, jitter)); // 30 ms: past the SLO
    const run = await simulate(policy, 1.5 * capacity, { cost: warmUp, from: 400 });
    expect(run.goodputPerMs).toBeGreaterThanOrEqual(0.9 * capacity);
    expect(run.late + run.expired).toBeLessThanOrEqual(LATE_SHARE * (run.offered - run.shed));
  });

  test("after a slowdown long enough to fill the estimate with slow batches, goodput recovers (no death spiral)", async () => {
    // 2× slower from 100 to 600 ms: the fit learns it, so when batches get fast again it overestimates their cost 2×.
    const slowdown: Cost = (rows, at, jitter) => normalCost(rows, at, jitter) * (at >= 100 && at < 600 ? 2 : 1);
    const slow = await simulate(policy, 2 * capacity, { cost: slowdown, from: 400, to: 600, duration: 1200 });
    expect(slow.goodputPerMs).toBeGreaterThanOrEqual(0.9 * (capacity / 2)); // still serves what the slow model can
    const after = await simulate(policy, 2 * capacity, { cost: slowdown, from: 800, to: 1200, duration: 1200 });
    expect(after.goodputPerMs).toBeGreaterThanOrEqual(0.9 * capacity);
    expect(after.late + after.expired).toBeLessThanOrEqual(LATE_SHARE * (after.offered - after.shed));
  });
});

test("adaptive with an SLO that only an idle server can meet holds the deadline instead of collapsing to one request per batch", async () => {
  const capacity = await capacityOf("adaptive");
  // Under this load every batch is full (3.6 ms): a 4.5 ms SLO is met only by a request that finds the server about to start one.
  const run = await simulate("adaptive", 2 * capacity, { slo: 4.5, goodWithin: DEADLINE_MS });
  expect(run.goodputPerMs).toBeGreaterThanOrEqual(0.9 * capacity); // good: within the 40 ms deadline
  expect(run.late + run.expired).toBeLessThanOrEqual(LATE_SHARE * (run.offered - run.shed));
});

test("adaptive never sheds at a load that off serves within the SLO", async () => {
  const offCapacity = await capacityOf("off");
  for (const load of [0.3, 0.5, 0.7]) {
    const off = await simulate("off", load * offCapacity, { seed: 7 });
    expect(off.p99).toBeLessThanOrEqual(SLO_MS); // the premise: off serves this load within the SLO
    const adaptive = await simulate("adaptive", load * offCapacity, { seed: 7 });
    expect(adaptive).toMatchObject({ shed: 0, queueFull: 0, expired: 0, good: adaptive.offered });
    expect(adaptive.p99).toBeLessThanOrEqual(off.p99);
  }
});
