// Worker entry of WorkerExecutor: loads and compiles the model inside its own
// thread (opening the kernel library itself) — the only compile in worker
// mode — then runs batches the main thread staged into shared-memory lanes and
// writes the outputs back into the lane. Messages carry only ids and row counts
// (and a lane's buffers when they grew); the compiled graph and the inspection
// go to the main thread once at start, an updated inspection when a new plan
// appears, and the per-op profile under RANKFN_PROFILE=1. Long batches never
// block the main thread's event loop.
import type { TokenCounts } from "./jagged-tokens";
import type { SequenceParallelConfig } from "../sequence-parallel/sequence-parallel";
import type { ParallelConfig } from "../parallel/parallel-options";
import { compile, type CompileOptions } from "../compiler/compile";
import type { BuiltModel } from "../graph/builder";
import { readModel } from "../model/model-file";
import { setNumThreads } from "../ffi/device";
import type { Tensor } from "../tensor/tensor";
import type { TypedArray } from "../tensor/dtype";
import { type CopyCounts, Executor, type ProfileLine } from "./executor";
import { type ModelInspection, type ParallelStats, inspectExecutor } from "./inspection";
import type { Graph } from "../graph/schema";
import type { GatheredRows } from "./plan-context";
import type { ExpertParallelConfig, MoeStats } from "../moe/expert-parallel";
import type { KvCacheOptions, KvCacheStats } from "./kv-cache";

declare const self: Worker;

export type InitMessage = {
  type: "init";
  source: { path: string } | { graph: BuiltModel["graph"]; weights: [string, Tensor][] };
  options: CompileOptions & { maxBatch?: number; threads?: number; remoteTables?: string[]; experts?: ExpertParallelConfig; kvCache?: KvCacheOptions; sequenceParallel?: SequenceParallelConfig; devices?: string; parallel?: ParallelConfig };
};
/** One lane's SharedArrayBuffer-backed views. */
export type LaneBuffers = { inputs: Record<string, TypedArray>; requestOfRow: Int32Array; users: BigUint64Array; outputs: Record<string, Float32Array> };
/** `capacity`: run on the plan of at least that many rows (warm-up runs a small batch on each bucket's plan). */
/** `users`: the lane's user keys are set for this batch (the KV cache applies). */
/** `sequenceLengths`, `sequenceOffsets`: the batch's history event counts and offsets (a few numbers per request, cloned). */
/** Dispose the executor (its pipeline stages, sub-devices and plans) and end the thread. */
export type DisposeMessage = { type: "dispose" };
export type RunMessage = { type: "run"; id: number; lane: number; n: number; r: number; users: boolean; sequenceLengths?: Record<string, Int32Array>; sequenceOffsets?: Record<string, Int32Array>; capacity?: number; contextCapacity?: number; buffers?: LaneBuffers; outputs?: LaneBuffers["outputs"]; gathered?: Record<string, GatheredRows> };
export type WorkerReply =
  | { type: "ready"; outputs: { name: string; width: number; role: "context" | "candidate" }[]; graph: Graph; inspection: ModelInspection; kvCache?: KvCacheStats }
  | { type: "result"; id: number; moe?: MoeStats; inspection?: ModelInspection; profile?: ProfileLine[]; copies: CopyCounts; kvCache?: KvCacheStats; historyTokens?: TokenCounts; parallel?: ParallelStats }
  | { type: "error"; id: number; error: { name: string; message: string; code?: string; status?: number } };

let executor: Executor | undefined;
let describe: () => ModelInspection = () => {
  throw new Error("not initialised");
};
let plansSent = 0;
const profiling = process.env.RANKFN_PROFILE === "1";
const lanes = new Map<number, LaneBuffers>();

self.onmessage = (event: MessageEvent<InitMessage | RunMessage | DisposeMessage>) => {
  const msg = event.data;
  if (msg.type === "dispose") {
    try {
      executor?.dispose();
    } finally {
      (self as unknown as { close(): void }).close();
    }
    return;
  }
  const id = msg.type === "run" ? msg.id : -1;
  try {
    if (msg.type === "init") {
      if (msg.options.threads !== undefined) setNumThreads(msg.options.threads);
      const built: BuiltModel = "path" in msg.source ? readModel(msg.source.path) : { graph: msg.source.graph, weights: new Map(msg.source.weights) };
      const compiled = compile(built, msg.options);
      const exec = new Executor(compiled.model, { maxBatch: msg.options.maxBatch, remoteTables: msg.options.remoteTables, experts: msg.options.experts, kvCache: msg.options.kvCache, sequenceParallel: msg.options.sequenceParallel, devices: msg.options.devices, parallel: msg.options.parallel });
      executor = exec;
      describe = () => inspectExecutor(exec, compiled.summaries, msg.options);
      const inspection = describe();
      plansSent = exec.memory().length;
      const outputs = Object.entries(executor.model.graph.outputs).map(([name, v]) => {
        const info = executor!.info.values.get(v)!;
        return { name, width: info.shape.reduce((a, b) => a * b, 1), role: info.role };
      });
      // The compiled graph without its weights: what the main thread needs to gather remote rows.
      self.postMessage({ type: "ready", outputs, graph: exec.model.graph, inspection, kvCache: exec.kvCache?.stats() } satisfies WorkerReply);
      return;
    }
    if (msg.buffers) lanes.set(msg.lane, msg.buffers);
    const lane = lanes.get(msg.lane)!;
    // Fresh output buffers alone (the last batch's became its responses): the inputs' views stay.
    if (msg.outputs) lane.outputs = msg.outputs;
    // The plan reads the lane's inputs in place and its kernels write the lane's outputs where they can (else they are copied in).
    executor!.run({ n: msg.n, r: msg.r, requestOfRow: lane.requestOfRow, inputs: lane.inputs, userKeys: msg.users ? lane.users.subarray(0, msg.r) : undefined, sequenceLengths: msg.sequenceLengths, sequenceOffsets: msg.sequenceOffsets }, { minCapacity: msg.capacity, minContextCapacity: msg.contextCapacity, gathered: msg.gathered, outputs: (name) => lane.outputs[name]! });
    const plans = executor!.memory().length;
    const inspection = plans !== plansSent ? describe() : undefined;
    plansSent = plans;
    self.postMessage({ type: "result", id, moe: executor!.experts?.stats(), inspection, profile: profiling ? executor!.profile() : undefined, copies: executor!.copies, kvCache: executor!.kvCache?.stats(), historyTokens: executor!.historyTokens, parallel: executor!.parallelStats() } satisfies WorkerReply);
  } catch (err) {
    const e = err as Error & { code?: string; status?: number };
    self.postMessage({ type: "error", id, error: { name: e.name, message: e.message, code: e.code, status: e.status } } satisfies WorkerReply);
  }
};


