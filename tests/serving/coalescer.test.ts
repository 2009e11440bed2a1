// The request coalescer: one contract suite that every coalescing policy runs
// (results sliced back to the right request, batch bounds, deadlines, queue bound,
// priorities, cancellation, failures, close), then what each policy adds on top.
// Execution is a fake that records batches and can be held open by hand, and most
// tests run on an injected clock, so nothing depends on how fast the machine is.
import { describe, expect, test } from "bun:test";
import { RankfnError } from "../../runtime/errors";
import { Coalescer, QueueFullError, type CoalescerOptions, type CoalescingPolicy } from "../../runtime/serving/coalescer";
import { createQueueDelayPolicy } from "../../runtime/serving/coalescing-policy";

interface Req {
  id: number;
  rows: number;
  /** execute throws for a batch holding this request. */
  fail?: boolean;
  /** execute returns one result too few for a batch holding this request. */
  short?: boolean;
  /** execute fails this request alone: a RankfnError in its result slot. */
  bad?: boolean;
}
interface Res {
  id: number;
  rows: number;
}

/** A clock the test moves by hand. */
class FakeClock {
  t = 1000;
  readonly now = (): number => this.t;
}

/** A fake model: records every batch; a batch can be held open until the test releases it. */
class FakeModel {
  readonly batches: Req[][] = [];
  readonly queueMs: number[][] = [];
  /** How far execution moves the fake clock. */
  execMs = 0;
  readonly #holds: Promise<void>[] = [];
  constructor(private readonly clock?: FakeClock) {}

  /** The next batch to start waits until the returned function is called. */
  holdNext(): () => void {
    let release = (): void => {};
    this.#holds.push(new Promise<void>((resolve) => (release = resolve)));
    return () => release();
  }

  readonly execute = async (requests: Req[], queueMs: number[]): Promise<Array<Res | Error>> => {
    this.batches.push(requests);
    this.queueMs.push(queueMs);
    await (this.#holds.shift() ?? Promise.resolve());
    if (this.clock) this.clock.t += this.execMs;
    if (requests.some((r) => r.fail)) throw new Error("model exploded");
    const results = requests.map((r) => (r.bad ? new RankfnError(`request ${r.id}: feature "cat_3" is missing`, "missing_feature", 400) : { id: r.id, rows: r.rows }));
    return requests.some((r) => r.short) ? results.slice(1) : results;
  };

  executedIds(): number[] {
    return this.batches.flat().map((r) => r.id);
  }
}

/** The error a promise rejects with; attaches the handler at once so no rejection goes unhandled. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

function expectRankfnError(error: unknown, status: number, code: string): void {
  expect(error).toBeInstanceOf(RankfnError);
  expect((error as RankfnError).status).toBe(status);
  expect((error as RankfnError).code).toBe(code);
}

const req = (id: number, rows = 1, extra: Partial<Req> = {}): Req => ({ id, rows, ...extra });

/** A coalescer on a fake clock: maxBatchRows 8, delay 1 ms, 64 queued rows, default deadline 50 ms, SLO 20 ms. */
function setup(policy: CoalescingPolicy, overrides: Partial<CoalescerOptions> = {}) {
  const clock = new FakeClock();
  const model = new FakeModel(clock);
  const options: CoalescerOptions = { policy, maxBatchRows: 8, maxQueueDelayUs: 1000, maxQueueRows: 64, defaultDeadlineMs: 50, sloP99Ms: 20, now: clock.now, ...overrides };
  const coalescer = new Coalescer<Req, Res>(model.execute, options);
  /** Occupy the coalescer with a full batch held open; returns its result and the release. */
  const block = (id = -1, extra: Partial<Req> = {}) => {
    const release = model.holdNext();
    const result = coalescer.submit(req(id, options.maxBatchRows, extra), { rows: options.maxBatchRows });
    expect(model.batches.at(-1)?.[0]?.id).toBe(id); // a full batch starts at once
    return { result, release };
  };
  /** Let every queued request's delay pass, then release the held batch. */
  const advanceAndRelease = (release: () => void, ms = 10) => {
    clock.t += ms;
    release();
  };
  return { clock, model, coalescer, block, advanceAndRelease };
}

describe.each(["off", "static", "adaptive"] as const)("coalescer contract: %s", (policy) => {
  test("200 concurrent submissions of mixed sizes each get exactly their own result, in batches within maxBatchRows", async () => {
    const model = new FakeModel();
    const coalescer = new Coalescer<Req, Res>(model.execute, { policy, maxBatchRows: 16, maxQueueDelayUs: 500, maxQueueRows: 1 << 20, defaultDeadlineMs: 60_000, sloP99Ms: 50 });
    const rowsOf = (i: number) => (i % 50 === 7 ? 20 : 1 + ((i * 7) % 5)); // a few larger than a batch
    const requests = Array.from({ length: 200 }, (_, i) => req(i, rowsOf(i)));
    const results = await Promise.all(requests.map((r, i) => coalescer.submit(r, { rows: r.rows, priority: i % 3 })));

    expect(results).toEqual(requests.map((r) => ({ id: r.id, rows: r.rows })));
    expect(model.executedIds().sort((a, b) => a - b)).toEqual(requests.map((r) => r.id));
    for (const batch of model.batches) {
      const rows = batch.reduce((sum, r) => sum + r.rows, 0);
      if (batch.length > 1) expect(rows).toBeLessThanOrEqual(16);
    }
    expect(model.batches.filter((b) => b.some((r) => r.rows === 20)).every((b) => b.length === 1)).toBe(true);
    const stats = coalescer.stats();
    expect(stats).toMatchObject({ policy, submitted: 200, executed: 200, failed: 0, batches: model.batches.length, expired: 0, cancelled: 0, queueDepthRows: 0 });
    expect(stats.batchRequests.counts.reduce((a, b) => a + b, 0)).toBe(model.batches.length);
    expect(stats.batchRows.counts.at(-1)).toBe(0); // nothing above 4096 rows
    expect(stats.queueWaitMs.count).toBe(200);
    await coalescer.close();
  });

  test("execute gets each request's queue wait", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const queued = coalescer.submit(req(1), { rows: 1 });
    advanceAndRelease(release, 10);
    await Promise.all([result, queued]);
    expect(model.queueMs[0]).toEqual([0]);
    expect(model.queueMs[1]).toEqual([10]);
    await coalescer.close();
  });

  test("a request whose deadline passes while queued is rejected with 504 and never executed", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const short = rejection(coalescer.submit(req(1), { rows: 1, deadlineMs: 5 }));
    const patient = coalescer.submit(req(2), { rows: 1 }); // default deadline, 50 ms
    advanceAndRelease(release, 10);
    expectRankfnError(await short, 504, "deadline_exceeded");
    expect(await patient).toEqual({ id: 2, rows: 1 });
    await result;
    expect(model.executedIds()).not.toContain(1);
    expect(coalescer.stats()).toMatchObject({ expired: 1, executed: 2 });
    await coalescer.close();
  });

  test("a deadline can only shorten the server default", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy, { defaultDeadlineMs: 50 });
    const { result, release } = block();
    const greedy = rejection(coalescer.submit(req(1), { rows: 1, deadlineMs: 1e9 }));
    advanceAndRelease(release, 60);
    expectRankfnError(await greedy, 504, "deadline_exceeded");
    await result;
    expect(model.executedIds()).toEqual([-1]);
    await coalescer.close();
  });

  test("bad rows, deadlines and priorities are rejected with 400", async () => {
    const { coalescer } = setup(policy);
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 0 })), 400, "bad_rows");
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 1.5 })), 400, "bad_rows");
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 1, deadlineMs: 0 })), 400, "bad_deadline");
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 1, deadlineMs: -3 })), 400, "bad_deadline");
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 1, deadlineMs: Number.NaN })), 400, "bad_deadline");
    expectRankfnError(await rejection(coalescer.submit(req(1), { rows: 1, priority: Number.POSITIVE_INFINITY })), 400, "bad_priority");
    expect(coalescer.stats().submitted).toBe(0);
    await coalescer.close();
  });

  test("shedLate rejects at submit (503 overloaded) what would finish after its deadline; admitted requests finish; higher priority only counts what is ahead of it", async () => {
    const { model, coalescer, block } = setup(policy, { shedLate: true, defaultDeadlineMs: 50, sloP99Ms: 40 });
    model.execMs = 10; // every batch moves the clock 10 ms: 8 rows / 10 ms
    for (let i = 0; i < 8; i++) await coalescer.submit(req(100 + i, 8), { rows: 8 }); // learn the rate
    const fill = async (first: number) => {
      const outcomes = Array.from({ length: 10 }, (_, i) => {
        const o: { promise: Promise<Res>; error?: unknown } = { promise: coalescer.submit(req(first + i, 8), { rows: 8 }) };
        o.promise.catch((e) => (o.error = e));
        return o;
      });
      await Bun.sleep(0);
      return outcomes;
    };
    let held = block();
    const outcomes = await fill(0);
    const admitted = outcomes.filter((o) => o.error === undefined).map((o) => o.promise);
    const rejected = outcomes.filter((o) => o.error !== undefined);
    // Queued rows only grow, so once one is shed every later one is too.
    expect(admitted.length).toBeGreaterThanOrEqual(2);
    expect(rejected.length).toBeGreaterThan(0);
    expect(outcomes.findIndex((o) => o.error !== undefined)).toBe(admitted.length);
    const shed = rejected[0]!.error;
    expectRankfnError(shed, 503, "overloaded");
    expect((shed as QueueFullError).retryAfterMs).toBeGreaterThan(0);
    // adaptive holds its SLO (40 ms here), the other policies the deadline (50 ms)
    expect((shed as Error).message).toMatch(policy === "adaptive" ? /overloaded: this request would finish in about \d+ ms, after its 40 ms SLO/ : /overloaded: this request would finish in about \d+ ms, after its 50 ms deadline/);
    held.release();
    await held.result;
    for (const p of admitted) expect((await p).rows).toBe(8); // admitted work finishes: none expired
    expect(coalescer.stats()).toMatchObject({ rejectedLate: rejected.length, expired: 0 });
    // With the queue full of priority-0 work, a priority-5 request still gets in.
    held = block();
    const low = await fill(1000);
    expect(low.some((o) => o.error !== undefined)).toBe(true);
    const urgent = coalescer.submit(req(99, 8), { rows: 8, priority: 5 });
    held.release();
    await held.result;
    expect((await urgent).id).toBe(99);
    await Promise.allSettled(low.map((o) => o.promise));
    await coalescer.close();
  });

  test("a full queue rejects with 503 queue_full and a retryAfterMs; what was queued still runs", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy, { maxQueueRows: 10 });
    const { result, release } = block(); // running rows do not count against the queue
    const queued = Array.from({ length: 5 }, (_, i) => coalescer.submit(req(i + 1, 2), { rows: 2 }));
    const full = await rejection(coalescer.submit(req(99), { rows: 1 }));
    expectRankfnError(full, 503, "queue_full");
    expect(full).toBeInstanceOf(QueueFullError);
    expect((full as QueueFullError).retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite((full as QueueFullError).retryAfterMs)).toBe(true);
    expectRankfnError(await rejection(coalescer.submit(req(98, 11), { rows: 11 })), 413, "request_too_large");
    expect(coalescer.stats()).toMatchObject({ rejectedFull: 1, queueDepthRows: 10, queueDepthRequests: 5 });
    advanceAndRelease(release);
    expect(await Promise.all(queued)).toEqual([1, 2, 3, 4, 5].map((id) => ({ id, rows: 2 })));
    await result;
    expect(model.executedIds()).not.toContain(99);
    expect(model.executedIds()).not.toContain(98);
    await coalescer.close();
  });

  test("higher priority is batched first, FIFO within a priority", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const order = [
      [1, 0],
      [2, 0],
      [3, 5],
      [4, 1],
      [5, 5],
      [6, 0],
      [7, 1],
      [8, 5],
    ] as const;
    const queued = order.map(([id, priority]) => coalescer.submit(req(id), { rows: 1, priority }));
    advanceAndRelease(release);
    await Promise.all([result, ...queued]);
    expect(model.executedIds()).toEqual([-1, 3, 5, 8, 4, 7, 1, 2, 6]);
    await coalescer.close();
  });

  test("an aborted request is rejected with 499 and never executed", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const controller = new AbortController();
    const aborted = rejection(coalescer.submit(req(1), { rows: 1, signal: controller.signal }));
    const stays = coalescer.submit(req(2), { rows: 1, signal: new AbortController().signal });
    controller.abort();
    expectRankfnError(await aborted, 499, "cancelled"); // at once, not when the batch would have formed
    expect(coalescer.stats().queueDepthRows).toBe(1);
    const already = new AbortController();
    already.abort();
    expectRankfnError(await rejection(coalescer.submit(req(3), { rows: 1, signal: already.signal })), 499, "cancelled");
    advanceAndRelease(release);
    expect(await stays).toEqual({ id: 2, rows: 1 });
    await result;
    expect(model.executedIds()).toEqual([-1, 2]);
    expect(coalescer.stats()).toMatchObject({ cancelled: 2, executed: 2 });
    await coalescer.close();
  });

  test("a failing execute rejects its own batch only and the coalescer keeps serving", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block(-1, { fail: true });
    const failed = rejection(result);
    const next = coalescer.submit(req(1), { rows: 1 });
    advanceAndRelease(release);
    const error = await failed;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("model exploded"); // execute's own error, passed through
    expect(await next).toEqual({ id: 1, rows: 1 });
    expect(coalescer.stats()).toMatchObject({ failed: 1, executed: 2, batches: 2 });
    await coalescer.close();
    expect(model.batches.length).toBe(2);
  });

  test("an Error in a request's result slot rejects that request alone; the rest of its batch resolves", async () => {
    const { clock, model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const ids = [1, 2, 3, 4, 5];
    const queued = ids.map((id) => {
      const promise = coalescer.submit(req(id, 1, { bad: id === 3 }), { rows: 1 });
      return id === 3 ? rejection(promise) : promise;
    });
    advanceAndRelease(release);
    const [r1, r2, bad, r4, r5] = await Promise.all(queued);
    expect([r1, r2, r4, r5]).toEqual([1, 2, 4, 5].map((id) => ({ id, rows: 1 })));
    expectRankfnError(bad, 400, "missing_feature");
    expect((bad as Error).message).toBe('request 3: feature "cat_3" is missing'); // execute's own error, not a batch-wide one
    await result;
    expect(model.executedIds().sort((a, b) => a - b)).toEqual([-1, 1, 2, 3, 4, 5]);
    // off ran 3 alone; static and adaptive ran it with the others: either way only it failed
    if (policy !== "off") expect(model.batches.some((b) => b.length > 1 && b.some((r) => r.id === 3))).toBe(true);
    expect(coalescer.stats()).toMatchObject({ executed: 6, failed: 1, failedIndividually: 1 });
    const next = coalescer.submit(req(6), { rows: 1 }); // and the coalescer keeps serving
    clock.t += 10; // past static's queue delay
    expect(await next).toEqual({ id: 6, rows: 1 });
    await coalescer.close();
  });

  test("a thrown error still fails the whole batch, and counts as no individual failure", async () => {
    const { coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const settled = [1, 2, 3].map((id) => coalescer.submit(req(id, 1, { fail: id === 2 }), { rows: 1 }).then(() => undefined, (error: unknown) => error));
    advanceAndRelease(release);
    await result;
    const errors = await Promise.all(settled);
    const failedIds = [1, 2, 3].filter((_, i) => errors[i] !== undefined);
    // off runs 1, 2 and 3 apart, so only 2's own batch throws; the other policies run them as one batch
    expect(failedIds).toEqual(policy === "off" ? [2] : [1, 2, 3]);
    for (const error of errors) if (error !== undefined) expect((error as Error).message).toBe("model exploded");
    expect(coalescer.stats()).toMatchObject({ failed: failedIds.length, failedIndividually: 0 });
    await coalescer.close();
  });

  test("execute returning the wrong number of results rejects that batch with 500", async () => {
    const { coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block(-1, { short: true });
    const mismatched = rejection(result);
    const next = coalescer.submit(req(1), { rows: 1 });
    advanceAndRelease(release);
    expectRankfnError(await mismatched, 500, "batch_result_mismatch");
    expect(await next).toEqual({ id: 1, rows: 1 });
    await coalescer.close();
  });

  test("close() refuses new work with 503 closing and drains what is queued", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup(policy);
    const { result, release } = block();
    const queued = [coalescer.submit(req(1), { rows: 1 }), coalescer.submit(req(2, 3), { rows: 3 })];
    let closed = false;
    const closing = coalescer.close().then(() => (closed = true));
    expectRankfnError(await rejection(coalescer.submit(req(3), { rows: 1 })), 503, "closing");
    expect(closed).toBe(false);
    advanceAndRelease(release, 0); // drains without waiting for the queue delay
    await closing;
    expect(await Promise.all(queued)).toEqual([
      { id: 1, rows: 1 },
      { id: 2, rows: 3 },
    ]);
    await result;
    expect(model.executedIds().sort()).toEqual([-1, 1, 2]);
    const stats = coalescer.stats();
    expect(stats.submitted).toBe(stats.executed + stats.expired + stats.cancelled + stats.queueDepthRequests);
    expect(coalescer.close()).toBe(coalescer.close()); // idempotent
  });
});

test("a bad configuration is refused when the coalescer is built", () => {
  const base: CoalescerOptions = { policy: "static", maxBatchRows: 8, maxQueueDelayUs: 1000, maxQueueRows: 64, defaultDeadlineMs: 50 };
  const build = (options: Partial<CoalescerOptions>) => () => new Coalescer<Req, Res>(new FakeModel().execute, { ...base, ...options });
  for (const bad of [{ maxBatchRows: 0 }, { maxQueueRows: 2.5 }, { maxQueueDelayUs: -1 }, { defaultDeadlineMs: 0 }, { policy: "adaptive" as const }]) {
    expect(build(bad)).toThrow(expect.objectContaining({ code: "bad_config", status: 500 }));
  }
  expect(build({ policy: "adaptive", sloP99Ms: 20 })).not.toThrow();
});

describe("policy off", () => {
  test("never merges: every request is a batch of its own", async () => {
    const model = new FakeModel();
    const coalescer = new Coalescer<Req, Res>(model.execute, { policy: "off", maxBatchRows: 64, maxQueueDelayUs: 5000, maxQueueRows: 1024, defaultDeadlineMs: 60_000 });
    await Promise.all([1, 2, 3, 4, 5].map((id) => coalescer.submit(req(id), { rows: 1 })));
    expect(model.batches.map((b) => b.map((r) => r.id))).toEqual([[1], [2], [3], [4], [5]]);
    expect(coalescer.stats().queueDelayUs).toBe(0);
    await coalescer.close();
  });

  test("requests queued behind a running batch still run one at a time", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup("off");
    const { result, release } = block();
    const queued = [1, 2, 3].map((id) => coalescer.submit(req(id), { rows: 1 }));
    advanceAndRelease(release);
    await Promise.all([result, ...queued]);
    expect(model.batches.map((b) => b.length)).toEqual([1, 1, 1, 1]);
  });
});

/** The batchRequests bucket that counts a batch of 5 requests: (4, 8]. */
const BUCKET_OF_5_REQUESTS = 3;

describe("policy static", () => {
  test("merges requests submitted together into one batch after the delay", async () => {
    const model = new FakeModel();
    const coalescer = new Coalescer<Req, Res>(model.execute, { policy: "static", maxBatchRows: 64, maxQueueDelayUs: 2000, maxQueueRows: 1024, defaultDeadlineMs: 60_000 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((id) => coalescer.submit(req(id), { rows: 1 })));
    expect(results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(model.batches.map((b) => b.map((r) => r.id))).toEqual([[1, 2, 3, 4, 5]]);
    expect(coalescer.stats().batchRequests.counts[BUCKET_OF_5_REQUESTS]).toBe(1);
    await coalescer.close();
  });

  test("requests queued behind a running batch go together, split at maxBatchRows", async () => {
    const { model, coalescer, block, advanceAndRelease } = setup("static");
    const { result, release } = block();
    const queued = Array.from({ length: 10 }, (_, i) => coalescer.submit(req(i + 1, 3), { rows: 3 }));
    advanceAndRelease(release);
    await Promise.all([result, ...queued]);
    expect(model.batches.slice(1).map((b) => b.map((r) => r.id))).toEqual([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
  });

  test("waits for company even when idle (and close() flushes the wait)", async () => {
    const { model, coalescer } = setup("static");
    const lone = coalescer.submit(req(1), { rows: 1 });
    await Bun.sleep(0);
    expect(model.batches.length).toBe(0); // the fake clock never reaches the delay
    await coalescer.close();
    expect(await lone).toEqual({ id: 1, rows: 1 });
  });
});

describe("policy adaptive", () => {
  test("the queue delay shrinks as execution takes more of the SLO, and grows back when it gets fast", async () => {
    const { model, coalescer } = setup("adaptive", { maxQueueDelayUs: 10_000, sloP99Ms: 20 });
    const batchTaking = async (ms: number) => {
      model.execMs = ms;
      await coalescer.submit(req(0, 8), { rows: 8 });
      return coalescer.stats().queueDelayUs;
    };
    expect(coalescer.stats().queueDelayUs).toBe(10_000); // nothing measured: the bound
    expect(await batchTaking(16)).toBe(4_000); // 20 − 16
    expect(await batchTaking(30)).toBe(0); // execution alone breaks the SLO
    expect(coalescer.stats().executionP99Ms).toBe(30);
    for (let i = 0; i < 64; i++) await batchTaking(12); // the slow batches leave the window
    expect(coalescer.stats().queueDelayUs).toBe(3_000); // a quarter of a 12 ms batch (20 − 12 would allow 8)
    await coalescer.close();
  });

  test("the delay never exceeds a quarter of a typical batch, nor the bound", async () => {
    const { model, coalescer } = setup("adaptive", { maxQueueDelayUs: 10_000, sloP99Ms: 1000 });
    model.execMs = 2;
    await coalescer.submit(req(0, 8), { rows: 8 });
    expect(coalescer.stats().queueDelayUs).toBe(500); // 2 ms / 4, though the SLO leaves 998 ms
    model.execMs = 100;
    for (let i = 0; i < 3; i++) await coalescer.submit(req(i + 1, 8), { rows: 8 });
    expect(coalescer.stats().queueDelayUs).toBe(10_000); // 100 ms / 4 = 25 ms: capped by the bound
    await coalescer.close();
  });

  test("with a zero delay a lone request runs at once", async () => {
    const { model, coalescer } = setup("adaptive", { maxQueueDelayUs: 10_000, sloP99Ms: 20 });
    model.execMs = 25;
    await coalescer.submit(req(0, 8), { rows: 8 });
    expect(coalescer.stats().queueDelayUs).toBe(0);
    const lone = coalescer.submit(req(1), { rows: 1 });
    expect(model.batches.length).toBe(2);
    await lone;
    await coalescer.close();
  });

  test("under low load it does not wait for company that is not coming", async () => {
    const { model, coalescer, clock } = setup("adaptive", { maxQueueDelayUs: 5000, sloP99Ms: 100 });
    model.execMs = 40; // a quarter batch (10 ms) and the SLO margin (60 ms) both exceed the bound
    const first = coalescer.submit(req(1), { rows: 1 }); // no arrivals seen yet: run now
    expect(model.batches.length).toBe(1);
    await first;
    clock.t += 1000; // a second of silence: the next arrival is not expected within 5 ms
    const second = coalescer.submit(req(2), { rows: 1 });
    expect(model.batches.length).toBe(2);
    await second;
    expect(coalescer.stats().queueDelayUs).toBe(5000); // the delay itself is unchanged; it just was not worth waiting
    await coalescer.close();
  });

  test("under a burst it waits for company: arrivals expected within the delay", () => {
    const policy = createQueueDelayPolicy({ policy: "adaptive", maxQueueDelayUs: 5000, sloP99Ms: 100 });
    policy.recordExecution(40); // a quarter batch 10 ms, SLO margin 60 ms: the 5 ms bound
    expect(policy.delayMs()).toBe(5);
    let t = 1000;
    for (let i = 0; i < 4; i++) policy.recordArrival((t += 0.1)); // arrivals every 0.1 ms
    expect(policy.expectsArrivalBy(t + 5)).toBe(true); // worth waiting: company is due long before the delay ends
    t += 1000; // then a second of silence
    policy.recordArrival(t);
    expect(policy.expectsArrivalBy(t + 5)).toBe(false); // the next arrival is not expected within the delay
  });
});
