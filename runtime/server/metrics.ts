// Prometheus text-format metrics: counters and histograms with labels, kept in
// memory and rendered on GET /metrics. Series are labelled only with names of
// models that exist (the app counts requests to unknown names under model=""),
// and a removed model's series are dropped, so clients cannot grow the label set.

export type Labels = Record<string, string>;

const formatKey = (labels: Labels) => Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`).join(",");

/** Series keys by the labels' raw values: every request observes several series, and the label sets are few. */
const keys = new Map<string, string>();

/** Keys of label objects a caller reuses (interned label sets: the hot path's). */
const keyOfObject = new WeakMap<Labels, string>();

function key(labels: Labels): string {
  const known = keyOfObject.get(labels);
  if (known !== undefined) return known;
  let raw = "";
  for (const k in labels) raw += `${k}\u0001${labels[k]}\u0002`;
  let k = keys.get(raw);
  if (k === undefined) {
    k = formatKey(labels);
    // Label values are only ever names of existing models and statuses; the bound is a guard.
    if (keys.size < 4096) keys.set(raw, k);
  }
  if (Object.isFrozen(labels)) keyOfObject.set(labels, k);
  return k;
}

const interned = new Map<string, Labels>();

/**
 * One frozen object per label set, for series observed on every request: its key is computed
 * once. Only for bounded label values (names of existing models, statuses).
 */
export function labelSet(labels: Labels): Labels {
  let raw = "";
  for (const k in labels) raw += `${k}\u0001${labels[k]}\u0002`;
  let l = interned.get(raw);
  if (!l) {
    l = Object.freeze({ ...labels });
    if (interned.size < 4096) interned.set(raw, l);
  }
  return l;
}

/** Does a series key carry model="<name>"? */
const ofModel = (k: string, model: string) => k.split(",").includes(key({ model }));

class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  render(kind = "counter"): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${kind}`];
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
  set(labels: Labels, value: number): void {
    this.#values.set(key(labels), value);
  }
  /** Forget every series of `model`. */
  drop(model: string): void {
    for (const k of [...this.#values.keys()]) if (ofModel(k, model)) this.#values.delete(k);
  }
}

class Histogram {
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    const { buckets } = this;
    for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  /** Forget every series of `model`. */
  drop(model: string): void {
    for (const k of [...this.#series.keys()]) if (ofModel(k, model)) this.#series.delete(k);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter("rankfn_requests_total", "Rank requests by model and HTTP status.");
  readonly latency = new Histogram("rankfn_request_seconds", "End-to-end rank request latency.", [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2]);
  readonly batchRows = new Histogram("rankfn_batch_rows", "Rows per executed batch.", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
  readonly queueDelay = new Histogram("rankfn_queue_seconds", "Time a request waited to be batched.", [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]);
  readonly rows = new Counter("rankfn_rows_total", "Rows scored, by model.");
  readonly coldStarts = new Counter("rankfn_cold_starts_total", "Model loads, by model.");
  readonly coldStartSeconds = new Histogram("rankfn_cold_start_seconds", "Time to load and compile a model.", [0.01, 0.05, 0.1, 0.3, 1, 3, 10]);
  readonly queueDepth = new Counter("rankfn_queue_depth_rows", "Rows waiting to be batched, by model (gauge).");

  /** Forget every series of a removed model (a later model of the same name starts from zero). */
  dropModel(model: string): void {
    for (const m of [this.requests, this.latency, this.batchRows, this.queueDelay, this.rows, this.coldStarts, this.coldStartSeconds, this.queueDepth]) m.drop(model);
  }

  render(): string {
    return [
      this.requests.render(),
      this.latency.render(),
      this.batchRows.render(),
      this.queueDelay.render(),
      this.rows.render(),
      this.coldStarts.render(),
      this.coldStartSeconds.render(),
      this.queueDepth.render("gauge"),
    ].join("\n\n") + "\n";
  }
}
