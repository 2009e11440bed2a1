// When would a request finish? The estimate behind the coalescer's admission control
// (shedLate): batch execution time ≈ overheadMs + perRowMs × rows, fitted to the last
// 64 finished batches, applied to the batches that will run before and with the request.
//
// Why not rows/ms of recent batches (what it used to be): a batch has a fixed cost
// (dispatch, the worker round trip, kernel launches) besides its per-row work, and under
// light load batches are small, so their rows/ms is mostly that fixed cost and
// underestimates a full batch many times over. The coalescer then shed a queue it could
// have served in one batch — and a shed request runs no batch, so the estimate never got a
// new sample and never recovered: everything was shed from then on (bench serve on an AVX2
// machine: adaptive served nothing from 1,200 req/s up).
//
// The fit is robust (Theil–Sen style: the median of the slopes between pairs of batches of
// different sizes, then the median intercept), so a few slow batches — a GC pause, a first
// batch that builds its plan — do not move it. When every batch had the same rows (light
// load under "off"; saturation, where every batch is full) the slope is unknown and taken as
// 0 — and so is a slope within three standard errors of 0, which is noise, not per-row cost
// (1–4-row batches on a busy machine): the estimate then counts batches at their median
// cost, which is right for the batches that load forms; a bigger batch that turns out to
// cost more is measured as soon as it runs, and the fit follows. Wherever it is unsure it errs toward admitting: an
// over-admitted request at worst expires in the queue (504, never executed), while
// over-shedding starves the estimate of the samples that would correct it.
//
// Under overload every admitted request is one the estimate put just inside its budget,
// so an estimate that is right on average would let half of them finish late. The
// prediction is therefore the expected finish plus two standard deviations of the sum of
// the batches ahead (per-batch spread from the fit's residuals, times √batches): a finish
// that about 97% of admitted requests beat when batch times vary independently. Batches
// are cut before a request would overflow maxBatchRows, so a full batch holds about half a
// request less than the bound (and at least one request): the batches ahead are counted at
// that fill. And the
// request's own batch also holds what arrives before it starts (at the recent arrival
// rate, up to that fill): under overload it runs full, not with the request as its last row.

/** How many recent batches the fit looks at. */
const COST_WINDOW = 64;
/** Batches that must have finished before anything is predicted. */
export const MIN_BATCHES_TO_PREDICT = 8;
/** Weight of the newest submit in the arrival-rate EWMAs. */
const ARRIVAL_ALPHA = 0.1;

/** What is ahead of a request when it arrives. */
export interface WorkAhead {
  /** Rows queued at or above its priority (batched before it). */
  rows: number;
  /** Requests queued at or above its priority. */
  requests: number;
  /** The batch running now (its rows, how long it has run), if any. */
  running?: { rows: number; elapsedMs: number };
  /** How long the next batch still waits for its queue delay (0 while a batch runs: the next forms when it ends). */
  delayLeftMs: number;
}

/** How the coalescer cuts batches: at most this many rows, and this many requests (1 for "off"). */
export interface BatchLimits {
  maxBatchRows: number;
  maxBatchRequests: number;
}

/** A fitted batch cost: overheadMs + perRowMs × rows, give or take spreadMs. */
export interface BatchCost {
  overheadMs: number;
  perRowMs: number;
  /** Standard deviation of one batch's time around the fit (from the median absolute residual). */
  spreadMs: number;
}

/** Learns batch cost from finished batches; predicts a request's finish. */
export class FinishEstimator {
  readonly #rows = new Float64Array(COST_WINDOW);
  readonly #ms = new Float64Array(COST_WINDOW);
  #count = 0;
  #next = 0;
  #fit: BatchCost | undefined;
  #lastArrival: number | undefined;
  /** EWMAs of the gap between submits (undefined until two) and of their rows. */
  #gapMs: number | undefined;
  #arrivalRows = 0;

  /** Batches recorded so far (capped at the window). */
  get count(): number {
    return this.#count;
  }

  /** A batch of `rows` ran for `ms`. */
  record(rows: number, ms: number): void {
    this.#rows[this.#next] = rows;
    this.#ms[this.#next] = ms;
    this.#next = (this.#next + 1) % COST_WINDOW;
    this.#count = Math.min(COST_WINDOW, this.#count + 1);
    this.#fit = undefined; // refitted on the next prediction, at most once per batch
  }

  /** A request of `rows` was submitted at `time` (ms), admitted or not. */
  recordArrival(time: number, rows: number): void {
    if (this.#lastArrival === undefined) this.#arrivalRows = rows;
    else {
      const gap = Math.max(0, time - this.#lastArrival);
      this.#gapMs = this.#gapMs === undefined ? gap : this.#gapMs + ARRIVAL_ALPHA * (gap - this.#gapMs);
      this.#arrivalRows += ARRIVAL_ALPHA * (rows - this.#arrivalRows);
    }
    this.#lastArrival = time;
  }

  /** Rows submitted per ms lately: 0 before two submits, Infinity while they come faster than the clock ticks. */
  get arrivalRowsPerMs(): number {
    return this.#gapMs === undefined ? 0 : this.#arrivalRows / this.#gapMs;
  }

  /** The current fit; undefined before MIN_BATCHES_TO_PREDICT batches. */
  cost(): BatchCost | undefined {
    if (this.#count < MIN_BATCHES_TO_PREDICT) return undefined;
    this.#fit ??= theilSen(this.#rows.subarray(0, this.#count), this.#ms.subarray(0, this.#count));
    return this.#fit;
  }

  /** Expected ms for a batch of `rows` alone; undefined until MIN_BATCHES_TO_PREDICT batches have run. */
  batchMs(rows: number): number | undefined {
    const cost = this.cost();
    return cost && cost.overheadMs + cost.perRowMs * rows;
  }

  /**
   * Ms from now by which a request of `rows` behind `ahead` finishes (with ~97% confidence):
   * what the running batch has left, the delay the next batch still waits, the batches the
   * queued rows ahead form (cut by `limits`), then its own batch with what arrives before it
   * starts, plus two standard deviations of the sum. Undefined until MIN_BATCHES_TO_PREDICT
   * batches have run.
   */
  predictMs(rows: number, ahead: WorkAhead, limits: BatchLimits): number | undefined {
    const cost = this.cost();
    if (!cost) return undefined;
    const batchMs = (r: number) => cost.overheadMs + cost.perRowMs * r;
    // A batch that has run past its estimate is taken to end now: how late it is says nothing of how much later.
    const running = ahead.running ? Math.max(0, batchMs(ahead.running.rows) - ahead.running.elapsedMs) : 0;
    const totalRows = ahead.rows + rows;
    const requests = ahead.requests + 1;
    const alone = limits.maxBatchRequests === 1; // "off": one request per batch, nothing joins it
    const meanRows = totalRows / requests;
    // The bound less half a request, and at least one request (a batch never splits one).
    const fill = alone ? rows : Math.max(1, meanRows, limits.maxBatchRows - meanRows / 2);
    const batches = alone ? requests : Math.max(1, Math.ceil(totalRows / fill));
    const ownSoFar = alone ? rows : Math.max(rows, totalRows - (batches - 1) * fill);
    const startsIn = running + ahead.delayLeftMs + (batches - 1) * cost.overheadMs + cost.perRowMs * (totalRows - ownSoFar);
    const joining = alone || startsIn === 0 ? 0 : this.arrivalRowsPerMs * startsIn;
    const ownRows = Math.min(Math.max(fill, ownSoFar), ownSoFar + joining);
    const margin = 2 * cost.spreadMs * Math.sqrt(batches + (ahead.running ? 1 : 0));
    return startsIn + batchMs(ownRows) + margin;
  }
}

/**
 * Theil–Sen-style fit of ms ≈ overhead + perRow × rows (both ≥ 0): the median slope between
 * each batch and the one half the window further in rows order (pairs of equal rows skipped;
 * slope 0 when every batch had the same rows), then the median intercept. O(n log n), so it
 * can refit after every batch; it shrugs off up to about a quarter of the batches being outliers.
 */
function theilSen(rows: Float64Array, ms: Float64Array): BatchCost {
  const n = rows.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rows[a]! - rows[b]!);
  const half = n >> 1;
  const slopes = new Float64Array(half);
  let k = 0;
  for (let i = 0; i < half; i++) {
    const lo = order[i]!;
    const hi = order[i + half]!;
    const dr = rows[hi]! - rows[lo]!;
    if (dr !== 0) slopes[k++] = (ms[hi]! - ms[lo]!) / dr;
  }
  if (k === 0) return withSlope(rows, ms, 0);
  const pairs = slopes.subarray(0, k);
  const slope = median(pairs);
  // Standard error of a median: 1.2533 σ / √k, σ from the slopes' own MAD. A slope within three of them of 0
  // is noise (small batches on a busy machine), taken as 0 rather than extrapolated to bigger batches.
  const stdError = (1.2533 * 1.4826 * median(pairs.map((p) => Math.abs(p - slope)))) / Math.sqrt(k);
  return withSlope(rows, ms, slope > 3 * stdError ? slope : 0);
}

/** The median intercept and the residual spread for a given slope. */
function withSlope(rows: Float64Array, ms: Float64Array, perRowMs: number): BatchCost {
  const intercepts = ms.map((m, i) => m - perRowMs * rows[i]!);
  const overheadMs = Math.max(0, median(intercepts));
  const residuals = intercepts.map((intercept) => Math.abs(intercept - overheadMs));
  return { overheadMs, perRowMs, spreadMs: 1.4826 * median(residuals) }; // MAD → σ for normal noise
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
