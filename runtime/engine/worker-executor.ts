// Runs a model on its own Worker thread: the main thread validates and stages
// requests, the worker computes. `run()` resolves with compact output copies.
// Errors thrown in the worker come back as RankfnErrors with their status.
import type { BuiltModel } from "../graph/builder";
import type { CompileOptions } from "../compiler/compile";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import type { StagedBatch } from "./executor";
import type { InitMessage, WorkerReply } from "./executor-worker";
import type { ExpertParallelConfig, MoeStats } from "../moe/expert-parallel";

export interface WorkerOutput {
  data: Float32Array;
  rows: number;
  width: number;
  ld: number;
  role: "context" | "candidate";
}

export class WorkerExecutor {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (o: Record<string, Float32Array>) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<{ name: string; width: number; role: "context" | "candidate" }[]>;
  /** Expert-parallel statistics as of the last batch (when the model runs with `experts`). */
  moeStats: MoeStats | undefined;
  #nextId = 0;
  #closed = false;

  constructor(source: string | BuiltModel, options: CompileOptions & { maxBatch?: number; threads?: number; experts?: ExpertParallelConfig } = {}) {
    this.#worker = new Worker(new URL("./executor-worker.ts", import.meta.url));
    const init: InitMessage = {
      type: "init",
      source: typeof source === "string" ? { path: source } : { graph: source.graph, weights: [...source.weights] },
      options,
    };
    this.ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const msg = event.data;
        if (msg.type === "ready") return resolve(msg.outputs);
        if (msg.type === "error" && msg.id < 0) return reject(toError(msg.error));
        const waiter = this.#pending.get(msg.id);
        if (!waiter) return;
        this.#pending.delete(msg.id);
        if (msg.type === "result") {
          if (msg.moe) this.moeStats = msg.moe;
          waiter.resolve(msg.outputs);
        }
        else if (msg.type === "error") waiter.reject(toError(msg.error));
      };
      this.#worker.onerror = (event) => {
        const err = new RankfnError(`model worker failed: ${event.message}`, "worker_failed", 500);
        reject(err);
        for (const w of this.#pending.values()) w.reject(err);
        this.#pending.clear();
      };
    });
    this.#worker.postMessage(init);
  }

  /** Run a staged batch on the worker (inputs are copied: the stager reuses its buffers). */
  async run(batch: StagedBatch): Promise<Record<string, WorkerOutput>> {
    if (this.#closed) throw new RankfnError("model used after dispose()", "disposed", 500);
    // Copy before the first await: the stager reuses these buffers for the next request.
    const inputs: Record<string, TypedArray> = {};
    for (const [name, data] of Object.entries(batch.inputs)) inputs[name] = data.slice() as TypedArray;
    const requestOfRow = batch.requestOfRow.slice(0, batch.n);
    const outputs = await this.ready;
    if (this.#closed) throw new RankfnError("model used after dispose()", "disposed", 500);
    const id = this.#nextId++;
    const result = await new Promise<Record<string, Float32Array>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: "run", id, n: batch.n, r: batch.r, requestOfRow, inputs }, [...Object.values(inputs).map((a) => a.buffer as ArrayBuffer), requestOfRow.buffer as ArrayBuffer]);
    });
    const out: Record<string, WorkerOutput> = {};
    for (const o of outputs) {
      out[o.name] = { data: result[o.name]!, rows: o.role === "candidate" ? batch.n : batch.r, width: o.width, ld: o.width, role: o.role };
    }
    return out;
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
    const err = new RankfnError("model disposed while a batch was running", "disposed", 503);
    for (const w of this.#pending.values()) w.reject(err);
    this.#pending.clear();
  }
}

function toError(e: { name: string; message: string; code?: string; status?: number }): RankfnError {
  const err = new RankfnError(e.message, e.code ?? "worker_error", e.status ?? 500);
  return err;
}
