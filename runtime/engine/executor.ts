// Runs a (compiled) model: picks the plan of the batch's size bucket (built on
// first use, then reused; all buckets share one arena), copies the staged inputs into it, runs its
// steps, and returns views of the outputs (valid until the next run).
// Under RANKFN_PROFILE=1 it keeps time per op (`profile()`).
import type { BuiltModel } from "../graph/builder";
import { type GraphInfo, inferGraph } from "../graph/infer";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import { insertBroadcast } from "../compiler/insert-broadcast";
import type { MemoryPlan } from "../compiler/plan-memory";
import { Plan } from "./plan";
import { DeviceBuffer } from "../ffi/device";
import type { GatheredRows, RunState } from "./plan-context";
import { WeightCache } from "./weight-cache";
import { ExpertParallel, type ExpertParallelConfig } from "../moe/expert-parallel";
import { groupExperts } from "../moe/group-experts";

export interface StagedBatch {
  /** Candidate rows. */
  n: number;
  /** Context rows (requests). */
  r: number;
  /** Candidate row -> request index (length >= n). */
  requestOfRow: Int32Array;
  /** Every graph input, row-major: [n or r rows, width]. */
  inputs: Record<string, TypedArray>;
  /** Rows of remote embedding tables, gathered for this batch (by use key). */
  gathered?: Record<string, GatheredRows>;
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
  inputs: { name: string; role: "context" | "candidate"; width: number; slot: { data: TypedArray } | undefined }[];
  outputs: Record<string, OutputView>;
  outputViews: OutputView[];
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
  readonly #plans = new Map<number, Plan>();
  readonly #bindings = new Map<Plan, Binding>();
  /** Memory plans of every bucket planned so far (kept when a plan is rebuilt on a larger arena). */
  readonly #memory = new Map<number, MemoryPlan>();
  /**
   * One arena for every plan: a batch runs at a time, so the buckets share the largest one's
   * memory instead of holding one arena each. Planning a bucket that needs more replaces it,
   * and the plans built on the old one are rebuilt on their next use.
   */
  #arena: DeviceBuffer | undefined;
  readonly #profile = new Map<number, { steps: { node: string; op: string }[]; times: Float64Array }>();
  readonly #profiling = process.env.RANKFN_PROFILE === "1";
  readonly #state: RunState = { n: 0, r: 0, requestOfRow: new Int32Array(0) };
  #disposed = false;

  constructor(model: BuiltModel, { maxBatch = 4096, remoteTables = [], experts }: { maxBatch?: number; remoteTables?: readonly string[]; experts?: ExpertParallelConfig } = {}) {
    // Broadcasting context values is required to execute; everything else is optional
    // (on devices, dense mixture experts are grouped to run expert-parallel).
    const broadcast = insertBroadcast.run(model).model;
    this.model = experts ? groupExperts.run(broadcast).model : broadcast;
    this.info = inferGraph(this.model.graph);
    this.maxBatch = maxBatch;
    this.remoteTables = new Set(remoteTables);
    this.#packed = new WeightCache(this.model.graph, this.model.weights);
    this.experts = experts ? new ExpertParallel(experts) : undefined;
  }

  /** The plan for batches of up to `rows` rows (power-of-two buckets, at least 16). */
  plan(rows: number): Plan {
    if (this.#disposed) throw new RankfnError("model used after dispose()", "disposed", 500);
    if (rows > this.maxBatch) throw new RankfnError(`batch of ${rows} rows exceeds this model's maxBatch ${this.maxBatch}`, "batch_too_large", 413);
    const capacity = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, rows))));
    let plan = this.#plans.get(capacity);
    if (!plan) {
      plan = new Plan(this.model, this.info, Math.min(capacity, Math.max(16, this.maxBatch)), this.#packed, this.remoteTables, this.experts, (bytes) => this.#arenaOf(bytes));
      this.#plans.set(capacity, plan);
      this.#memory.set(capacity, plan.memory);
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
   * Run a staged batch. Allocation-free after a bucket's first batch: the input
   * slots and the returned output views belong to the plan and are reused (the
   * views are valid until the next run). `minCapacity` picks the plan of at least that many rows.
   */
  run(batch: StagedBatch, minCapacity = 0): Record<string, OutputView> {
    // `minCapacity` runs a small batch on a larger bucket's plan: warming plans a bucket without a full-size run.
    const plan = this.plan(Math.max(batch.n, batch.r, minCapacity));
    const bound = this.#bind(plan);
    for (let i = 0; i < bound.inputs.length; i++) {
      const input = bound.inputs[i]!;
      const src = batch.inputs[input.name];
      const rows = input.role === "candidate" ? batch.n : batch.r;
      const count = rows * input.width;
      if (!src || src.length < count) throw new RankfnError(`input "${input.name}" needs ${rows} × ${input.width} values`, "bad_input", 400);
      if (!input.slot) continue; // an input no node reads
      (input.slot.data as TypedArray).set((src.length === count ? src : src.subarray(0, count)) as never);
    }
    const state = this.#state;
    state.n = batch.n;
    state.r = batch.r;
    state.requestOfRow = batch.requestOfRow;
    state.gathered = batch.gathered;
    let profile: Float64Array | undefined;
    if (this.#profiling) {
      let entry = this.#profile.get(plan.capacity);
      if (!entry) this.#profile.set(plan.capacity, (entry = { steps: plan.steps.map((st) => ({ node: st.node, op: st.op })), times: new Float64Array(plan.steps.length) }));
      profile = entry.times;
    }
    plan.run(state, profile);
    for (let i = 0; i < bound.outputViews.length; i++) {
      const view = bound.outputViews[i]!;
      view.rows = view.role === "candidate" ? batch.n : batch.r;
    }
    return bound.outputs;
  }

  /** The plan's input slots and output views, resolved once per plan. */
  #bind(plan: Plan): Binding {
    let b = this.#bindings.get(plan);
    if (!b) {
      const inputs = this.model.graph.inputs.map((input) => ({
        name: input.name,
        role: input.role,
        width: input.shape.reduce((a, c) => a * c, 1),
        slot: input.dtype === "f32" ? plan.slot(input.name) : plan.idSlot(input.name),
      }));
      const outputs: Record<string, OutputView> = {};
      for (const [name, value] of Object.entries(this.model.graph.outputs)) {
        const slot = plan.slot(value)!;
        outputs[name] = { data: slot.data, rows: 0, width: slot.width, ld: slot.ld, role: slot.role };
      }
      b = { inputs, outputs, outputViews: Object.values(outputs) };
      this.#bindings.set(plan, b);
    }
    return b;
  }

  /** Time per op accumulated under RANKFN_PROFILE=1, largest first. */
  profile(): ProfileLine[] {
    const byNode = new Map<string, { op: string; ms: number }>();
    for (const { steps, times } of this.#profile.values()) {
      steps.forEach((s, i) => {
        const e = byNode.get(s.node) ?? { op: s.op, ms: 0 };
        e.ms += times[i]!;
        byNode.set(s.node, e);
      });
    }
    const total = [...byNode.values()].reduce((a, e) => a + e.ms, 0) || 1;
    return [...byNode].map(([node, e]) => ({ node, op: e.op, ms: e.ms, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
  }

  /** Bytes of the arena the plans share (0 before the first plan). */
  get arenaBytes(): number {
    return this.#arena?.bytes ?? 0;
  }

  /** Memory plans of the buckets built so far. */
  memory(): (MemoryPlan & { capacity: number })[] {
    return [...this.#memory].map(([capacity, memory]) => ({ capacity, ...memory }));
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
  }
}
