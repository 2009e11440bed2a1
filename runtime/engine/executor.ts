// Runs a (compiled) model: picks the plan of the batch's size bucket (built on
// first use, then reused; all buckets share one arena), copies the staged inputs into it, runs its
// steps, and returns views of the outputs (valid until the next run).
// Under RANKFN_PROFILE=1 it keeps time per op (`profile()`).
import type { BuiltModel } from "../graph/builder";
import { type GraphInfo, inferGraph } from "../graph/infer";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import { insertBroadcast, needsBroadcast } from "../compiler/insert-broadcast";
import type { MemoryPlan } from "../compiler/plan-memory";
import { Plan } from "./plan";
import { DeviceBuffer } from "../ffi/device";
import type { GatheredRows, RunState, TensorArray } from "./plan-context";
import type { TokenCounts } from "./jagged-tokens";
import { intoSlots } from "./stager";
import { WeightCache } from "./weight-cache";
import { ExpertParallel, type ExpertParallelConfig } from "../moe/expert-parallel";
import { groupExperts } from "../moe/group-experts";
import { SequenceParallel, type SequenceParallelConfig } from "../sequence-parallel/sequence-parallel";
import { KvCache, type KvCacheOptions } from "./kv-cache";
import { historyChain } from "./history-chain";
import { type Device, openDevices } from "../devices";
import { EmbeddingSharding } from "../parallel/embedding-sharding";
import { type ParallelConfig, checkParallel } from "../parallel/parallel-options";
import { AutoRouting, refuseWithAuto } from "./auto-routing";
import { contextBuckets, rowCapacity } from "./row-buckets";
import type { ParallelStats } from "./inspection";
import { DenseParallel } from "../parallel/dense-parallel";
import { Pipeline } from "../parallel/pipeline";

export interface StagedBatch {
  /** Candidate rows. */
  n: number;
  /** Context rows (requests). */
  r: number;
  /** Candidate row -> request index (length >= n). */
  requestOfRow: Int32Array;
  /** Every graph input, row-major: [n or r rows, width]. */
  inputs: Record<string, TypedArray>;
  /** Each context row's user key for the KV cache (0n: none); absent when no request names a user. */
  userKeys?: BigUint64Array;
  /** Per history (sequence) input: each context row's event count (stager.ts); absent, the steps count leading padding. */
  sequenceLengths?: Record<string, Int32Array>;
  /** History inputs staged as values + offsets (stager.ts): row b's events are values offsets[b] .. offsets[b + 1]; the others are in [L] slots. */
  sequenceOffsets?: Record<string, Int32Array>;
}

export interface RunOptions {
  /** Run on the plan of at least this many rows (warming plans a bucket without a full-size run). */
  minCapacity?: number;
  /** ... and of at least this many context rows. */
  minContextCapacity?: number;
  /** Rows of the remote embedding tables, gathered for this batch (by use key; runtime/embeddings/resolver.ts). */
  gathered?: Record<string, GatheredRows>;
  /**
   * Where the outputs go: "plan" (default) returns views of the plan's slots, valid until the next
   * run; "owned" returns arrays of this batch's own that nothing reuses (the kernels write them in
   * place where they can); a function supplies them (e.g. a worker's shared lane).
   */
  outputs?: "plan" | "owned" | ((name: string, length: number) => Float32Array);
}

/** How a run's rows moved: inputs read in place or copied into the plan, outputs written in place or copied out. */
export interface CopyCounts {
  inputsInPlace: number;
  inputsCopied: number;
  outputsInPlace: number;
  outputsCopied: number;
  /** Bytes copied (inputs into the plan, outputs out of it). */
  bytesCopied: number;
}

export interface OutputView {
  data: Float32Array;
  rows: number;
  width: number;
  /** Elements between rows. */
  ld: number;
  role: "context" | "candidate";
}

interface Binding {
  inputs: { name: string; role: "context" | "candidate"; width: number; slot: { data: TypedArray } | undefined; arena: TypedArray | undefined; bindable: boolean }[];
  outputs: Record<string, OutputView>;
  outputViews: OutputView[];
  /** Per output (same order as outputViews): its value, arena storage and whether a run may bind it. */
  outputSlots: { name: string; value: string; arena: Float32Array; bindable: boolean }[];
  /** The inputs a run may read from the caller's arrays (made on first use). */
  bindableInputs?: ReadonlySet<string>;
}

export interface ProfileLine {
  node: string;
  op: string;
  ms: number;
  share: number;
}

export class Executor {
  readonly model: BuiltModel;
  readonly info: GraphInfo;
  readonly maxBatch: number;
  readonly remoteTables: ReadonlySet<string>;
  readonly #packed: WeightCache;
  /** Devices and expert layers, when mixtures run expert-parallel. */
  readonly experts: ExpertParallel | undefined;
  /** Devices long histories split over (sequence parallelism), when enabled. */
  readonly sequenceParallel: SequenceParallel | undefined;
  /** The user-history KV cache (when enabled): lives as long as the executor, across batches and plans. */
  readonly kvCache: KvCache | undefined;
  /** Devices and table shards when the pooled lookups run sharded (`parallel.embeddings`). */
  readonly embeddingSharding: EmbeddingSharding | undefined;
  /** Devices and weight slices when linear chains run split over devices (`parallel.dense`). */
  readonly denseParallel: DenseParallel | undefined;
  /** Devices opened here from a spec when more than one part of the model spreads over them. */
  readonly #sharedDevices: Device[] | undefined;
  /** Plans by "candidate capacity/context capacity". */
  readonly #plans = new Map<string, Plan>();
  readonly #bindings = new Map<Plan, Binding>();
  /** Memory plans of every bucket planned so far (kept when a plan is rebuilt on a larger arena). */
  readonly #memory = new Map<string, MemoryPlan & { capacity: number; contextCapacity: number }>();
  /**
   * One arena for every plan: a batch runs at a time, so the buckets share the largest one's
   * memory instead of holding one arena each. Planning a bucket that needs more replaces it,
   * and the plans built on the old one are rebuilt on their next use.
   */
  #arena: DeviceBuffer | undefined;
  readonly #profile = new Map<Plan, { steps: { node: string; op: string }[]; times: Float64Array }>();
  readonly #profiling = process.env.RANKFN_PROFILE === "1";
  readonly #state: RunState = { n: 0, r: 0, requestOfRow: new Int32Array(0), tokens: { computed: 0, slots: 0 } };
  /** Copies made since construction (counted per input / output per run). */
  readonly copies: CopyCounts;
  /** `parallel: "auto"`: the planner's choice per bucket and the executors that run them (this one only routes). */
  readonly autoParallel: AutoRouting | undefined;
  /** `parallel.pipeline`: the stages on their devices; every batch runs through them as microbatches. */
  readonly pipeline: Pipeline | undefined;
  #disposed = false;

  /** History tokens the jagged per-token ops computed since construction, and the slots their batches held (jagged-tokens.ts). */
  get historyTokens(): TokenCounts {
    if (this.autoParallel) {
      return this.autoParallel.executors().reduce((a, e) => {
        const t = e.historyTokens;
        return { computed: a.computed + t.computed, slots: a.slots + t.slots };
      }, { computed: 0, slots: 0 });
    }
    return { ...this.#state.tokens! };
  }

  constructor(model: BuiltModel, { maxBatch = 4096, remoteTables = [], experts, kvCache, sequenceParallel, devices, parallel, copies }: { maxBatch?: number; remoteTables?: readonly string[]; experts?: ExpertParallelConfig; kvCache?: KvCacheOptions; sequenceParallel?: SequenceParallelConfig; devices?: string | Device[]; parallel?: ParallelConfig; /** Internal: counters shared with the executor routing to this one. */ copies?: CopyCounts } = {}) {
    checkParallel(devices, parallel);
    this.copies = copies ?? { inputsInPlace: 0, inputsCopied: 0, outputsInPlace: 0, outputsCopied: 0, bytesCopied: 0 };
    if (parallel === "auto") refuseWithAuto({ kvCache, sequenceParallel, experts });
    const embeddings = typeof parallel === "object" ? parallel.embeddings : undefined;
    const dense = typeof parallel === "object" ? parallel.dense : undefined;
    const expertPart = typeof parallel === "object" ? parallel.experts : undefined;
    if (expertPart && experts) throw new RankfnError("parallel.experts: expert parallelism is asked for twice (experts and parallel.experts); give one", "bad_option", 400);
    if (dense && expertPart) throw new RankfnError("parallel.dense: cannot be combined with parallel.experts (expert parallelism runs the mixtures' linears on its own devices)", "bad_option", 400);
    const pipeline = typeof parallel === "object" ? parallel.pipeline : undefined;
    if (pipeline) refuseWithPipeline({ embeddings, dense, remoteTables, experts: experts ?? expertPart, kvCache, sequenceParallel });
    // Parts that spread over the same spec share one set of devices (not two pools pinned to the same cores).
    const parts = [embeddings, dense, expertPart].filter((p) => p !== undefined).length;
    this.#sharedDevices = parts > 1 && typeof devices === "string" ? openDevices(devices) : undefined;
    const spread = this.#sharedDevices ?? devices!;
    if (expertPart) experts = { devices: spread, ...(expertPart === true ? {} : expertPart) };
    if (dense && experts) throw new RankfnError("parallel.dense: cannot be combined with experts (expert parallelism runs the mixtures' linears on its own devices)", "bad_option", 400);
    if (embeddings && remoteTables.length > 0) throw new RankfnError("parallel.embeddings: tables served from Redis (embeddings option) cannot be sharded over devices yet", "bad_option", 400);
    // Broadcasting context values is required to execute (compile() lowers it; a graph built by
    // hand may not be); on devices, dense mixture experts are grouped to run expert-parallel.
    const lowered = needsBroadcast(model.graph, inferGraph(model.graph)) ? insertBroadcast.run(model).model : model;
    this.model = experts ? groupExperts.run(lowered).model : lowered;
    this.info = inferGraph(this.model.graph);
    this.maxBatch = maxBatch;
    this.remoteTables = new Set(remoteTables);
    this.#packed = new WeightCache(this.model.graph, this.model.weights);
    this.experts = experts ? new ExpertParallel(experts) : undefined;
    this.sequenceParallel = sequenceParallel ? new SequenceParallel(sequenceParallel) : undefined;
    const cacheable = kvCache && (kvCache.required !== false || typeof historyChain(this.model.graph) !== "string");
    this.kvCache = cacheable ? new KvCache(this.model, kvCache) : undefined;
    this.embeddingSharding = embeddings ? new EmbeddingSharding(this.model, { devices: spread, embeddings }) : undefined;
    this.denseParallel = dense ? new DenseParallel(this.model, this.info, { devices: spread, dense }) : undefined;
    this.pipeline = pipeline ? new Pipeline(this.model, this.info, { devices: devices!, pipeline, maxBatch }) : undefined;
    this.autoParallel = parallel === "auto" ? new AutoRouting(this.model, this.info, { devices: devices!, maxBatch, remoteTables, make: (p, d) => new Executor(model, { maxBatch, remoteTables, ...(p ? { devices: d, parallel: p } : {}), copies: this.copies }) }) : undefined;
  }

  /**
   * The plan for batches of up to `rows` candidate rows (power-of-two buckets, at least 16) and
   * `contextRows` context rows (requests): up to 8, up to 64, or as many as candidates — a batch of
   * a few requests holds its context values (a user's history, its K/V) for those few rows only.
   */
  plan(rows: number, contextRows = rows): Plan {
    if (this.autoParallel && !this.#disposed) return this.autoParallel.executorFor(rows).plan(rows, contextRows);
    if (this.#disposed) throw new RankfnError("model used after dispose()", "disposed", 500);
    if (rows > this.maxBatch) throw new RankfnError(`batch of ${rows} rows exceeds this model's maxBatch ${this.maxBatch}`, "batch_too_large", 413);
    const capacity = rowCapacity(rows, this.maxBatch);
    const contextCapacity = contextBuckets(capacity).find((c) => c >= contextRows) ?? capacity;
    const key = `${capacity}/${contextCapacity}`;
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = new Plan(this.model, this.info, capacity, this.#packed, this.remoteTables, this.experts, (bytes) => this.#arenaOf(bytes), contextCapacity, this.sequenceParallel, this.embeddingSharding, this.denseParallel);
      this.#plans.set(key, plan);
      this.#memory.set(key, { capacity, contextCapacity, ...plan.memory });
    }
    return plan;
  }

  /** The shared arena, grown (and the plans on the old one dropped) when a plan needs more. */
  #arenaOf(bytes: number): ArrayBuffer {
    if (!this.#arena || this.#arena.bytes < bytes) {
      for (const p of this.#plans.values()) p.dispose();
      this.#plans.clear();
      this.#bindings.clear();
      this.#arena?.dispose();
      this.#arena = new DeviceBuffer(0, bytes);
    }
    return this.#arena.view();
  }

  /**
   * The plan's own input storage for a batch of `rows` rows: staging a batch there makes the run
   * copy nothing in. Valid until the next run (or the next call that plans a larger bucket).
   */
  inputStorage(rows: number, contextRows = rows): Map<string, TypedArray> {
    if (this.autoParallel) return this.autoParallel.executorFor(rows).inputStorage(rows, contextRows);
    if (this.pipeline) return new Map();
    const bound = this.#bind(this.plan(rows, contextRows));
    const out = new Map<string, TypedArray>();
    for (const input of bound.inputs) if (input.arena) out.set(input.name, input.arena);
    return out;
  }

  /** The graph inputs a batch of `rows` (and `contextRows`) can have read from the caller's arrays. */
  bindableInputs(rows: number, contextRows = rows): ReadonlySet<string> {
    if (this.autoParallel) return this.autoParallel.executorFor(rows).bindableInputs(rows, contextRows);
    if (this.pipeline) return new Set();
    const bound = this.#bind(this.plan(rows, contextRows));
    return (bound.bindableInputs ??= new Set(bound.inputs.filter((i) => i.bindable && i.slot).map((i) => i.name)));
  }

  /**
   * Run a staged batch. Allocation-free after a bucket's first batch (unless outputs are "owned").
   * An input already staged in the plan's storage (inputStorage) is not copied; any other input is
   * read in place when the plan allows it (its steps read the slot when they run) and copied into
   * the plan otherwise. Returns the outputs as `options.outputs` says.
   */
  run(batch: StagedBatch, options: RunOptions | number = {}): Record<string, OutputView> {
    const { minCapacity = 0, minContextCapacity = 0, gathered, outputs = "plan" } = typeof options === "number" ? { minCapacity: options } : options;
    if (this.autoParallel) return this.autoParallel.runOn(Math.max(batch.n, batch.r, minCapacity)).run(batch, options);
    if (this.pipeline) return this.pipeline.run(batch, { outputs, minCapacity });
    const plan = this.plan(Math.max(batch.n, batch.r, minCapacity), Math.max(batch.r, minContextCapacity));
    const bound = this.#bind(plan);
    const copies = this.copies;
    const sequenceOffsets = batch.sequenceOffsets && this.#offsetsFor(plan, batch);
    for (let i = 0; i < bound.inputs.length; i++) {
      const input = bound.inputs[i]!;
      const src = batch.inputs[input.name];
      const rows = input.role === "candidate" ? batch.n : batch.r;
      const count = rows * input.width;
      if (!src || src.length < count) throw new RankfnError(`input "${input.name}" needs ${rows} × ${input.width} values`, "bad_input", 400);
      if (!input.slot) continue; // an input no node reads
      const arena = input.arena!;
      if (src.buffer === arena.buffer && src.byteOffset === arena.byteOffset) {
        plan.bind(input.name, undefined);
        copies.inputsInPlace++;
      } else if (input.bindable && src.constructor === arena.constructor) {
        plan.bind(input.name, src as TensorArray);
        copies.inputsInPlace++;
      } else {
        plan.bind(input.name, undefined);
        (arena as TypedArray).set((src.length === count ? src : src.subarray(0, count)) as never);
        copies.inputsCopied++;
        copies.bytesCopied += count * arena.BYTES_PER_ELEMENT;
      }
    }
    // Outputs the caller owns are written by the kernels in place where the plan allows it.
    const into = outputs === "plan" ? undefined : outputs === "owned" ? (_: string, length: number) => new Float32Array(length) : outputs;
    let owned: Float32Array[] | undefined;
    if (into) {
      owned = bound.outputSlots.map((o, i) => {
        const view = bound.outputViews[i]!;
        const data = into(o.name, (view.role === "candidate" ? batch.n : batch.r) * view.width);
        // Kernels write the batch's rows only: the array needs no room beyond them.
        if (o.bindable && view.ld === view.width) plan.bind(o.value, data);
        return data;
      });
    }
    const state = this.#state;
    state.n = batch.n;
    state.r = batch.r;
    state.requestOfRow = batch.requestOfRow;
    state.sequenceLengths = batch.sequenceLengths;
    state.sequenceOffsets = sequenceOffsets;
    state.gathered = gathered;
    state.kv = this.kvCache && batch.userKeys ? { cache: this.kvCache, users: batch.userKeys } : undefined;
    let profile: Float64Array | undefined;
    if (this.#profiling) {
      let entry = this.#profile.get(plan);
      if (!entry) this.#profile.set(plan, (entry = { steps: plan.steps.map((st) => ({ node: st.node, op: st.op })), times: new Float64Array(plan.steps.length) }));
      profile = entry.times;
    }
    try {
      plan.run(state, profile);
    } finally {
      state.gathered = undefined;
      state.kv = undefined;
      state.sequenceLengths = undefined;
      state.sequenceOffsets = undefined;
    }
    for (let i = 0; i < bound.outputViews.length; i++) {
      const view = bound.outputViews[i]!;
      view.rows = view.role === "candidate" ? batch.n : batch.r;
    }
    if (!owned) return bound.outputs;
    const result: Record<string, OutputView> = {};
    bound.outputSlots.forEach((o, i) => {
      const view = bound.outputViews[i]!;
      const data = owned![i]!;
      const slot = plan.slot(o.value)!;
      if (slot.data === data) {
        copies.outputsInPlace++;
        plan.bind(o.value, undefined);
      } else {
        for (let r = 0; r < view.rows; r++) data.set(slot.data.subarray(r * view.ld, r * view.ld + view.width), r * view.width);
        copies.outputsCopied++;
        copies.bytesCopied += view.rows * view.width * 4;
      }
      result[o.name] = { data, rows: view.rows, width: view.width, ld: view.width, role: view.role };
    });
    return result;
  }

  /**
   * The batch's values + offsets histories this plan reads so; any other is laid back into its
   * [L] slots in the batch's own storage first (a plan whose history keeps the slot layout).
   */
  #offsetsFor(plan: Plan, batch: StagedBatch): Record<string, Int32Array> | undefined {
    const offsets = batch.sequenceOffsets!;
    const names = Object.keys(offsets);
    if (names.every((name) => plan.offsetInputs.has(name))) return offsets;
    const kept: Record<string, Int32Array> = {};
    for (const name of names) {
      if (plan.offsetInputs.has(name)) kept[name] = offsets[name]!;
      else {
        const input = this.model.graph.inputs.find((i) => i.name === name)!;
        intoSlots(batch.inputs[name]!, offsets[name]!, batch.r, input.shape.reduce((a, b) => a * b, 1), input.padding!);
      }
    }
    return Object.keys(kept).length > 0 ? kept : undefined;
  }

  /** The plan's input slots and output views, resolved once per plan. */
  #bind(plan: Plan): Binding {
    let b = this.#bindings.get(plan);
    if (!b) {
      const inputs = this.model.graph.inputs.map((input) => {
        const slot = input.dtype === "f32" ? plan.slot(input.name) : input.dtype === "bool" ? plan.valueSlot(input.name) : plan.idSlot(input.name);
        return { name: input.name, role: input.role, width: input.shape.reduce((a, c) => a * c, 1), slot, arena: slot ? (plan.arenaData(input.name) as TypedArray) : undefined, bindable: plan.bindable(input.name) };
      });
      const outputs: Record<string, OutputView> = {};
      const outputSlots: Binding["outputSlots"] = [];
      for (const [name, value] of Object.entries(this.model.graph.outputs)) {
        const slot = plan.slot(value)!;
        outputs[name] = { data: slot.data, rows: 0, width: slot.width, ld: slot.ld, role: slot.role };
        outputSlots.push({ name, value, arena: slot.data, bindable: plan.bindable(value) });
      }
      b = { inputs, outputs, outputViews: Object.values(outputs), outputSlots };
      this.#bindings.set(plan, b);
    }
    return b;
  }

  /** The parallel parts' counters since load (`stats().parallel`), when the model spreads over devices. */
  parallelStats(): ParallelStats | undefined {
    if (this.autoParallel) return { auto: { batches: { ...this.autoParallel.batches } } };
    const embeddings = this.embeddingSharding?.stats(), dense = this.denseParallel?.stats();
    return embeddings || dense ? { ...(embeddings ? { embeddings } : {}), ...(dense ? { dense } : {}) } : undefined;
  }

  /** Time per op accumulated under RANKFN_PROFILE=1, largest first. */
  profile(): ProfileLine[] {
    if (this.autoParallel) return profileLines(this.autoParallel.executors().flatMap((e) => e.profile()));
    if (this.pipeline) return this.pipeline.profile();
    return profileLines([...this.#profile.values()].flatMap(({ steps, times }) => steps.map((st, i) => ({ node: st.node, op: st.op, ms: times[i]! }))));
  }

  /** Bytes of the arena the plans share (0 before the first plan). */
  get arenaBytes(): number {
    if (this.autoParallel) return this.autoParallel.executors().reduce((a, e) => a + e.arenaBytes, 0);
    return this.#arena?.bytes ?? 0;
  }

  /** Memory plans of the buckets built so far. */
  memory(): (MemoryPlan & { capacity: number; contextCapacity: number })[] {
    if (this.autoParallel) return this.autoParallel.executors().flatMap((e) => e.memory());
    return [...this.#memory.values()];
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const p of this.#plans.values()) p.dispose();
    this.#plans.clear();
    this.#bindings.clear();
    this.#arena?.dispose();
    this.#packed.dispose();
    this.experts?.dispose();
    this.sequenceParallel?.dispose();
    this.kvCache?.dispose();
    this.embeddingSharding?.dispose();
    this.autoParallel?.dispose();
    this.denseParallel?.dispose();
    for (const d of this.#sharedDevices ?? []) d.dispose();
    this.pipeline?.dispose();
  }
}

/** What pipeline stages cannot run with yet (each a 400 naming the option). */
function refuseWithPipeline(o: { embeddings: unknown; dense: unknown; remoteTables: readonly string[]; experts: unknown; kvCache: unknown; sequenceParallel: unknown }): void {
  const clash = o.embeddings ? "parallel.embeddings" : o.dense ? "parallel.dense" : o.remoteTables.length > 0 ? "embeddings (remote tables)" : o.experts ? "experts" : o.kvCache ? "kvCache" : o.sequenceParallel ? "sequenceParallel" : undefined;
  if (clash) throw new RankfnError(`parallel.pipeline: cannot be combined with ${clash} yet`, "bad_option", 400);
}

/** Time per node summed over `entries` (steps of every plan, or several executors' lines), with its share, largest first. */
function profileLines(entries: readonly { node: string; op: string; ms: number }[]): ProfileLine[] {
  const byNode = new Map<string, { op: string; ms: number }>();
  for (const { node, op, ms } of entries) {
    const e = byNode.get(node) ?? { op, ms: 0 };
    e.ms += ms;
    byNode.set(node, e);
  }
  const total = [...byNode.values()].reduce((a, e) => a + e.ms, 0) || 1;
  return [...byNode].map(([node, e]) => ({ node, op: e.op, ms: e.ms, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
}
