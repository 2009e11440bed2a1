// The model as the engine runs it: a compiled graph, its executor (inline or
// on a Worker), its request validator and stager, and the remote embedding
// tier. The request pipeline is two calls: validate() checks ONE request
// against the model's inputs (a bad request is answered alone and never joins
// a batch), run() stages validated requests, gathers remote rows, executes and
// slices the outputs back per request — a request whose own input still fails
// the batch (a computed id out of range, a remote tier rejecting its rows)
// fails alone. The SDK's rank() and the server both go through these calls.
import { compile, type CompileOptions } from "../compiler/compile";
import { type CopyCounts, Executor, type OutputView, type ProfileLine } from "./executor";
import { contextBuckets, rowBuckets, rowCapacity } from "./row-buckets";
import { type ModelInspection, type ParallelStats, inspectExecutor } from "./inspection";
import { WorkerExecutor } from "./worker-executor";
import { BatchBuffers, DirectBuffers, type RequestSlice, ReusedBuffers, Stager, type StagingCopies } from "./stager";
import { RequestValidator, type ValidRequest } from "./validate";
import type { BuiltModel } from "../graph/builder";
import type { GraphInput } from "../graph/schema";
import type { ExpertParallelConfig, MoeStats } from "../moe/expert-parallel";
import type { PlacementReport } from "../moe/placement";
import { tensor, type Tensor } from "../tensor/tensor";
import type { RankRequest, RankResponse } from "./request";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import { EmbeddingResolver, embeddingTables, remoteUses } from "../embeddings/resolver";
import { RemoteEmbeddings, type RemoteEmbeddingOptions, type RemoteEmbeddingStats, type TableSpec } from "../embeddings/remote-tables";
import { rowDTypes, type RowDType } from "../embeddings/row-codec";
import { hotRowCount, hotRowIds } from "../embeddings/hot-rows";
import { type DynamicDim, type ShapeBucketOptions, ShapeRouter } from "./shape-buckets";
import { type KvCacheOptions, type KvCacheStats, checkKvCacheOptions } from "./kv-cache";
import type { TokenCounts } from "./jagged-tokens";
import { type SequenceParallelConfig, type SequenceParallelStats, checkSequenceParallel } from "../sequence-parallel/sequence-parallel";
import type { Device } from "../devices";
import { type ParallelConfig, checkParallel } from "../parallel/parallel-options";

export type { ModelInspection, TensorInfo } from "./inspection";

export interface ModelStats {
  requests: number;
  rows: number;
  batches: number;
  computeMs: number;
  /**
   * How request rows moved from the caller to the kernels and back: per input of each request,
   * read in place or copied while staging; per input and output of each run, read / written in
   * place or copied into / out of the plan (the worker's counts in worker mode).
   */
  copies: { staging: StagingCopies; plan: CopyCounts };
  /** Expert parallelism (when the model runs with `experts`): devices, per-layer load, imbalance, placement. */
  moe?: MoeStats;
  /** The user-history KV cache (with `kvCache`): hits, misses, tokens reused and computed, bytes, evictions (the worker's in worker mode). */
  kvCache?: KvCacheStats;
  /** History tokens stored jagged (values + offsets): tokens the per-token ops computed, and the slots a padded layout would have (the worker's in worker mode; models with such histories). */
  historyTokens?: TokenCounts;
}

export interface ModelOptions extends CompileOptions {
  maxBatch?: number;
  /**
   * Run batches on a dedicated Worker thread, so a long batch never blocks this
   * thread's event loop (what a server wants). Default false: run on the calling
   * thread (lowest latency in-process).
   */
  worker?: boolean;
  /** The model file, when loaded from one (a worker maps it itself instead of receiving copies). */
  path?: string;
  threads?: number;
  /** Serve some (or all) embedding tables from Redis through the hot-row and host caches. */
  embeddings?: RemoteEmbeddingOptions;
  /**
   * Run MoE layers expert-parallel over devices, e.g. `{ devices: "cpu:2", capacityFactor: 1.25,
   * overflow: "drop", replicate: { threshold: 0.25 }, replanEvery: 100 }` (runtime/moe).
   */
  experts?: ExpertParallelConfig;
  /**
   * Dynamic dimensions after the batch (a history length that differs between requests): the
   * model of each size bucket is built by `build` (e.g. an ONNX import at those sizes) and
   * compiled on first use; `built` is the model at the largest sizes.
   */
  shapes?: { dims: DynamicDim[]; buckets: ShapeBucketOptions; build: (sizes: Record<string, number>) => BuiltModel };
  /**
   * Cache each user's history K/V across requests (issue 16): `{ mb: 256 }` (native tier MiB),
   * optionally `dtype` "bf16" / "i8", a `host` tier, a `version`. Requests opt in with `user`.
   */
  kvCache?: KvCacheOptions;
  /**
   * Sequence parallelism (issue 16): a request whose history has at least `minLength` (default
   * 4096) events runs its HSTU layers split over `devices` ("cpu:2", "cpu:2x1" or opened
   * devices) — GEMMs by rows, causal attention by zig-zag query blocks, candidate attention by
   * kv shards, merged. Shorter histories run as without it.
   */
  sequenceParallel?: SequenceParallelConfig;
  /** The local devices `parallel` spreads the model over: a spec ("cpu:2", "cpu:3x1", "opencl") or opened devices (the caller keeps ownership). */
  devices?: string | Device[];
  /**
   * How the model spreads over `devices` (issue 20), per part: `{ embeddings: "table" | "row" |
   * "column" | "replicated" }` shards the pooled embedding tables (or `{ default, tables }` per
   * table); `{ dense: "tensor" | "replicate" }` splits the chains of linears over the devices
   * (Megatron-style pairs with one reduce each, or each device a share of the rows);
   * `{ pipeline: true | { stages, microbatch } }` cuts the plan into stages, one per CPU core
   * group, and runs each batch as microbatches flowing through them (runtime/parallel/pipeline.ts).
   * "auto": the planner picks per batch-size bucket among what the model can run on the devices
   * (runtime/parallel/auto-parallel.ts; predictions and picks in inspect().parallel.auto).
   */
  parallel?: ParallelConfig;
}

export class Model {
  readonly name: string;
  /** Inline mode: the compiled model's executor and the compiler's summaries. In worker mode the worker compiles (once). */
  readonly #inline: { executor: Executor; summaries: string[] } | undefined;
  readonly #worker: WorkerExecutor | undefined;
  readonly #graphInputs: GraphInput[];
  readonly #stager: Stager;
  readonly #validator: RequestValidator;
  readonly #ready: Promise<void>;
  #disposed = false;
  readonly #options: ModelOptions;
  readonly #stats = { requests: 0, rows: 0, batches: 0, computeMs: 0 };
  /** Staging buffers of inputs the plan has no slot for (inline runs). */
  readonly #rest = new ReusedBuffers();
  readonly #remote: RemoteEmbeddings | undefined;
  #resolver: EmbeddingResolver | undefined;
  /** Dynamic dimensions: each size bucket's own Model, and the requests' padding to them. */
  readonly #router: ShapeRouter<Model> | undefined;

  constructor(built: BuiltModel, options: ModelOptions = {}) {
    this.name = built.graph.name;
    this.#options = options;
    checkParallel(options.devices, options.parallel);
    if (options.shapes) {
      const { shapes, ...rest } = options;
      if (options.embeddings || options.experts || options.kvCache || options.sequenceParallel || options.parallel) throw new RankfnError("dynamic dimensions (dims) cannot be combined with remote embeddings, expert parallelism, a KV cache, sequence parallelism or parallel strategies yet", "bad_option", 400);
      this.#router = new ShapeRouter(shapes.dims, shapes.buckets, built.graph.inputs, (sizes) => new Model(shapes.build(sizes), rest));
      this.#graphInputs = built.graph.inputs;
      this.#stager = new Stager(built.graph);
      this.#validator = new RequestValidator(built.graph);
      this.#ready = Promise.resolve();
      return;
    }
    if (options.kvCache) checkKvCacheOptions(options.kvCache);
    if (options.sequenceParallel) checkSequenceParallel(options.sequenceParallel);
    if (options.worker && options.sequenceParallel && typeof options.sequenceParallel.devices !== "string") {
      throw new RankfnError('worker mode opens its devices itself: pass sequenceParallel.devices as a spec ("cpu:2"), not opened devices', "bad_option", 400);
    }
    if (options.worker && options.parallel && typeof options.devices !== "string") {
      throw new RankfnError('worker mode opens its devices itself: pass devices as a spec ("cpu:2"), not opened devices', "bad_option", 400);
    }
    if (options.worker && options.kvCache?.store) throw new RankfnError("kvCache.store: a worker creates its own store (pass mb, dtype and host instead)", "bad_option", 400);
    if (options.worker && options.experts && typeof options.experts.devices !== "string") {
      throw new RankfnError('worker mode opens its devices itself: pass experts.devices as a spec ("cpu:2"), not opened devices', "bad_option", 400);
    }
    const remoteTables = options.embeddings ? remoteTableSpecs(built, options.embeddings) : [];
    const remoteNames = remoteTables.map((t) => t.name);
    if (options.embeddings) this.#remote = new RemoteEmbeddings(remoteTables, this.name, options.embeddings);
    // Validation and staging need only the inputs and the tables' row counts, which compiling
    // keeps: in worker mode the caller's thread never compiles.
    let graph = built.graph;
    if (options.worker) {
      const worker = new WorkerExecutor(options.path ?? built, { ...options, devices: typeof options.devices === "string" ? options.devices : undefined, remoteTables: remoteNames });
      this.#worker = worker;
      // Remote rows are gathered for the worker's compiled graph (its fused embedding ops).
      this.#ready = worker.ready.then(({ graph: compiled }) => {
        if (this.#remote) this.#resolver = new EmbeddingResolver(remoteUses(compiled, new Set(remoteNames)), this.#remote);
      });
      this.#ready.catch(() => undefined);
    } else {
      const { model, summaries } = compile(built, options);
      // Packs weights lazily, on the first batch of each bucket.
      const executor = new Executor(model, { maxBatch: options.maxBatch, remoteTables: remoteNames, experts: options.experts, kvCache: options.kvCache, sequenceParallel: options.sequenceParallel, devices: options.devices, parallel: options.parallel });
      this.#inline = { executor, summaries };
      if (this.#remote) this.#resolver = new EmbeddingResolver(remoteUses(executor.model.graph, executor.remoteTables), this.#remote);
      graph = model.graph;
      this.#ready = Promise.resolve();
    }
    this.#graphInputs = graph.inputs;
    this.#stager = new Stager(graph);
    this.#validator = new RequestValidator(graph);
  }

  /** Names of the tables served by the remote tier (empty when all are local). */
  get remoteTables(): string[] {
    return this.#remote?.tableNames ?? [];
  }

  /** The model's inputs (names, dtypes, per-row shapes, roles): what a request must carry. */
  get graphInputs(): GraphInput[] {
    return this.#graphInputs;
  }

  /** Resolves once the model can score (worker mode: the worker has loaded and compiled it; remote tables: updates are followed). */
  async ready(): Promise<void> {
    if (this.#router) await Promise.all(this.#router.models.map((m) => m.ready()));
    await this.#ready;
    await this.#remote?.ready();
  }

  /**
   * Build the plan of every batch-size bucket up to `maxRows` (default: the model's maxBatch) and
   * run each once on one zero-valued row, so no request pays for packing weights, planning
   * memory or a first (JIT) run — what a server does before it reports ready. A bucket is planned
   * at its full size but never run full-size: warming costs planning plus one small run per bucket.
   * Models with remote embedding tables skip it (warming would fetch rows from Redis), and so do
   * models running experts on devices (zero rows all route to one expert and would skew the
   * routing statistics that drive expert placement). Returns the buckets planned.
   */
  async warm(maxRows = this.#maxBatch): Promise<number[]> {
    if (this.#router) {
      // Every size bucket is made and warmed: no request pays for an import or a first run.
      let buckets: number[] = [];
      for (const sizes of this.#router.allSizes()) buckets = await this.#router.model(sizes).warm(maxRows);
      return buckets;
    }
    await this.#ready;
    if (this.#resolver || this.#options.experts) return [];
    const buckets = rowBuckets(Math.min(maxRows, this.#maxBatch));
    const valid = [this.validate({ rows: Object.fromEntries(this.graphInputs.map((input) => [input.name, zeroRows(input, 1)])) })];
    for (const rows of buckets) {
      // Each bucket's plans for a few requests, a few dozen, and one per row (flat batches).
      for (const contextRows of contextBuckets(rowCapacity(rows, this.#maxBatch))) {
        const lane = this.#worker?.acquire();
        try {
          const { batch } = this.#stager.stage(valid, lane);
          const run = { minCapacity: rows, minContextCapacity: Math.min(contextRows, rows) };
          if (this.#worker) await this.#worker.run(batch, lane!, run);
          else this.#inline!.executor.run(batch, run);
        } finally {
          if (lane) this.#worker!.release(lane);
        }
      }
    }
    return buckets;
  }

  /**
   * Check one request against the model's inputs (features, roles, dtypes, shapes, finite
   * values, ids within their tables); throws a RequestError (400) naming the field.
   * `where` prefixes the message (e.g. "request 2: ").
   */
  validate(request: unknown, where = ""): ValidRequest {
    if (this.#disposed) throw new RankfnError("model used after dispose()", "disposed", 500);
    if (this.#router) return this.#router.validate(request, where);
    return this.#validator.validate(request, where);
  }

  /**
   * Score one request: `{ context, candidates }` (one user × N items) or `{ rows }` (flat).
   * @example const { outputs } = await model.rank({ context: { user: u }, candidates: { item: items } });
   */
  async rank(request: RankRequest): Promise<RankResponse> {
    return (await this.rankMany([request]))[0]!;
  }

  /**
   * Score several requests as one batch; throws the first request's error if any fails
   * (the others are still scored). `timeoutMs` caps the wait for remote embedding rows
   * below the model's own `embeddings.timeoutMs`.
   */
  async rankMany(requests: RankRequest[], queueMs: number[] = [], { timeoutMs, next }: { timeoutMs?: number; next?: RankRequest[] } = {}): Promise<RankResponse[]> {
    // A next batch that does not validate is not prefetched (it fails on its own run).
    const upcoming = next ? () => next.flatMap((r) => { try { return [this.validate(r)]; } catch { return []; } }) : undefined;
    return firstFailure(await this.run(this.#validateAll(requests), queueMs, { timeoutMs, next: upcoming }));
  }

  /**
   * rank() on the calling thread, without the promise (not in worker mode). With remote tables it
   * runs when every row the request needs is in this process (hot/cold split, hot or host cache),
   * and otherwise throws a RankfnError (503, remote_rows_not_local): it never waits for Redis.
   */
  rankSync(request: RankRequest): RankResponse {
    return this.rankManySync([request])[0]!;
  }

  /** rankMany() on the calling thread. */
  rankManySync(requests: RankRequest[], queueMs: number[] = []): RankResponse[] {
    return firstFailure(this.runSync(this.#validateAll(requests), queueMs));
  }

  /**
   * Run validated requests as one batch: one result per request, in order — its response,
   * or the RankfnError that failed it alone. An error that is not any one request's (a
   * device failing, the remote tier down under the "fail" policy) rejects the whole call.
   * `next`: the requests queued behind this batch (the coalescer's next batch); with remote
   * tables (and `embeddings.prefetch`) their missed rows are fetched while this batch computes.
   */
  async run(requests: readonly ValidRequest[], queueMs: number[] = [], { timeoutMs, next }: { timeoutMs?: number; next?: () => readonly ValidRequest[] } = {}): Promise<(RankResponse | RankfnError)[]> {
    if (this.#router) return this.#router.run(requests, queueMs, { timeoutMs });
    if (!this.#worker && !this.#resolver) return this.runSync(requests, queueMs);
    await this.#ready;
    try {
      return await this.#runBatch(requests, queueMs, timeoutMs, next);
    } catch (err) {
      if (requests.length === 1 || !isRequestFault(err)) throw err;
      // One request's input failed the batch: run each alone, so only that one fails.
      const out: (RankResponse | RankfnError)[] = [];
      for (let i = 0; i < requests.length; i++) out.push(await this.#runBatch([requests[i]!], [queueMs[i] ?? 0], timeoutMs).then((r) => r[0]!, requestFault));
      return out;
    }
  }

  /** run() on the calling thread (not in worker mode; with remote tables, only from rows held locally: see rankSync). */
  runSync(requests: readonly ValidRequest[], queueMs: number[] = []): (RankResponse | RankfnError)[] {
    if (this.#router) return this.#router.runSync(requests, queueMs);
    if (this.#worker) throw new RankfnError(`model "${this.name}" computes on a worker: use rank() / rankMany() (async)`, "worker_async", 400);
    try {
      return this.#runInline(requests, queueMs);
    } catch (err) {
      if (requests.length === 1 || !isRequestFault(err)) throw err;
      return requests.map((request, i) => {
        try {
          return this.#runInline([request], [queueMs[i] ?? 0])[0]!;
        } catch (e) {
          return requestFault(e);
        }
      });
    }
  }

  #validateAll(requests: RankRequest[]): ValidRequest[] {
    return requests.map((request, i) => this.validate(request, requests.length > 1 ? `request ${i}: ` : ""));
  }

  #runInline(requests: readonly ValidRequest[], queueMs: number[]): RankResponse[] {
    const t0 = performance.now();
    const executor = this.#inline!.executor;
    // One request: its own arrays where the plan can read them in place; everything else (several
    // requests, or an input a step holds the storage of) is staged straight into the plan's slots.
    const rows = batchRows(requests);
    const into = new DirectBuffers(executor.inputStorage(...rows), this.#rest);
    const { batch, slices } = this.#stager.stage(requests, into, { inPlace: requests.length === 1 ? executor.bindableInputs(...rows) : undefined });
    const gathered = this.#resolver?.resolveLocal(batch);
    const out = executor.run(batch, { gathered, outputs: "owned" });
    return this.#respond(requests, slices, out, batch.n, performance.now() - t0, queueMs);
  }

  async #runBatch(requests: readonly ValidRequest[], queueMs: number[], timeoutMs: number | undefined, next?: () => readonly ValidRequest[]): Promise<RankResponse[]> {
    const t0 = performance.now();
    // Worker mode: staged straight into a shared-memory lane the worker reads in place; the worker
    // writes the outputs into fresh shared buffers that become the responses. Inline (awaiting the
    // remote tier, while other batches may run): the batch keeps buffers of its own.
    const lane = this.#worker?.acquire();
    try {
      const { batch, slices } = lane ? this.#stager.stage(requests, lane) : this.#stager.stage(requests, new BatchBuffers(), { inPlace: this.#inline!.executor.bindableInputs(...batchRows(requests)) });
      let gathered: Awaited<ReturnType<EmbeddingResolver["resolve"]>> | undefined;
      if (this.#resolver) {
        const limit = this.#remote!.options.timeoutMs;
        gathered = await this.#resolver.resolve(batch, timeoutMs === undefined ? limit : Math.max(1, Math.min(limit, timeoutMs)));
        if (next && this.#remote!.options.prefetch) await this.#prefetchNext(next);
      }
      const out = this.#worker ? await this.#worker.run(batch, lane!, { gathered: gathered?.rows, handOff: true }) : this.#inline!.executor.run(batch, { gathered: gathered?.rows, outputs: "owned" });
      return this.#respond(requests, slices, out, batch.n, performance.now() - t0, queueMs, (gathered?.defaulted ?? 0) > 0);
    } finally {
      if (lane) this.#worker!.release(lane);
    }
  }

  /**
   * Issue the fetch of the next batch's missed rows, then yield one event-loop turn so its
   * commands are written before this batch computes (inline compute holds the thread). A next
   * batch that cannot be staged is skipped: it fails on its own run, never this one.
   */
  async #prefetchNext(next: () => readonly ValidRequest[]): Promise<void> {
    let rows = 0;
    try {
      const requests = next();
      if (requests.length === 0) return;
      rows = this.#resolver!.prefetch(this.#stager.stage(requests, new BatchBuffers()).batch);
    } catch (err) {
      if (!(err instanceof RankfnError)) throw err;
      return;
    }
    if (rows > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** `out` holds this batch's own output arrays: each response gets views of its rows. */
  #respond(requests: readonly ValidRequest[], slices: RequestSlice[], out: Record<string, OutputView>, rows: number, computeMs: number, queueMs: number[], degraded = false): RankResponse[] {
    this.#stats.requests += slices.length;
    this.#stats.rows += rows;
    this.#stats.batches += 1;
    this.#stats.computeMs += computeMs;
    return slices.map((slice, i) => {
      const truncated = requests[i]!.truncated;
      return { outputs: sliceOutputs(out, slice), model: this.name, timing: { queueMs: queueMs[i] ?? 0, computeMs }, ...(degraded ? { degraded } : {}), ...(truncated ? { truncated: { ...truncated } } : {}) };
    });
  }

  /**
   * Inputs and outputs with roles, parameters, precision, compiler passes and memory plans —
   * in worker mode as the worker compiled and planned them (after ready()).
   */
  inspect(): ModelInspection {
    if (this.#router) {
      // The largest bucket's model, with the buckets the dynamic dimensions are planned in.
      const largest = this.#router.allSizes().at(-1)!;
      return { ...this.#router.model(largest).inspect(), dims: { dynamic: this.#router.dims, buckets: this.#router.allSizes() } };
    }
    if (this.#inline) return inspectExecutor(this.#inline.executor, this.#inline.summaries, this.#options);
    const inspection = this.#worker!.inspection;
    if (!inspection) throw new RankfnError(`model "${this.name}" is still loading on its worker: await model.ready() before inspect()`, "not_ready", 503);
    return inspection;
  }

  /** Counters since load, the per-op profile under RANKFN_PROFILE=1 (the worker's in worker mode), per-tier embedding counters when tables are remote, and MoE counters when experts run on devices. */
  stats(): ModelStats & { profile: ProfileLine[]; embeddings?: RemoteEmbeddingStats; moe?: MoeStats; sequenceParallel?: SequenceParallelStats; parallel?: ParallelStats } {
    if (this.#router) return sumStats(this.#router.models.map((m) => m.stats()));
    const moe = this.#inline?.executor.experts?.stats() ?? this.#worker?.moeStats;
    const profile = this.#inline ? this.#inline.executor.profile() : this.#worker!.profile;
    const copies = { staging: { ...this.#stager.copies }, plan: { ...(this.#inline?.executor.copies ?? this.#worker!.copies) } };
    const kvCache = this.#inline ? this.#inline.executor.kvCache?.stats() : this.#worker!.kvCache;
    const sequenceParallel = this.#inline?.executor.sequenceParallel?.stats();
    const parallel = this.#inline ? this.#inline.executor.parallelStats() : this.#worker!.parallelStats;
    const tokens = this.#inline?.executor.historyTokens ?? this.#worker?.historyTokens;
    const historyTokens = tokens && tokens.slots > 0 ? { historyTokens: tokens } : {};
    return { ...this.#stats, copies, profile, ...(this.#remote ? { embeddings: this.#remote.stats() } : {}), ...(moe ? { moe } : {}), ...(kvCache ? { kvCache } : {}), ...(sequenceParallel ? { sequenceParallel } : {}), ...(parallel ? { parallel } : {}), ...historyTokens };
  }

  /** Re-place every MoE layer's experts from the routing seen since the last re-plan (inline mode). */
  replanExperts(): Record<string, PlacementReport> {
    const experts = this.#inline?.executor.experts;
    if (!experts) throw new RankfnError(`model "${this.name}" does not run expert-parallel inline (pass { experts } without worker)`, "no_experts", 400);
    return experts.replan();
  }

  get #maxBatch(): number {
    return this.#inline?.executor.maxBatch ?? this.#options.maxBatch ?? 4096;
  }

  /**
   * Replace rows of a remote embedding table: written to Redis and announced,
   * so this model and every server following the same tables use them from the
   * next batch on, without a restart.
   * @example await model.updateEmbeddings("emb_0.table", [12], new Float32Array(128).fill(0.5));
   */
  async updateEmbeddings(table: string, ids: number[], rows: Float32Array): Promise<void> {
    if (!this.#remote) throw new RankfnError(`model "${this.name}" has no remote embedding tables (load it with the embeddings option)`, "no_remote_tables", 400);
    await this.#remote.update(table, ids, rows);
  }

  /** Free native memory (packed weights, arenas) and the worker; the model is unusable afterwards. */
  dispose(): void {
    this.#disposed = true;
    this.#router?.dispose();
    this.#inline?.executor.dispose();
    this.#worker?.dispose();
    this.#remote?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The counters of several size buckets' models, added up (profiles side by side). */
function sumStats(all: (ModelStats & { profile: ProfileLine[] })[]): ModelStats & { profile: ProfileLine[] } {
  const add = <T extends object>(a: T, b: T) => Object.fromEntries(Object.keys(a).map((k) => [k, (a as Record<string, number>)[k]! + (b as Record<string, number>)[k]!])) as T;
  const zero = { requests: 0, rows: 0, batches: 0, computeMs: 0, copies: { staging: { inPlace: 0, copied: 0, bytesCopied: 0 }, plan: { inputsInPlace: 0, inputsCopied: 0, outputsInPlace: 0, outputsCopied: 0, bytesCopied: 0 } }, profile: [] as ProfileLine[] };
  return all.reduce(
    (acc, s) => ({
      requests: acc.requests + s.requests,
      rows: acc.rows + s.rows,
      batches: acc.batches + s.batches,
      computeMs: acc.computeMs + s.computeMs,
      copies: { staging: add(acc.copies.staging, s.copies.staging), plan: add(acc.copies.plan, s.copies.plan) },
      profile: [...acc.profile, ...s.profile],
    }),
    zero,
  );
}

/** A failure caused by one request's own input (a 4xx), which must not fail the others in its batch. */
function isRequestFault(err: unknown): err is RankfnError {
  return err instanceof RankfnError && err.status >= 400 && err.status < 500;
}

function requestFault(err: unknown): RankfnError {
  if (isRequestFault(err)) return err;
  throw err;
}

function firstFailure(results: (RankResponse | RankfnError)[]): RankResponse[] {
  const failed = results.find((r) => r instanceof RankfnError);
  if (failed) throw failed;
  return results as RankResponse[];
}

/** A request's rows of each output: views of the batch's own output arrays (contiguous rows), no copy. */
function sliceOutputs(out: Record<string, OutputView>, slice: RequestSlice): Record<string, Tensor<"f32">> {
  const result: Record<string, Tensor<"f32">> = {};
  for (const [name, view] of Object.entries(out)) {
    const [start, count] = view.role === "candidate" ? [slice.start, slice.count] : [slice.contextStart, slice.contextCount];
    result[name] = { dtype: "f32", shape: [count, view.width], data: view.data.subarray(start * view.width, (start + count) * view.width) };
  }
  return result;
}

/** The candidate rows and context rows of a batch of `requests`. */
function batchRows(requests: readonly ValidRequest[]): [number, number] {
  let n = 0;
  let r = 0;
  for (const req of requests) {
    n += req.rows;
    r += req.contextRows;
  }
  return [Math.max(n, r), r];
}

/** The tables named remote, with their shape and row encoding from the model file (and a hot/cold split's local rows). */
function remoteTableSpecs(built: BuiltModel, options: RemoteEmbeddingOptions): TableSpec[] {
  const all = embeddingTables(built.graph);
  const perTable = typeof options.tables === "object" && !Array.isArray(options.tables) ? options.tables : undefined;
  const names = options.tables === "all" ? all : perTable ? Object.keys(perTable) : (options.tables as string[]);
  return names.map((name) => {
    if (!all.includes(name)) throw new RankfnError(`embeddings.tables: "${name}" is not an embedding table of this model (its tables: ${all.join(", ")})`, "unknown_table", 400);
    const t = built.weights.get(name)!;
    if (!rowDTypes.includes(t.dtype as RowDType)) throw new RankfnError(`embeddings.tables: "${name}" is ${t.dtype}, remote tables hold f32, f16, bf16, u8q or u4q rows`, "bad_dtype", 400);
    const spec: TableSpec = { name, rows: t.shape[0]!, dim: t.shape[1]!, dtype: t.dtype as RowDType };
    const split = perTable?.[name];
    if (split !== undefined && split !== "remote") {
      if (split.local !== "hot") throw new RankfnError(`embeddings.tables["${name}"].local: ${JSON.stringify(split.local)} must be "hot" (or give "remote")`, "bad_option", 400);
      spec.hotIds = hotRowIds(name, spec.rows, hotRowCount(name, spec.rows, split.hotRows), split.counts);
      spec.data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    }
    return spec;
  });
}

/** `rows` rows of zeros for an input (id 0 is in every table). */
function zeroRows(input: GraphInput, rows: number): Tensor {
  const width = input.shape.reduce((a, b) => a * b, 1);
  const n = rows * width;
  if (input.dtype === "f32") return tensor("f32", [rows, width], new Float32Array(n));
  if (input.dtype === "i64") return tensor("i64", [rows, width], new BigInt64Array(n));
  if (input.dtype === "bool") return tensor("bool", [rows, width], new Uint8Array(n));
  return tensor("i32", [rows, width], new Int32Array(n));
}
