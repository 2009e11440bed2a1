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

  constructor(built: BuiltModel, options: ModelOptions = {}) {
    const { model, summaries } = compile(built, options);
    this.name = built.graph.name;
    this.#summaries = summaries;
    this.#options = options;
    // The inline executor packs weights lazily (on the first batch), so a worker-mode
    // model only pays for it if inspect() asks for a memory plan.
    // In worker mode the worker opens the devices: the inline executor only serves inspect().
    this.#executor = new Executor(model, { maxBatch: options.maxBatch, experts: options.worker ? undefined : options.experts });
    if (options.worker && options.experts && typeof options.experts.devices !== "string") {
      throw new Error('worker mode opens its devices itself: pass experts.devices as a spec ("cpu:2"), not opened devices');
    }
    this.#worker = options.worker ? new WorkerExecutor(options.path ?? built, options) : undefined;
    this.#stager = new Stager(model.graph);
  }

  /** The model's inputs (names, dtypes, per-row shapes, roles): what a request must carry. */
  get graphInputs(): GraphInput[] {
    return this.#executor.model.graph.inputs;
  }

  /** Resolves once the model can score (worker mode: the worker has loaded and compiled it). */
  async ready(): Promise<void> {
    if (this.#worker) await this.#worker.ready;
  }

  /**
   * Score one request: `{ context, candidates }` (one user × N items) or `{ rows }` (flat).
   * @example const { outputs } = await model.rank({ context: { user: u }, candidates: { item: items } });
   */
  async rank(request: RankRequest): Promise<RankResponse> {
    return (await this.rankMany([request]))[0]!;
  }

  /** Score several requests as one batch (what the server's coalescer does). */
  async rankMany(requests: RankRequest[], queueMs: number[] = []): Promise<RankResponse[]> {
    if (!this.#worker) return this.rankManySync(requests, queueMs);
    const t0 = performance.now();
    // Staged straight into shared memory the worker reads; outputs come back the same way.
    const lane = this.#worker.acquire();
    try {
      const { batch, slices } = this.#stager.stage(requests as StageRequest[], lane);
      const out = await this.#worker.run(batch, lane);
      return this.#respond(slices, out, batch.n, performance.now() - t0, queueMs);
    } finally {
      this.#worker.release(lane);
    }
  }

  /** rank() on the calling thread, without the promise (not in worker mode). */
  rankSync(request: RankRequest): RankResponse {
    return this.rankManySync([request])[0]!;
  }

  /** rankMany() on the calling thread. */
  rankManySync(requests: RankRequest[], queueMs: number[] = []): RankResponse[] {
    const t0 = performance.now();
    const { batch, slices } = this.#stager.stage(requests as StageRequest[]);
    const out = this.#executor.run(batch);
    return this.#respond(slices, out, batch.n, performance.now() - t0, queueMs);
  }

  #respond(slices: RequestSlice[], out: Record<string, OutputRows>, rows: number, computeMs: number, queueMs: number[]): RankResponse[] {
    this.#stats.requests += slices.length;
    this.#stats.rows += rows;
    this.#stats.batches += 1;
    this.#stats.computeMs += computeMs;
    return slices.map((slice, i) => ({ outputs: sliceOutputs(out, slice), model: this.name, timing: { queueMs: queueMs[i] ?? 0, computeMs } }));
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

  /** Counters since load, and the per-op profile under RANKFN_PROFILE=1. */
  stats(): ModelStats & { profile: ReturnType<Executor["profile"]> } {
    const moe = this.#executor.experts?.stats() ?? this.#worker?.moeStats;
    return { ...this.#stats, profile: this.#executor.profile(), ...(moe ? { moe } : {}) };
  }

  /** Re-place every MoE layer's experts from the routing seen since the last re-plan (inline mode). */
  replanExperts(): Record<string, PlacementReport> {
    if (!this.#executor.experts) throw new Error(`model "${this.name}" does not run expert-parallel (pass { experts } without worker)`);
    return this.#executor.experts.replan();
  }

  /** Free native memory (packed weights, arenas) and the worker; the model is unusable afterwards. */
  dispose(): void {
    this.#executor.dispose();
    this.#worker?.dispose();
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

