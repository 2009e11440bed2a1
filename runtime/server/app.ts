// The rankfn HTTP server as a Hono app: rank (msgpack or JSON), model
// management, health, readiness and Prometheus metrics. `createApp` returns
// the app so it runs anywhere Bun serves a fetch handler.
import { Hono } from "hono";
import type { Context } from "hono";
import { timingSafeEqual } from "node:crypto";
import { RankfnError } from "../errors";
import { Coalescer, type CoalescerOptions, checkOptions } from "../serving/coalescer";
import { createQueueDelayPolicy } from "../serving/coalescing-policy";
import { ModelRegistry, type ModelVersion, type RegistryOptions } from "../serving/registry";
import type { RankResponse } from "../engine/request";
import type { ValidRequest } from "../engine/validate";
import { type Labels, ServerMetrics, labelSet } from "./metrics";
import { renderEmbeddingMetrics } from "./embedding-metrics";
import { renderMoeMetrics } from "./moe-metrics";
import { renderKvMetrics } from "./kv-metrics";
import { type WireLimits, type WireRequest, decodeRequest, encodeResponse } from "./wire";
import { mediaTypes, negotiateFormat, requestFormat } from "./negotiate";
import { readBody } from "./body";
import { errorResponse } from "./error-response";

export interface AppOptions extends RegistryOptions {
  /** name -> model file path (any path: the model root confines PUT only; relative ones resolve against it), loaded at start (or lazily with `lazy`). */
  models?: Record<string, string>;
  lazy?: boolean;
  /** Required in `Authorization: Bearer <key>` or `x-api-key` when set. */
  apiKey?: string;
  /** Largest request body in bytes (413 beyond). Default 16 MiB. */
  maxBodyBytes?: number;
  limits?: Partial<WireLimits>;
  /** Default (and longest) per-request deadline, ms. Default 1000. */
  defaultDeadlineMs?: number;
  /** Request coalescing per model (default: static, 2048 rows, 2 ms, 16384 queued rows, shedLate). */
  coalescing?: Partial<Omit<CoalescerOptions, "defaultDeadlineMs">>;
}

export interface RankfnApp {
  app: Hono;
  registry: ModelRegistry;
  metrics: ServerMetrics;
  /** Resolves when the initial models are loaded and warm (the app answers /healthz and /readyz before). */
  ready: Promise<void>;
  close(): Promise<void>;
}

const json = (c: Context, body: unknown, status = 200) => c.json(body as never, status as never);

/** Build the app (and load its models). */
export function createApp(options: AppOptions = {}): RankfnApp {
  const metrics = new ServerMetrics();
  // One coalescer per model version: a hot swap drains the old one while the new one fills.
  const coalescers = new Map<ModelVersion, Coalescer<ValidRequest, RankResponse | RankfnError>>();
  const registry = new ModelRegistry({
    // Every version is warmed up to the largest batch the coalescer forms before it serves.
    warmRows: options.coalescing?.maxBatchRows ?? 2048,
    ...options,
    onDispose: (v) => {
      void coalescers.get(v)?.close();
      coalescers.delete(v);
      options.onDispose?.(v);
    },
    onLoad: (v) => {
      metrics.coldStarts.inc({ model: v.name });
      metrics.coldStartSeconds.observe(v.coldStartMs / 1000, { model: v.name });
      options.onLoad?.(v);
    },
  });
  const limits: WireLimits = { maxRows: 4096, maxElements: 4 << 20, ...options.limits };
  const maxBody = options.maxBodyBytes ?? 16 << 20;
  const defaultDeadline = options.defaultDeadlineMs ?? 1000;
  const coalescing: CoalescerOptions = { policy: "static", maxBatchRows: 2048, maxQueueDelayUs: 2000, maxQueueRows: 16384, shedLate: true, ...options.coalescing, defaultDeadlineMs: defaultDeadline };
  // A bad coalescing setting fails here, at start, not as a 500 on the first request.
  checkOptions(coalescing);
  createQueueDelayPolicy(coalescing);
  const coalescerFor = (v: ModelVersion) => {
    let co = coalescers.get(v);
    if (!co) {
      const created: Coalescer<ValidRequest, RankResponse | RankfnError> = new Coalescer<ValidRequest, RankResponse | RankfnError>(async (requests, queueMs, budgetMs) => {
        // A remote embedding fetch never outlives the batch's earliest deadline. A request
        // whose own input still fails the batch gets its error in its slot; the others are scored.
        // The requests queued behind this batch get their remote rows prefetched while it computes.
        const res = await v.model.run(requests, queueMs, { timeoutMs: budgetMs, next: () => created.peekNext() });
        const rows = requests.reduce((a, r, i) => a + (res[i] instanceof RankfnError ? 0 : r.rows), 0);
        const model = labelsOf(v.name).model;
        metrics.batchRows.observe(rows, model);
        metrics.rows.inc(model, rows);
        for (const q of queueMs) metrics.queueDelay.observe(q / 1000, model);
        return res;
      }, coalescing);
      co = created;
      coalescers.set(v, co);
    }
    return co;
  };
  // Interned label sets per model name (names of loaded models, or ""): every request observes them.
  const labels = new Map<string, { model: Labels; status: Map<number, Labels> }>();
  const labelsOf = (model: string) => {
    let l = labels.get(model);
    if (!l) labels.set(model, (l = { model: labelSet({ model }), status: new Map() }));
    return l;
  };
  const statusLabels = (model: string, status: number) => {
    const l = labelsOf(model);
    let s = l.status.get(status);
    if (!s) l.status.set(status, (s = labelSet({ model, status: String(status) })));
    return s;
  };
  // Binary tensors read in place from request bodies, or copied to align them, per loaded model.
  const wireCopies = new WeakMap<object, WireRequest["copies"]>();
  const app = new Hono();

  app.onError(errorResponse);

  // Only a server with a key pays for the middleware.
  const key = options.apiKey;
  if (key) app.use("/v1/*", async function apiKey(c, next) {
    const given = c.req.header("x-api-key") ?? c.req.header("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
    const a = Buffer.from(given);
    const b = Buffer.from(key);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new RankfnError("missing or wrong API key", "unauthorized", 401);
    return next();
  });

  app.get("/healthz", (c) => c.text("ok"));
  // Liveness never waits for models; readiness lists each model's state until every one serves.
  app.get("/readyz", (c) => json(c, { ready: registry.ready(), models: registry.states() }, registry.ready() ? 200 : 503));
  app.get("/metrics", (c) => {
    const embeddings = registry.list().flatMap(({ name }) => {
      const stats = registry.current(name)?.model.stats().embeddings;
      return stats ? [{ model: name, stats }] : [];
    });
    const moe = registry.list().flatMap(({ name }) => {
      const stats = registry.current(name)?.model.stats().moe;
      return stats ? [{ model: name, moe: stats }] : [];
    });
    const kv = registry.list().flatMap(({ name }) => {
      const v = registry.current(name);
      const stats = v?.model.stats().kvCache;
      return v && stats ? [{ model: name, version: String(v.version), kv: stats }] : [];
    });
    return c.text(`${metrics.render()}${renderEmbeddingMetrics(embeddings)}${moe.length ? `\n${renderMoeMetrics(moe)}` : ""}${kv.length ? `\n${renderKvMetrics(kv)}` : ""}`, 200, { "Content-Type": "text/plain; version=0.0.4" });
  });

  app.get("/v1/models", (c) => json(c, { models: registry.list() }));

  app.get("/v1/models/:name", async (c) => {
    const v = await registry.acquire(c.req.param("name"));
    try {
      const info = v.model.inspect();
      return json(c, { name: v.name, version: v.version, inputs: info.inputs, outputs: info.outputs, params: info.params, precision: info.precision, stats: withWireCopies(v.model.stats(), wireCopies.get(v.model)), coldStartMs: v.coldStartMs });
    } finally {
      registry.release(v);
    }
  });

  app.put("/v1/models/:name", async (c) => {
    const body = (await c.req.json().catch(() => null)) as { path?: unknown } | null;
    if (!body || typeof body.path !== "string") throw new RankfnError('body: expected {"path": "<model file under the model root>"}', "bad_body", 400);
    const v = await registry.load(c.req.param("name"), body.path);
    return json(c, { name: v.name, version: v.version, coldStartMs: v.coldStartMs });
  });

  app.delete("/v1/models/:name", async (c) => {
    const removed = await registry.remove(c.req.param("name"));
    if (!removed) throw new RankfnError(`model "${c.req.param("name")}" is not loaded`, "model_not_found", 404);
    metrics.dropModel(c.req.param("name"));
    labels.delete(c.req.param("name"));
    return c.body(null, 204);
  });

  app.post("/v1/models/:name/rank", async (c) => {
    const t0 = performance.now();
    const name = c.req.param("name");
    let status = 200;
    try {
      const contentType = c.req.header("content-type");
      // 406 before reading a body we could not answer.
      const format = negotiateFormat(c.req.header("accept"), requestFormat(contentType));
      const body = await readBody(c.req.raw, maxBody);
      const v = await registry.acquire(name);
      try {
        const wire = decodeRequest(body, contentType, v.model.graphInputs, limits);
        const counted = wireCopies.get(v.model) ?? { inPlace: 0, unaligned: 0 };
        wireCopies.set(v.model, counted);
        counted.inPlace += wire.copies.inPlace;
        counted.unaligned += wire.copies.unaligned;
        // Checked alone against the model before it is queued: a bad request never joins a batch.
        const valid = v.model.validate(wire.request);
        const co = coalescerFor(v);
        // The deadline runs from when the request arrived: reading, decoding and validating it
        // (slow on a saturated CPU) is part of its budget, so shedding sees the time really left.
        const spent = performance.now() - t0;
        const left = Math.min(defaultDeadline, wire.deadlineMs ?? Infinity) - spent;
        if (left <= 0) throw new RankfnError(`deadline exceeded before the request was queued (reading and checking it took ${spent.toFixed(1)} ms)`, "deadline_exceeded", 504);
        const res = await co.submit(valid, { rows: valid.rows, priority: wire.priority, deadlineMs: left, signal: c.req.raw.signal });
        if (res instanceof RankfnError) throw res;
        metrics.queueDepth.set(labelsOf(name).model, co.queueDepthRows);
        const coldStart = firstResponse(v);
        const payload = encodeResponse(
          { outputs: res.outputs, model: v.name, version: v.version, timing: { queue_ms: res.timing.queueMs, compute_ms: res.timing.computeMs, ...(coldStart ? { cold_start_ms: v.coldStartMs } : {}) }, ...(res.degraded ? { degraded: true } : {}), ...(res.truncated ? { truncated: res.truncated } : {}) },
          format === "msgpack",
        );
        return c.body(payload as never, 200, { "Content-Type": mediaTypes[format], Vary: "Accept" });
      } finally {
        registry.release(v);
      }
    } catch (err) {
      status = err instanceof RankfnError ? err.status : 500;
      throw err;
    } finally {
      // Only names of models that exist become label values: unknown names share model="".
      const model = registry.has(name) ? name : "";
      metrics.requests.inc(statusLabels(model, status), 1);
      metrics.latency.observe((performance.now() - t0) / 1000, labelsOf(model).model);
    }
  });

  // The operator's own paths are trusted (any path). Every model is registered and its load under
  // way when createApp returns, so /readyz lists them from the first moment; the loads themselves
  // start on a later turn (registry.load), so a server started right after is already listening.
  const initial = Object.entries(options.models ?? {});
  for (const [name, path] of initial) registry.register(name, path, { trusted: true });
  const ready = options.lazy ? Promise.resolve() : Promise.all(initial.map(([name]) => registry.load(name))).then(() => undefined);
  // A failed start-up load shows in /readyz (and rejects `ready` for whoever awaits it), never as an unhandled rejection.
  ready.catch(() => undefined);
  const close = async () => {
    await Promise.all([...coalescers.values()].map((co) => co.close()));
    await registry.close();
  };
  return { app, registry, metrics, ready, close };
}

function firstResponse(v: ModelVersion): boolean {
  if (v.firstServed) return false;
  v.firstServed = true;
  return true;
}

/** A model's stats with the body decoding's copies beside the engine's (how rows moved from the wire to the kernels). */
function withWireCopies<S extends { copies: object }>(stats: S, wire: WireRequest["copies"] | undefined): S {
  return { ...stats, copies: { wire: wire ?? { inPlace: 0, unaligned: 0 }, ...stats.copies } };
}
