// Runs a (compiled) model: picks the plan of the batch's size bucket (built on
// first use, then reused), copies the staged inputs into its arena, runs its
// steps, and returns views of the outputs (valid until the next run).
// Under RANKFN_PROFILE=1 it keeps time per op (`profile()`).
import type { BuiltModel } from "../graph/builder";
import { type GraphInfo, inferGraph } from "../graph/infer";
import { RankfnError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import { insertBroadcast } from "../compiler/insert-broadcast";
import type { MemoryPlan } from "../compiler/plan-memory";
import { Plan } from "./plan";
import type { RunState } from "./plan-context";
import { WeightCache } from "./weight-cache";

export interface StagedBatch {
  /** Candidate rows. */
  n: number;
  /** Context rows (requests). */
  r: number;
  /** Candidate row -> request index (length >= n). */
  requestOfRow: Int32Array;
  /** Every graph input, row-major: [n or r rows, width]. */
  inputs: Record<string, TypedArray>;
}

export interface OutputView {
  data: Float32Array;
  rows: number;
  width: number;
  /** Elements between rows. */
  ld: number;
  role: "context" | "candidate";
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
  readonly #packed: WeightCache;
  readonly #plans = new Map<number, Plan>();
  readonly #profile = new Map<number, Float64Array>();
  readonly #profiling = process.env.RANKFN_PROFILE === "1";
  readonly #state: RunState = { n: 0, r: 0, requestOfRow: new Int32Array(0) };
  #disposed = false;

  constructor(model: BuiltModel, { maxBatch = 4096 }: { maxBatch?: number } = {}) {
    // Broadcasting context values is required to execute; everything else is optional.
    this.model = insertBroadcast.run(model).model;
    this.info = inferGraph(this.model.graph);
    this.maxBatch = maxBatch;
    this.#packed = new WeightCache(this.model.graph, this.model.weights);
  }

  /** The plan for batches of up to `rows` rows (power-of-two buckets, at least 16). */
  plan(rows: number): Plan {
    if (this.#disposed) throw new RankfnError("model used after dispose()", "disposed", 500);
    if (rows > this.maxBatch) throw new RankfnError(`batch of ${rows} rows exceeds this model's maxBatch ${this.maxBatch}`, "batch_too_large", 413);
    const capacity = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, rows))));
    let plan = this.#plans.get(capacity);
    if (!plan) {
      plan = new Plan(this.model, this.info, Math.min(capacity, Math.max(16, this.maxBatch)), this.#packed);
      this.#plans.set(capacity, plan);
    }
    return plan;
  }

  run(batch: StagedBatch): Record<string, OutputView> {
    const plan = this.plan(Math.max(batch.n, batch.r));
    for (const input of this.model.graph.inputs) {
      const src = batch.inputs[input.name];
      const rows = input.role === "candidate" ? batch.n : batch.r;
      const width = input.shape.reduce((a, b) => a * b, 1);
      if (!src || src.length < rows * width) throw new RankfnError(`input "${input.name}" needs ${rows} × ${width} values`, "bad_input", 400);
      const slot = input.dtype === "f32" ? plan.slot(input.name) : plan.idSlot(input.name);
      if (!slot) continue; // an input no node reads
      (slot.data as TypedArray).set(src.length === rows * width ? (src as never) : (src.subarray(0, rows * width) as never));
    }
    const state = this.#state;
    state.n = batch.n;
    state.r = batch.r;
    state.requestOfRow = batch.requestOfRow;
    let profile: Float64Array | undefined;
    if (this.#profiling) {
      profile = this.#profile.get(plan.capacity) ?? new Float64Array(plan.steps.length);
      this.#profile.set(plan.capacity, profile);
    }
    plan.run(state, profile);
    const out: Record<string, OutputView> = {};
    for (const [name, value] of Object.entries(this.model.graph.outputs)) {
      const slot = plan.slot(value)!;
      out[name] = { data: slot.data, rows: slot.role === "candidate" ? batch.n : batch.r, width: slot.width, ld: slot.ld, role: slot.role };
    }
    return out;
  }

  /** Time per op accumulated under RANKFN_PROFILE=1, largest first. */
  profile(): ProfileLine[] {
    const byNode = new Map<string, { op: string; ms: number }>();
    for (const [capacity, times] of this.#profile) {
      this.#plans.get(capacity)!.steps.forEach((s, i) => {
        const e = byNode.get(s.node) ?? { op: s.op, ms: 0 };
        e.ms += times[i]!;
        byNode.set(s.node, e);
      });
    }
    const total = [...byNode.values()].reduce((a, e) => a + e.ms, 0) || 1;
    return [...byNode].map(([node, e]) => ({ node, op: e.op, ms: e.ms, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
  }

  /** Memory plans of the buckets built so far. */
  memory(): (MemoryPlan & { capacity: number })[] {
    return [...this.#plans].map(([capacity, p]) => ({ capacity, ...p.memory }));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const p of this.#plans.values()) p.dispose();
    this.#plans.clear();
    this.#packed.dispose();
  }
}
