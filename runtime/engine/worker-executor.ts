// Runs a model on its own Worker thread: the main thread validates and stages
// requests, the worker computes. Inputs and outputs live in SharedArrayBuffer
// "lanes" both threads see: the stager writes a batch straight into a lane,
// the worker reads it and writes the outputs back into the lane, and the only
// messages are small control records (lane, row counts, batch id). A lane is
// held by one batch at a time; concurrent callers get their own lanes.
// Errors thrown in the worker come back as RankfnErrors with their status.
import type { TokenCounts } from "./jagged-tokens";
import type { SequenceParallelConfig } from "../sequence-parallel/sequence-parallel";
import type { ParallelConfig } from "../parallel/parallel-options";
import type { BuiltModel } from "../graph/builder";
import type { GraphInput } from "../graph/schema";
import type { CompileOptions } from "../compiler/compile";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import type { StagedBatch } from "./executor";
import type { DisposeMessage, InitMessage, LaneBuffers, WorkerReply } from "./executor-worker";
import type { CopyCounts, ProfileLine } from "./executor";
import type { GatheredRows } from "./plan-context";
import type { ModelInspection, ParallelStats } from "./inspection";
import type { Graph } from "../graph/schema";
import { type StagingBuffers, rowBuffer } from "./stager";
import type { ExpertParallelConfig, MoeStats } from "../moe/expert-parallel";
import type { KvCacheOptions, KvCacheStats } from "./kv-cache";

export interface WorkerOutput {
  data: Float32Array;
  rows: number;
  width: number;
  ld: number;
  role: "context" | "candidate";
}

type OutputSpec = { name: string; width: number; role: "context" | "candidate" };

/** Shared buffers of one in-flight batch; they grow (power of two) and are reused. */
export class Lane implements StagingBuffers {
  readonly buffers: LaneBuffers = { inputs: {}, requestOfRow: rowBuffer("i32", 64, true) as Int32Array, users: new BigUint64Array(new SharedArrayBuffer(64 * 8)), outputs: {} };
  /** Bumped when an input buffer is replaced, so the worker refreshes its views. */
  version = 0;
  /** Bumped when the output buffers are replaced (every handed-off batch): only they are sent again. */
  outputsVersion = 0;
  busy = false;

  constructor(readonly id: number) {}

  input(input: GraphInput, length: number): TypedArray {
    const have = this.buffers.inputs[input.name];
    if (have && have.length >= length) return have;
    const b = rowBuffer(input.dtype, length, true);
    this.buffers.inputs[input.name] = b;
    this.version++;
    return b;
  }

  requestOfRow(length: number): Int32Array {
    if (this.buffers.requestOfRow.length < length) {
      this.buffers.requestOfRow = rowBuffer("i32", length, true) as Int32Array;
      this.version++;
    }
    return this.buffers.requestOfRow;
  }

  users(length: number): BigUint64Array {
    if (this.buffers.users.length < length) {
      this.buffers.users = new BigUint64Array(new SharedArrayBuffer(2 ** Math.ceil(Math.log2(length)) * 8));
      this.version++;
    }
    return this.buffers.users;
  }

  /** Give this lane's output buffers away (they became a batch's responses): the next batch gets fresh ones. */
  handOffOutputs(): void {
    this.buffers.outputs = {};
    this.outputsVersion++;
  }

  /** Output buffers big enough for `n` candidate / `r` context rows. */
  reserveOutputs(specs: OutputSpec[], n: number, r: number): void {
    for (const o of specs) {
      const length = (o.role === "candidate" ? n : r) * o.width;
      if ((this.buffers.outputs[o.name]?.length ?? -1) >= length) continue;
      this.buffers.outputs[o.name] = rowBuffer("f32", length, true) as Float32Array;
      this.outputsVersion++;
    }
  }
}


/** What the worker reports once it has compiled the model. */
export interface WorkerModelInfo {
  outputs: OutputSpec[];
  /** The compiled graph (no weights). */
  graph: Graph;
}

export class WorkerExecutor {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  readonly #lanes: Lane[] = [];
  /** Lane id -> the output buffers' version the worker last received. */
  readonly #sentOutputs = new Map<number, number>();
  /** Lane id -> the version the worker last received. */
  readonly #sent = new Map<number, number>();
  readonly ready: Promise<WorkerModelInfo>;
  /** Expert-parallel statistics as of the last batch (when the model runs with `experts`). */
  moeStats: MoeStats | undefined;
  /** The worker's inspection of its compiled model and plans (set once ready). */
  inspection: ModelInspection | undefined;
  /** The worker's per-op profile as of the last batch (under RANKFN_PROFILE=1). */
  profile: ProfileLine[] = [];
  /** The worker's KV cache counters as of the last batch (with kvCache). */
  kvCache: KvCacheStats | undefined;
  /** The parallel parts' counters as of the last batch (with `parallel`). */
  parallelStats: ParallelStats | undefined;
  /** The worker's copy counts as of the last batch. */
  copies: CopyCounts = { inputsInPlace: 0, inputsCopied: 0, outputsInPlace: 0, outputsCopied: 0, bytesCopied: 0 };
  /** The worker's history token counts (jagged-tokens.ts), as of its last reply. */
  historyTokens: TokenCounts = { computed: 0, slots: 0 };
  #nextId = 0;
  #closed = false;

  constructor(source: string | BuiltModel, options: CompileOptions & { maxBatch?: number; threads?: number; remoteTables?: string[]; experts?: ExpertParallelConfig; kvCache?: KvCacheOptions; sequenceParallel?: SequenceParallelConfig; devices?: string; parallel?: ParallelConfig } = {}) {
    // The worker opens the kernel library itself: it gets this thread's environment, so
    // a backend chosen in code (process.env.RANKFN_BACKEND / RANKFN_DEVICES) is its backend too.
    this.#worker = new Worker(new URL("./executor-worker.ts", import.meta.url), { env: definedEnv() });
    const init: InitMessage = {
      type: "init",
      source: typeof source === "string" ? { path: source } : { graph: source.graph, weights: [...source.weights] },
      options: { precision: options.precision, tables: options.tables, headLayers: options.headLayers, keep: options.keep, activationGroups: options.activationGroups, maxActivationGroup: options.maxActivationGroup, activationBits: options.activationBits, narrow: options.narrow, optimize: options.optimize, maxBatch: options.maxBatch, threads: options.threads, remoteTables: options.remoteTables, experts: options.experts, kvCache: options.kvCache, sequenceParallel: options.sequenceParallel, devices: options.devices, parallel: options.parallel },
    };
    this.ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const msg = event.data;
        if (msg.type === "ready") {
          this.inspection = msg.inspection;
          this.kvCache = msg.kvCache;
          return resolve({ outputs: msg.outputs, graph: msg.graph });
        }
        if (msg.type === "error" && msg.id < 0) return reject(toError(msg.error));
        const waiter = this.#pending.get(msg.id);
        if (!waiter) return;
        this.#pending.delete(msg.id);
        if (msg.type === "result") {
          if (msg.moe) this.moeStats = msg.moe;
          if (msg.inspection) this.inspection = msg.inspection;
          if (msg.profile) this.profile = msg.profile;
          if (msg.kvCache) this.kvCache = msg.kvCache;
          if (msg.parallel) this.parallelStats = msg.parallel;
          this.copies = msg.copies;
          if (msg.historyTokens) this.historyTokens = msg.historyTokens;
          waiter.resolve();
        } else if (msg.type === "error") waiter.reject(toError(msg.error));
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

  /** A free lane to stage one batch into (release it once its outputs are read). */
  acquire(): Lane {
    if (this.#closed) throw new RankfnError("model used after dispose()", "disposed", 500);
    let lane = this.#lanes.find((l) => !l.busy);
    if (!lane) {
      lane = new Lane(this.#lanes.length);
      this.#lanes.push(lane);
    }
    lane.busy = true;
    return lane;
  }

  release(lane: Lane): void {
    lane.busy = false;
  }

  /**
   * Run a batch staged into `lane` (on the plan of at least `minCapacity` rows, with the remote
   * rows `gathered` for it). The outputs are views into the lane, valid until it is released —
   * or, with `handOff`, the lane's output buffers themselves, which the caller then owns.
   */
  async run(batch: StagedBatch, lane: Lane, { minCapacity, minContextCapacity, gathered, handOff = false }: { minCapacity?: number; minContextCapacity?: number; gathered?: Record<string, GatheredRows>; handOff?: boolean } = {}): Promise<Record<string, WorkerOutput>> {
    const { outputs } = await this.ready;
    if (this.#closed) throw new RankfnError("model used after dispose()", "disposed", 500);
    lane.reserveOutputs(outputs, batch.n, batch.r);
    const id = this.#nextId++;
    // Buffers are (re)sent only when the lane grew (or handed its outputs off): otherwise the message is a few numbers.
    const fresh = this.#sent.get(lane.id) !== lane.version;
    this.#sent.set(lane.id, lane.version);
    const freshOutputs = fresh || this.#sentOutputs.get(lane.id) !== lane.outputsVersion;
    this.#sentOutputs.set(lane.id, lane.outputsVersion);
    await new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Rows gathered from a remote embedding tier travel with the message (transferred, not copied).
      const transfer = Object.values(gathered ?? {}).flatMap((g) => [g.rows.buffer as ArrayBuffer, g.slots.buffer as ArrayBuffer, g.offsets.buffer as ArrayBuffer]);
      this.#worker.postMessage({ type: "run", id, lane: lane.id, n: batch.n, r: batch.r, users: batch.userKeys !== undefined, sequenceLengths: batch.sequenceLengths, sequenceOffsets: batch.sequenceOffsets, capacity: minCapacity, contextCapacity: minContextCapacity, buffers: fresh ? lane.buffers : undefined, outputs: freshOutputs && !fresh ? lane.buffers.outputs : undefined, gathered }, [...new Set(transfer)]);
    });
    const out: Record<string, WorkerOutput> = {};
    for (const o of outputs) {
      out[o.name] = { data: lane.buffers.outputs[o.name]!, rows: o.role === "candidate" ? batch.n : batch.r, width: o.width, ld: o.width, role: o.role };
    }
    if (handOff) lane.handOffOutputs();
    return out;
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The worker disposes its executor itself (a pipeline's stage threads get their stop command and
    // end), after the batch it may be running; one that does not end in 10 s is terminated.
    this.#worker.postMessage({ type: "dispose" } satisfies DisposeMessage);
    const worker = this.#worker;
    setTimeout(() => worker.terminate(), 10_000).unref();
    const err = new RankfnError("model disposed while a batch was running", "disposed", 503);
    for (const w of this.#pending.values()) w.reject(err);
    this.#pending.clear();
  }
}

function toError(e: { name: string; message: string; code?: string; status?: number }): RankfnError {
  return new RankfnError(e.message, e.code ?? "worker_error", e.status ?? 500);
}

/** process.env without unset entries (Worker's `env` takes strings only). */
function definedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}
