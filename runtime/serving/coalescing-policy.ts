// Queue-delay policies of the request coalescer (coalescer.ts): how long the
// oldest queued request may wait for company before its batch runs.
//
//   off       delay 0, one request per batch: every request runs alone, at once.
//   static    delay = maxQueueDelayUs, always (what Triton's dynamic batcher does).
//   adaptive  delay = clamp(min(sloP99Ms − p99(exec), median(exec) / 4), 0, maxQueueDelayUs)
//             over the last 64 batch execution times: a request that waits the whole delay
//             and then lands in a p99-slow batch still finishes inside the SLO (slow batches
//             shrink the delay, down to 0 once execution alone uses the whole SLO), and it
//             never waits more than a quarter of a typical batch — while a batch runs the
//             next one fills by itself, so a longer wait when idle adds latency that the
//             bigger batch does not buy back (bench serve: on 1–4-row requests a 0.5 ms
//             delay held p99 where 4 ms did not). Before any batch has run: the bound.
//             Waiting only pays if company is likely: the gap between submits is tracked as
//             an EWMA, and when the next arrival is not expected before the delay ends the
//             batch runs now (a lone request under low load never waits).
//
// The delay cannot remove the wait behind a batch that is already running: under
// saturation the oldest request has waited longer than the delay by the time the
// running batch ends, so the next batch forms at once and the delay plays no part.
import { RankfnError } from "../errors";

/** How the coalescer batches: not at all, with a fixed delay, or with an SLO-tuned delay. */
export type CoalescingPolicy = "off" | "static" | "adaptive";

/** The part of a coalescer that a policy decides; the queue mechanics stay in the coalescer. */
export interface QueueDelayPolicy {
  readonly name: CoalescingPolicy;
  /** Most requests one batch may hold (1 for "off"). */
  readonly maxBatchRequests: number;
  /** How long (ms) the oldest queued request may currently wait for company. */
  delayMs(): number;
  /** Whether another request is expected to arrive by `time` (ms), i.e. whether waiting until then can help. */
  expectsArrivalBy(time: number): boolean;
  /** A request was accepted at `time` (ms). */
  recordArrival(time: number): void;
  /** A batch finished successfully after `ms` of execution. */
  recordExecution(ms: number): void;
}

/** What a policy needs from the coalescer's options. */
export interface QueueDelayPolicyOptions {
  policy: CoalescingPolicy;
  maxQueueDelayUs: number;
  sloP99Ms?: number;
}

/** How many recent batch execution times the adaptive policy looks at. */
export const EXECUTION_WINDOW = 64;
/** Weight of the newest gap in the adaptive policy's inter-arrival EWMA. */
const ARRIVAL_EWMA_ALPHA = 0.2;

/**
 * The policy named in `options`.
 * @example
 * const policy = createQueueDelayPolicy({ policy: "adaptive", maxQueueDelayUs: 2000, sloP99Ms: 20 });
 * policy.recordExecution(15);
 * policy.delayMs(); // 2: at most maxQueueDelayUs (20 − 15 would allow 5, a quarter batch 3.75)
 */
export function createQueueDelayPolicy(options: QueueDelayPolicyOptions): QueueDelayPolicy {
  const maxDelayMs = options.maxQueueDelayUs / 1000;
  switch (options.policy) {
    case "off":
      return new FixedDelay("off", 0, 1);
    case "static":
      return new FixedDelay("static", maxDelayMs, Infinity);
    case "adaptive":
      if (options.sloP99Ms === undefined) throw new RankfnError("coalescer: the adaptive policy needs sloP99Ms", "bad_config", 500);
      return new AdaptiveDelay(maxDelayMs, options.sloP99Ms);
  }
}

/** "off" and "static": a delay that never changes. */
class FixedDelay implements QueueDelayPolicy {
  constructor(
    readonly name: CoalescingPolicy,
    private readonly fixedDelayMs: number,
    readonly maxBatchRequests: number,
  ) {}
  delayMs(): number {
    return this.fixedDelayMs;
  }
  expectsArrivalBy(): boolean {
    return true;
  }
  recordArrival(): void {}
  recordExecution(): void {}
}

/** "adaptive": delay = clamp(min(slo − p99(exec), median(exec) / 4), 0, max), and no waiting when arrivals are sparse. */
class AdaptiveDelay implements QueueDelayPolicy {
  readonly name = "adaptive";
  readonly maxBatchRequests = Infinity;
  readonly #executions = new SampleWindow(EXECUTION_WINDOW);
  #delayMs: number;
  #lastArrival = -Infinity;
  #gapEwmaMs = Infinity;

  constructor(
    private readonly maxDelayMs: number,
    private readonly sloMs: number,
  ) {
    this.#delayMs = this.#tune();
  }

  delayMs(): number {
    return this.#delayMs;
  }

  expectsArrivalBy(time: number): boolean {
    return this.#lastArrival + this.#gapEwmaMs <= time;
  }

  recordArrival(time: number): void {
    if (this.#lastArrival > -Infinity) {
      const gap = Math.max(0, time - this.#lastArrival);
      this.#gapEwmaMs = this.#gapEwmaMs === Infinity ? gap : this.#gapEwmaMs + ARRIVAL_EWMA_ALPHA * (gap - this.#gapEwmaMs);
    }
    this.#lastArrival = time;
  }

  recordExecution(ms: number): void {
    this.#executions.push(ms);
    this.#delayMs = this.#tune();
  }

  #tune(): number {
    if (this.#executions.count === 0) return this.maxDelayMs;
    const sloMargin = this.sloMs - this.#executions.quantile(0.99);
    const quarterBatch = this.#executions.quantile(0.5) / 4;
    return Math.min(this.maxDelayMs, Math.max(0, Math.min(sloMargin, quarterBatch)));
  }
}

/** The last `capacity` samples, with nearest-rank quantiles. */
export class SampleWindow {
  readonly #samples: number[] = [];
  #next = 0;
  constructor(readonly capacity: number) {}

  get count(): number {
    return this.#samples.length;
  }

  push(value: number): void {
    if (this.#samples.length < this.capacity) this.#samples.push(value);
    else this.#samples[this.#next] = value;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Nearest-rank quantile (q in [0, 1]) of the window; 0 when empty. */
  quantile(q: number): number {
    if (this.#samples.length === 0) return 0;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  }

  mean(): number {
    return this.#samples.length === 0 ? 0 : this.#samples.reduce((a, b) => a + b, 0) / this.#samples.length;
  }
}
