// The in-process model: a compiled graph, its executor and its request stager.
// `rank()` validates a request, runs it through the native kernels and returns
// tensors the caller owns.
import { compile, type CompileOptions } from "../runtime/compiler/compile";
import { describePlan } from "../runtime/compiler/plan-memory";
import { Executor } from "../runtime/engine/executor";
import { WorkerExecutor } from "../runtime/engine/worker-executor";
import { type RequestSlice, Stager, type StageRequest } from "../runtime/engine/stager";
import type { BuiltModel } from "../runtime/graph/builder";
import type { GraphInput } from "../runtime/graph/schema";
import type { ExpertParallelConfig, MoeStats } from "../runtime/moe/expert-parallel";
import type { PlacementReport } from "../runtime/moe/placement";
import { tensor, type Tensor } from "../runtime/tensor/tensor";
import type { RankRequest, RankResponse } from "./request";
import { RankfnError } from "../runtime/errors";
import type { TypedArray } from "../runtime/tensor/dtype";
import { EmbeddingResolver, embeddingTables, remoteUses } from "../runtime/embeddings/resolver";
import { RemoteEmbeddings, type RemoteEmbeddingOptions, type RemoteEmbeddingStats, type TableSpec } from "../runtime/embeddings/remote-tables";
import { rowDTypes, type RowDType } from "../runtime/embeddings/row-codec";

export interface TensorInfo {
  name: string;
  dtype: string;
  /** The batch dimension first, written as -1. */
  shape: number[];
  role: "context" | "candidate";
}

export interface ModelInspection {
  name: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  params: { count: number; bytes: number; byDtype: Record<string, number> };
  precision: { weights: string; tables: string };
  compiler: string[];
  memoryPlan: { capacity: number; arenaBytes: number; naiveBytes: number; summary: string }[];
}

export interface ModelStats {
  requests: number;
  rows: number;
  batches: number;
  computeMs: number;
  /** Expert parallelism (when the model runs with `experts`): devices, per-layer load, imbalance, placement. */
  moe?: MoeStats;
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
}

export class Model {
  readonly name: string;
  readonly #executor: Executor;
  readonly #worker: WorkerExecutor | undefined;
  readonly #stager: Stager;
  readonly #summaries: string[];
  readonly #options: ModelOptions;
  readonly #stats: ModelStats = { requests: 0, rows: 0, batches: 0, computeMs: 0 };
  readonly #remote: RemoteEmbeddings | undefined;
  readonly #resolver: EmbeddingResolver | undefined;

  constructor(built: BuiltModel, options: ModelOptions = {}) {
    const { model, summaries } = compile(built, options);
    this.name = built.graph.name;
    this.#summaries = summaries;
    this.#options = options;
    // The inline executor packs weights lazily (on the first batch), so a worker-mode
    // model only pays for it if inspect() asks for a memory plan.
    const remoteTables = options.embeddings ? remoteTableSpecs(built, model, options.embeddings) : [];
    // In worker mode the worker opens the devices: the inline executor only serves inspect().
    this.#executor = new Executor(model, { maxBatch: options.maxBatch, remoteTables: remoteTables.map((t) => t.name), experts: options.worker ? undefined : options.experts });
    if (options.worker && options.experts && typeof options.experts.devices !== "string") {
      throw new Error('worker mode opens its devices itself: pass experts.devices as a spec ("cpu:2"), not opened devices');
    }
    if (options.embeddings) {
      this.#remote = new RemoteEmbeddings(remoteTables, this.name, options.embeddings);
      this.#resolver = new EmbeddingResolver(remoteUses(this.#executor.model.graph, this.#executor.remoteTables), this.#remote);
    }
    this.#worker = options.worker ? new WorkerExecutor(options.path ?? built, { ...options, remoteTables: remoteTables.map((t) => t.name) }) : undefined;
    this.#stager = new Stager(model.graph);
  }

  /** Names of the tables served by the remote tier (empty when all are local). */
  get remoteTables(): string[] {
    return this.#remote?.tableNames ?? [];
  }

  /** The model's inputs (names, dtypes, per-row shapes, roles): what a request must carry. */
  get graphInputs(): GraphInput[] {
    return this.#executor.model.graph.inputs;
  }

  /** Resolves once the model can score (worker mode: the worker has loaded and compiled it; remote tables: updates are followed). */
  async ready(): Promise<void> {
    if (this.#worker) await this.#worker.ready;
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
  async warm(maxRows = this.#executor.maxBatch): Promise<number[]> {
    if (this.#resolver || this.#options.experts) return [];
    const buckets: number[] = [];
    for (let cap = 16; ; cap *= 2) {
      buckets.push(Math.min(cap, maxRows, this.#executor.maxBatch));
      if (cap >= maxRows || cap >= this.#executor.maxBatch) break;
    }
    const request = { rows: Object.fromEntries(this.graphInputs.map((input) => [input.name, zeroRows(input, 1)])) };
    for (const rows of buckets) {
      const lane = this.#worker?.acquire();
      try {
        const { batch } = this.#stager.stage([request] as StageRequest[], lane);
        if (this.#worker) await this.#worker.run(batch, lane!, rows);
        else this.#executor.run(batch, rows);
      } finally {
        if (lane) this.#worker!.release(lane);
      }
    }
    return buckets;
  }

  /**
   * Score one request: `{ context, candidates }` (one user × N items) or `{ rows }` (flat).
   * @example const { outputs } = await model.rank({ context: { user: u }, candidates: { item: items } });
   */
  async rank(request: RankRequest): Promise<RankResponse> {
    return (await this.rankMany([request]))[0]!;
  }

  /**
   * Score several requests as one batch (what the server's coalescer does).
   * `timeoutMs` caps the wait for remote embedding rows below the model's own `embeddings.timeoutMs`.
   */
  async rankMany(requests: RankRequest[], queueMs: number[] = [], { timeoutMs }: { timeoutMs?: number } = {}): Promise<RankResponse[]> {
    if (!this.#worker && !this.#resolver) return this.rankManySync(requests, queueMs);
    const t0 = performance.now();
    // Worker mode: staged straight into a shared-memory lane the worker reads; outputs come back the same way.
    const lane = this.#worker?.acquire();
    try {
      const staged = this.#stager.stage(requests as StageRequest[], lane);
      const { slices } = staged;
      let batch = staged.batch;
      let degraded = false;
      if (this.#resolver) {
        // The stager's own buffers are reused by the next call: copy them before awaiting the remote tier (a lane is this batch's alone).
        if (!lane) batch = { ...batch, inputs: copyInputs(batch.inputs), requestOfRow: batch.requestOfRow.slice(0, Math.max(1, batch.n)) };
        const limit = this.#remote!.options.timeoutMs;
        const gathered = await this.#resolver.resolve(batch, timeoutMs === undefined ? limit : Math.max(1, Math.min(limit, timeoutMs)));
        batch.gathered = gathered.rows;
        degraded = gathered.defaulted > 0;
      }
      const out = this.#worker ? await this.#worker.run(batch, lane!) : this.#executor.run(batch);
      return this.#respond(slices, out, batch.n, performance.now() - t0, queueMs, degraded);
    } finally {
      if (lane) this.#worker!.release(lane);
    }
  }

  /** rank() on the calling thread, without the promise (not in worker mode). */
  rankSync(request: RankRequest): RankResponse {
    return this.rankManySync([request])[0]!;
  }

  /** rankMany() on the calling thread. */
  rankManySync(requests: RankRequest[], queueMs: number[] = []): RankResponse[] {
    if (this.#resolver) throw new RankfnError(`model "${this.name}" reads embedding tables from Redis: use rank() / rankMany() (async)`, "remote_tables_async", 400);
    const t0 = performance.now();
    const { batch, slices } = this.#stager.stage(requests as StageRequest[]);
    const out = this.#executor.run(batch);
    return this.#respond(slices, out, batch.n, performance.now() - t0, queueMs);
  }

  #respond(slices: RequestSlice[], out: Record<string, OutputRows>, rows: number, computeMs: number, queueMs: number[], degraded = false): RankResponse[] {
    this.#stats.requests += slices.length;
    this.#stats.rows += rows;
    this.#stats.batches += 1;
    this.#stats.computeMs += computeMs;
    return slices.map((slice, i) => ({ outputs: sliceOutputs(out, slice), model: this.name, timing: { queueMs: queueMs[i] ?? 0, computeMs }, ...(degraded ? { degraded } : {}) }));
  }

  inspect(): ModelInspection {
    const { graph, weights } = this.#executor.model;
    const byDtype: Record<string, number> = {};
    let count = 0;
    let bytes = 0;
    for (const t of weights.values()) {
      const n = t.dtype === "u8q" ? t.shape[0]! * t.shape[1]! : t.shape.reduce((a, b) => a * b, 1);
      count += n;
      bytes += t.data.byteLength;
      byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + n;
    }
    if (this.#executor.memory().length === 0) this.#executor.plan(64);
    const values = this.#executor.info.values;
    const info = (name: string, value: string): TensorInfo => {
      const v = values.get(value)!;
      return { name, dtype: v.dtype, shape: [-1, ...v.shape], role: v.role };
    };
    return {
      name: this.name,
      inputs: graph.inputs.map((i) => info(i.name, i.name)),
      outputs: Object.entries(graph.outputs).map(([name, v]) => info(name, v)),
      params: { count, bytes, byDtype },
      precision: { weights: this.#options.precision ?? "f32", tables: this.#options.tables ?? "f32" },
      compiler: this.#summaries,
      memoryPlan: this.#executor.memory().map((m) => ({ capacity: m.capacity, arenaBytes: m.arenaBytes, naiveBytes: m.naiveBytes, summary: describePlan(m) })),
    };
  }

  /** Counters since load, the per-op profile under RANKFN_PROFILE=1, per-tier embedding counters when tables are remote, and MoE counters when experts run on devices. */
  stats(): ModelStats & { profile: ReturnType<Executor["profile"]>; embeddings?: RemoteEmbeddingStats; moe?: MoeStats } {
    const moe = this.#executor.experts?.stats() ?? this.#worker?.moeStats;
    return { ...this.#stats, profile: this.#executor.profile(), ...(this.#remote ? { embeddings: this.#remote.stats() } : {}), ...(moe ? { moe } : {}) };
  }

  /** Re-place every MoE layer's experts from the routing seen since the last re-plan (inline mode). */
  replanExperts(): Record<string, PlacementReport> {
    if (!this.#executor.experts) throw new Error(`model "${this.name}" does not run expert-parallel (pass { experts } without worker)`);
    return this.#executor.experts.replan();
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
    this.#executor.dispose();
    this.#worker?.dispose();
    this.#remote?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

type OutputRows = { data: Float32Array; width: number; ld: number; role: "context" | "candidate" };

function sliceOutputs(out: Record<string, OutputRows>, slice: RequestSlice): Record<string, Tensor<"f32">> {
  const result: Record<string, Tensor<"f32">> = {};
  for (const [name, view] of Object.entries(out)) {
    const [start, count] = view.role === "candidate" ? [slice.start, slice.count] : [slice.contextStart, slice.contextCount];
    const data = new Float32Array(count * view.width);
    for (let i = 0; i < count; i++) data.set(view.data.subarray((start + i) * view.ld, (start + i) * view.ld + view.width), i * view.width);
    result[name] = tensor("f32", [count, view.width], data);
  }
  return result;
}


function copyInputs(inputs: Record<string, TypedArray>): Record<string, TypedArray> {
  const out: Record<string, TypedArray> = {};
  for (const [name, data] of Object.entries(inputs)) out[name] = data.slice() as TypedArray;
  return out;
}

/** The tables named remote, with their shape and row encoding from the model file. */
function remoteTableSpecs(built: BuiltModel, compiled: BuiltModel, options: RemoteEmbeddingOptions): TableSpec[] {
  const all = embeddingTables(compiled.graph);
  const names = options.tables === "all" ? all : options.tables;
  return names.map((name) => {
    if (!all.includes(name)) throw new RankfnError(`embeddings.tables: "${name}" is not an embedding table of this model (its tables: ${all.join(", ")})`, "unknown_table", 400);
    const t = built.weights.get(name)!;
    if (!rowDTypes.includes(t.dtype as RowDType)) throw new RankfnError(`embeddings.tables: "${name}" is ${t.dtype}, remote tables hold f32, f16, bf16 or u8q rows`, "bad_dtype", 400);
    return { name, rows: t.shape[0]!, dim: t.shape[1]!, dtype: t.dtype as RowDType };
  });
}

/** `rows` rows of zeros for an input (id 0 is in every table). */
function zeroRows(input: GraphInput, rows: number): Tensor {
  const width = input.shape.reduce((a, b) => a * b, 1);
  const n = rows * width;
  if (input.dtype === "f32") return tensor("f32", [rows, width], new Float32Array(n));
  if (input.dtype === "i64") return tensor("i64", [rows, width], new BigInt64Array(n));
  return tensor("i32", [rows, width], new Int32Array(n));
}
