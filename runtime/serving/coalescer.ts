// Request coalescer: merges concurrent requests for one model into batches and
// hands each request back its own result. It knows nothing about models: the
// `execute` function takes a batch's requests and returns one result per request.
//
// One batch runs at a time. A batch forms when the queue holds maxBatchRows rows,
// or the oldest request has waited the policy's queue delay (coalescing-policy.ts),
// whichever first; it takes the highest priority first, then FIFO, and stops before
// exceeding maxBatchRows (a lone request larger than that still runs, alone).
// Around that: a bounded queue (503 queue_full + retryAfterMs), per-request deadlines
// (expired requests are dropped before execution: 504), cancellation through an
// AbortSignal (499, never executed), admission control (shedLate: 503 overloaded for
// what would finish too late, estimated in finish-estimate.ts), and close(), which
// drains what is queued. A batch fails as a whole only when execute throws; execute
// can fail one request alone by putting an Error in its slot.
import { RankfnError } from "../errors";
import { createQueueDelayPolicy, EXECUTION_WINDOW, SampleWindow, type CoalescingPolicy, type QueueDelayPolicy } from "./coalescing-policy";
import { FinishEstimator, type WorkAhead } from "./finish-estimate";
import { wakeAfter } from "./wake-after";

export type { CoalescingPolicy } from "./coalescing-policy";

/** How a Coalescer batches and bounds its queue. */
export interface CoalescerOptions {
  /** off: every request runs alone, at once; static: fixed delay; adaptive: delay tuned to sloP99Ms. */
  policy: CoalescingPolicy;
  /** A batch never exceeds this many rows (a single request larger than it still runs alone). */
  maxBatchRows: number;
  /** static: how long the oldest queued request may wait for company; adaptive: the tuned delay's upper bound. */
  maxQueueDelayUs: number;
  /** Rows that may wait (not counting the running batch); beyond it submit rejects with QueueFullError (503). */
  maxQueueRows: number;
  /** The server's default deadline; a request may only shorten it. */
  defaultDeadlineMs: number;
  /** adaptive (required there): target p99 of queue wait + execution. */
  sloP99Ms?: number;
  /**
   * Shed load early: reject at submit (503 "overloaded", with Retry-After) a request whose
   * predicted finish — what the running batch has left, then the batches that the rows queued
   * at or above its priority and its own form, at a cost of overhead + per-row time fitted to
   * recent batches (finish-estimate.ts) — falls after its deadline (adaptive: after sloP99Ms
   * when that is sooner, so admitted requests hold the SLO — unless the SLO is below 1.5 batches
   * of the request alone, which it could hold only by admitting what finds the server idle),
   * instead of queueing it to a 504.
   * A request with nothing running or queued ahead of it is never shed: it starts at once, so
   * shedding it frees nothing, and running it is what keeps the estimate current.
   * Needs 8 finished batches before it predicts anything. Default false.
   */
  shedLate?: boolean;
  /** Clock in ms (performance.now by default); injectable so tests are deterministic. */
  now?: () => number;
  /**
   * Run `fn` once `ms` have passed on the `now` clock; returns a cancel function. By default
   * setTimeout, with sub-millisecond waits re-checked on event-loop turns. Injected together
   * with `now`, a test drives time itself.
   */
  schedule?: (fn: () => void, ms: number) => () => void;
}

/** Per-request options of Coalescer.submit. */
export interface SubmitOptions {
  /** Rows (candidates) this request adds to a batch; an integer ≥ 1. */
  rows: number;
  /** Higher is batched first; 0 by default. */
  priority?: number;
  /** Deadline from submit time; only shortens CoalescerOptions.defaultDeadlineMs. */
  deadlineMs?: number;
  /** Aborting before the request's batch starts removes it (499) so it costs no compute. */
  signal?: AbortSignal;
}

/** Counts per fixed bucket: counts[i] holds values in (bounds[i-1], bounds[i]]; the last count is > the last bound. */
export interface Histogram {
  bounds: number[];
  counts: number[];
}

/** A snapshot of a coalescer's counters and distributions. */
export interface CoalescerStats {
  policy: CoalescingPolicy;
  /** Requests accepted into the queue (= executed + expired + cancelled + queueDepthRequests). */
  submitted: number;
  /** Requests passed to execute. */
  executed: number;
  /** Executed requests that failed: their whole batch (execute threw, or returned the wrong count), or alone. */
  failed: number;
  /** Of `failed`, those execute failed alone (an Error in their result slot) while their batch succeeded. */
  failedIndividually: number;
  batches: number;
  rejectedFull: number;
  /** Requests shed at submit because they were predicted to finish after their deadline (shedLate). */
  rejectedLate: number;
  expired: number;
  cancelled: number;
  queueDepthRows: number;
  queueDepthRequests: number;
  /** Requests per batch. */
  batchRequests: Histogram;
  /** Rows per batch. */
  batchRows: Histogram;
  /** Queue wait (submit → batch start) of the last 1024 executed requests. */
  queueWaitMs: { count: number; p50: number; p99: number };
  /** p99 of the last 64 batch execution times. */
  executionP99Ms: number;
  /** The queue delay in force now (fixed for off/static, tuned for adaptive). */
  queueDelayUs: number;
}

/** The queue is full: retry after `retryAfterMs` (the server turns it into a Retry-After header). */
export class QueueFullError extends RankfnError {
  override readonly name = "QueueFullError";
  constructor(
    message: string,
    /** Estimated time for the queued work to drain. */
    readonly retryAfterMs: number,
    code: "queue_full" | "overloaded" = "queue_full",
  ) {
    super(message, code, 503);
  }
}

const HISTOGRAM_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const WAIT_WINDOW = 1024;

interface Entry<Req, Res> {
  readonly request: Req;
  readonly rows: number;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly deadlineAt: number;
  readonly resolve: (result: Res) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
  cancelDeadline?: () => void;
}

/**
 * Batches concurrent requests for one `execute` function (one model).
 * @example
 * const coalescer = new Coalescer<Req, Scores>((reqs) => model.scoreMany(reqs), {
 *   policy: "adaptive", maxBatchRows: 512, maxQueueDelayUs: 2000, maxQueueRows: 8192, defaultDeadlineMs: 1000, sloP99Ms: 25,
 * });
 * const scores = await coalescer.submit(req, { rows: req.candidates, deadlineMs: 50, signal: c.req.raw.signal });
 */
export class Coalescer<Req, Res> {
  readonly #policy: QueueDelayPolicy;
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => () => void;
  /** Priority → FIFO of waiting entries; #priorities lists the keys, highest first. */
  readonly #buckets = new Map<number, Entry<Req, Res>[]>();
  #priorities: number[] = [];
  #queuedRows = 0;
  /** Queued rows and requests per priority (what a request of that priority or lower waits behind). */
  readonly #queuedByPriority = new Map<number, { rows: number; requests: number }>();
  #queuedRequests = 0;
  #running = false;
  #cancelDispatch: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  readonly #waits = new SampleWindow(WAIT_WINDOW);
  readonly #executions = new SampleWindow(EXECUTION_WINDOW);
  readonly #counts = { submitted: 0, executed: 0, failed: 0, failedIndividually: 0, batches: 0, rejectedFull: 0, rejectedLate: 0, expired: 0, cancelled: 0 };
  /** Batch cost learned from recent batches that ran (for shedLate). */
  readonly #estimator = new FinishEstimator();
  #runningSince = 0;
  #runningRows = 0;
  readonly #batchRequests = HISTOGRAM_BOUNDS.map(() => 0).concat(0);
  readonly #batchRows = HISTOGRAM_BOUNDS.map(() => 0).concat(0);

  private readonly options: CoalescerOptions;

  /**
   * @param execute Runs one batch: `requests` in batch order, `queueMs[i]` how long request i
   * waited, `budgetMs` the time left until the batch's earliest deadline (a cap for I/O it
   * waits on). It resolves with one slot per request, in the same order: a result, or an
   * `Error` instance (normally a RankfnError) when that request alone failed (a bad input
   * found while staging it, say) — the coalescer rejects only that request with it, resolves
   * the others, and counts it in stats().failedIndividually. Throwing (or resolving with the
   * wrong number of slots) fails every request of the batch. Either way the coalescer keeps
   * serving.
   */
  constructor(
    private readonly execute: (requests: Req[], queueMs: number[], budgetMs: number) => Promise<Array<Res | Error>>,
    options: CoalescerOptions,
  ) {
    checkOptions(options);
    this.options = { ...options }; // later edits to the caller's object change nothing
    this.#policy = createQueueDelayPolicy(options);
    const now = options.now ?? (() => performance.now());
    this.#now = now;
    this.#schedule = options.schedule ?? ((fn, ms) => wakeAfter(ms, now, fn));
  }

  /** Queue `request`; resolves with its own result, or rejects with a RankfnError (or execute's error). */
  submit(request: Req, options: SubmitOptions): Promise<Res> {
    const { rows, priority = 0, deadlineMs, signal } = options;
    if (!Number.isInteger(rows) || rows < 1) return Promise.reject(new RankfnError(`rows must be an integer ≥ 1, got ${rows}`, "bad_rows", 400));
    if (deadlineMs !== undefined && !(deadlineMs > 0)) return Promise.reject(new RankfnError(`deadline must be > 0 ms, got ${deadlineMs}`, "bad_deadline", 400));
    if (!Number.isFinite(priority)) return Promise.reject(new RankfnError(`priority must be a finite number, got ${priority}`, "bad_priority", 400));
    if (this.#closing) return Promise.reject(new RankfnError("the coalescer is closing", "closing", 503));
    if (rows > this.options.maxQueueRows) {
      return Promise.reject(new RankfnError(`request of ${rows} rows exceeds the queue bound of ${this.options.maxQueueRows}`, "request_too_large", 413));
    }
    if (signal?.aborted) {
      this.#counts.submitted++;
      this.#counts.cancelled++;
      return Promise.reject(cancelled());
    }
    if (this.#queuedRows + rows > this.options.maxQueueRows) {
      this.#counts.rejectedFull++;
      return Promise.reject(new QueueFullError(`queue full (${this.#queuedRows} of ${this.options.maxQueueRows} rows waiting)`, this.#retryAfterMs()));
    }
    const now = this.#now();
    const deadline = Math.min(this.options.defaultDeadlineMs, deadlineMs ?? Infinity);
    this.#estimator.recordArrival(now, rows);
    const late = this.options.shedLate ? this.#late(rows, priority, deadline, now) : undefined;
    if (late) {
      this.#counts.rejectedLate++;
      return Promise.reject(late);
    }
    let entry!: Entry<Req, Res>;
    const result = new Promise<Res>((resolve, reject) => {
      entry = { request, rows, priority, enqueuedAt: now, deadlineAt: now + deadline, resolve, reject, signal };
    });
    this.#counts.submitted++;
    this.#policy.recordArrival(now);
    // Nothing to wait for: the batch of this request alone starts now, without queueing it
    // (no deadline timer, no abort listener: it is past cancelling once it runs).
    if (this.#startsNow(entry, now)) void this.#run([entry], now);
    else {
      this.#enqueue(entry);
      this.#pump();
    }
    return result;
  }

  /** Would #pump start a batch of `entry` alone at once (nothing running or queued, and no reason to wait)? The same rule as #dueAt. */
  #startsNow(entry: Entry<Req, Res>, now: number): boolean {
    if (this.#running || this.#queuedRequests > 0 || this.#closing) return false;
    if (entry.rows >= this.options.maxBatchRows) return true;
    const at = now + this.#policy.delayMs();
    return at <= now || entry.deadlineAt <= at || !this.#policy.expectsArrivalBy(at);
  }

  /** Rows waiting to be batched (cheap; stats() copies every counter and histogram). */
  get queueDepthRows(): number {
    return this.#queuedRows;
  }

  /** Counters, queue depth, batch-size histograms, queue-wait quantiles and the current delay. */
  stats(): CoalescerStats {
    return {
      policy: this.options.policy,
      ...this.#counts,
      queueDepthRows: this.#queuedRows,
      queueDepthRequests: this.#queuedRequests,
      batchRequests: { bounds: [...HISTOGRAM_BOUNDS], counts: [...this.#batchRequests] },
      batchRows: { bounds: [...HISTOGRAM_BOUNDS], counts: [...this.#batchRows] },
      queueWaitMs: { count: this.#waits.count, p50: this.#waits.quantile(0.5), p99: this.#waits.quantile(0.99) },
      executionP99Ms: this.#executions.quantile(0.99),
      queueDelayUs: this.#policy.delayMs() * 1000,
    };
  }

  /** Stop accepting (503 "closing") and resolve once the queued and running work has finished. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = new Promise((resolve) => (this.#drained = resolve));
      this.#pump();
    }
    return this.#closing;
  }

  #enqueue(entry: Entry<Req, Res>): void {
    let bucket = this.#buckets.get(entry.priority);
    if (!bucket) {
      bucket = [];
      this.#buckets.set(entry.priority, bucket);
      this.#priorities = [...this.#buckets.keys()].sort((a, b) => b - a);
    }
    bucket.push(entry);
    this.#queuedRows += entry.rows;
    const queued = this.#queuedByPriority.get(entry.priority);
    if (queued) {
      queued.rows += entry.rows;
      queued.requests++;
    } else this.#queuedByPriority.set(entry.priority, { rows: entry.rows, requests: 1 });
    this.#queuedRequests++;
    if (entry.signal) {
      entry.onAbort = () => this.#drop(entry, cancelled(), "cancelled");
      entry.signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    this.#armDeadline(entry);
  }

  /** Reject an expired request at its deadline rather than when the next batch forms. */
  #armDeadline(entry: Entry<Req, Res>): void {
    const left = entry.deadlineAt - this.#now();
    if (left <= 0) return this.#drop(entry, expired(), "expired");
    // Re-checked against the (possibly injected) clock when it fires.
    entry.cancelDeadline = this.#schedule(() => this.#armDeadline(entry), left);
  }

  /** Remove a still-queued entry and reject it (cancelled or expired). */
  #drop(entry: Entry<Req, Res>, error: RankfnError, counter: "cancelled" | "expired"): void {
    const bucket = this.#buckets.get(entry.priority);
    const at = bucket?.indexOf(entry) ?? -1;
    if (!bucket || at < 0) return; // already taken into a batch
    bucket.splice(at, 1);
    if (bucket.length === 0) this.#removeBucket(entry.priority);
    this.#leaveQueue(entry);
    this.#counts[counter]++;
    entry.reject(error);
    this.#pump();
  }

  #removeBucket(priority: number): void {
    this.#buckets.delete(priority);
    this.#priorities = this.#priorities.filter((p) => p !== priority);
  }

  #leaveQueue(entry: Entry<Req, Res>): void {
    this.#queuedRows -= entry.rows;
    const queued = this.#queuedByPriority.get(entry.priority)!;
    queued.rows -= entry.rows;
    if (--queued.requests === 0) this.#queuedByPriority.delete(entry.priority);
    this.#queuedRequests--;
    entry.cancelDeadline?.();
    if (entry.onAbort) entry.signal?.removeEventListener("abort", entry.onAbort);
  }

  /** Start the next batch if one is due, else arm the timer for when it will be. */
  #pump(): void {
    if (this.#running) return;
    const now = this.#now();
    const earliestDeadline = this.#dropExpired(now);
    if (this.#queuedRequests === 0) {
      this.#clearDispatchTimer();
      this.#drained?.();
      return;
    }
    const dueAt = this.#dueAt(now, earliestDeadline);
    if (dueAt > now) {
      this.#clearDispatchTimer();
      this.#cancelDispatch = this.#schedule(() => {
        this.#cancelDispatch = undefined;
        this.#pump();
      }, dueAt - now);
      return;
    }
    this.#clearDispatchTimer();
    void this.#run(this.#takeBatch(), now);
  }

  /** When the next batch should start: now if full, closing, or waiting longer could not help; else when the delay ends. */
  #dueAt(now: number, earliestDeadline: number): number {
    if (this.#closing || this.#queuedRows >= this.options.maxBatchRows) return now;
    let oldest = Infinity;
    for (const bucket of this.#buckets.values()) oldest = Math.min(oldest, bucket[0]?.enqueuedAt ?? Infinity);
    const at = oldest + this.#policy.delayMs();
    // Waiting past a queued request's deadline would turn a servable request into a 504.
    if (at <= now || earliestDeadline <= at || !this.#policy.expectsArrivalBy(at)) return now;
    return at;
  }

  /** Reject every queued request whose deadline has passed; the earliest deadline left. */
  #dropExpired(now: number): number {
    let earliest = Infinity;
    for (const priority of this.#priorities) {
      const bucket = this.#buckets.get(priority) ?? [];
      const live = bucket.filter((entry) => entry.deadlineAt > now);
      if (live.length === bucket.length) {
        for (const entry of bucket) earliest = Math.min(earliest, entry.deadlineAt);
        continue;
      }
      for (const entry of bucket) {
        if (entry.deadlineAt > now) {
          earliest = Math.min(earliest, entry.deadlineAt);
          continue;
        }
        this.#leaveQueue(entry);
        this.#counts.expired++;
        entry.reject(expired());
      }
      if (live.length > 0) this.#buckets.set(priority, live);
      else this.#removeBucket(priority);
    }
    return earliest;
  }

  /** The requests the next batch would take if it formed now (as #takeBatch picks them, nothing removed): what the running batch may prefetch for. */
  peekNext(): Req[] {
    const next: Req[] = [];
    let rows = 0;
    for (const priority of this.#priorities) {
      for (const entry of this.#buckets.get(priority) ?? []) {
        if (next.length >= this.#policy.maxBatchRequests || (next.length > 0 && rows + entry.rows > this.options.maxBatchRows)) return next;
        next.push(entry.request);
        rows += entry.rows;
      }
    }
    return next;
  }

  /** Highest priority first, then FIFO; stop before exceeding maxBatchRows (the first entry always goes). */
  #takeBatch(): Entry<Req, Res>[] {
    const batch: Entry<Req, Res>[] = [];
    let rows = 0;
    for (const priority of [...this.#priorities]) {
      const bucket = this.#buckets.get(priority) ?? [];
      while (bucket[0] && batch.length < this.#policy.maxBatchRequests && (batch.length === 0 || rows + bucket[0].rows <= this.options.maxBatchRows)) {
        const entry = bucket.shift()!;
        this.#leaveQueue(entry);
        batch.push(entry);
        rows += entry.rows;
      }
      if (bucket.length === 0) this.#removeBucket(priority);
      else break;
    }
    return batch;
  }

  async #run(batch: Entry<Req, Res>[], start: number): Promise<void> {
    this.#running = true;
    this.#runningSince = start;
    const rows = batch.reduce((sum, entry) => sum + entry.rows, 0);
    this.#runningRows = rows;
    const queueMs = batch.map((entry) => start - entry.enqueuedAt);
    for (const wait of queueMs) this.#waits.push(wait);
    this.#counts.batches++;
    this.#counts.executed += batch.length;
    bump(this.#batchRequests, batch.length);
    bump(this.#batchRows, rows);
    try {
      let results: Array<Res | Error>;
      try {
        const budgetMs = Math.min(...batch.map((entry) => entry.deadlineAt)) - start;
        results = await this.execute(batch.map((entry) => entry.request), queueMs, budgetMs);
      } catch (error) {
        this.#fail(batch, error);
        return;
      }
      if (!Array.isArray(results) || results.length !== batch.length) {
        const got = Array.isArray(results) ? results.length : typeof results;
        this.#fail(batch, new RankfnError(`execute returned ${got} results for a batch of ${batch.length} requests`, "batch_result_mismatch", 500));
        return;
      }
      const elapsed = this.#now() - start;
      this.#executions.push(elapsed);
      this.#estimator.record(rows, elapsed); // the rows of requests that failed alone count too: they were part of the batch
      this.#policy.recordExecution(elapsed);
      batch.forEach((entry, i) => {
        const result = results[i]!;
        if (!(result instanceof Error)) return entry.resolve(result);
        this.#counts.failed++;
        this.#counts.failedIndividually++;
        entry.reject(result);
      });
    } finally {
      this.#running = false;
      this.#pump();
    }
  }

  #fail(batch: Entry<Req, Res>[], error: unknown): void {
    this.#counts.failed += batch.length;
    for (const entry of batch) entry.reject(error);
  }

  /** The 503 "overloaded" for a request predicted to finish after its budget; undefined to admit it. */
  #late(rows: number, priority: number, deadline: number, now: number): QueueFullError | undefined {
    const ahead: WorkAhead = { rows: 0, requests: 0, delayLeftMs: 0 };
    for (const [p, queued] of this.#queuedByPriority) {
      if (p < priority) continue;
      ahead.rows += queued.rows;
      ahead.requests += queued.requests;
    }
    // Nothing ahead: it starts at once, so shedding it frees nothing, and running it is what refreshes the estimate.
    if (!this.#running && ahead.requests === 0) return undefined;
    if (this.#running) ahead.running = { rows: this.#runningRows, elapsedMs: now - this.#runningSince };
    else ahead.delayLeftMs = Math.max(0, this.#dueAt(now, Infinity) - now);
    const predicted = this.#estimator.predictMs(rows, ahead, { maxBatchRows: this.options.maxBatchRows, maxBatchRequests: this.#policy.maxBatchRequests });
    // The adaptive policy sheds to hold its SLO (admission control), the others to meet the deadline. An SLO below
    // 1.5 batches of the request alone (what one arriving while a batch runs needs, on average) is no budget: holding
    // it would admit only what finds the server idle, one request per batch, and the batching would collapse.
    const sloMs = this.options.policy === "adaptive" ? this.options.sloP99Ms : undefined;
    const slo = sloMs !== undefined && sloMs < deadline && !(1.5 * (this.#estimator.batchMs(rows) ?? 0) > sloMs);
    const budget = slo ? sloMs : deadline;
    if (predicted === undefined || predicted <= budget) return undefined;
    return new QueueFullError(`overloaded: this request would finish in about ${Math.ceil(predicted)} ms, after its ${budget} ms ${slo ? "SLO" : "deadline"}`, Math.ceil(predicted - budget), "overloaded");
  }

  /** Time for the queued rows to drain: batches ahead × mean execution, plus the delay; at least 1 ms. */
  #retryAfterMs(): number {
    const batchesAhead = Math.ceil(this.#queuedRows / this.options.maxBatchRows);
    const perBatch = this.#executions.count > 0 ? this.#executions.mean() : 1;
    return Math.max(1, Math.ceil(batchesAhead * (perBatch + this.#policy.delayMs())));
  }

  #clearDispatchTimer(): void {
    this.#cancelDispatch?.();
    this.#cancelDispatch = undefined;
  }
}

function bump(counts: number[], value: number): void {
  const bucket = HISTOGRAM_BOUNDS.findIndex((bound) => value <= bound);
  counts[bucket < 0 ? HISTOGRAM_BOUNDS.length : bucket]!++;
}

function cancelled(): RankfnError {
  return new RankfnError("request cancelled before its batch started", "cancelled", 499);
}

function expired(): RankfnError {
  return new RankfnError("deadline exceeded while queued", "deadline_exceeded", 504);
}

/** Throw a 500 "bad_config" RankfnError naming the first bad option. */
export function checkOptions(o: CoalescerOptions): void {
  const bad = (what: string) => new RankfnError(`coalescer: ${what}`, "bad_config", 500);
  if (!Number.isInteger(o.maxBatchRows) || o.maxBatchRows < 1) throw bad(`maxBatchRows must be an integer ≥ 1, got ${o.maxBatchRows}`);
  if (!(o.maxQueueDelayUs >= 0) || !Number.isFinite(o.maxQueueDelayUs)) throw bad(`maxQueueDelayUs must be ≥ 0, got ${o.maxQueueDelayUs}`);
  if (!Number.isInteger(o.maxQueueRows) || o.maxQueueRows < 1) throw bad(`maxQueueRows must be an integer ≥ 1, got ${o.maxQueueRows}`);
  if (!(o.defaultDeadlineMs > 0)) throw bad(`defaultDeadlineMs must be > 0, got ${o.defaultDeadlineMs}`);
  if (o.policy !== "off" && o.policy !== "static" && o.policy !== "adaptive") throw bad(`unknown policy "${String(o.policy)}"`);
  if (o.sloP99Ms !== undefined && !(o.sloP99Ms > 0)) throw bad(`sloP99Ms must be > 0, got ${o.sloP99Ms}`);
}
