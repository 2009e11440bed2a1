// An execution plan for one row capacity (batch-size bucket) — candidate rows,
// and context rows (requests) sized apart, since a batch of a few requests
// needs few context rows however many candidates it has: every value gets
// its place in one native arena (offsets from the memory planner, reused by
// every batch), every node a prebuilt step. Running a batch allocates nothing.
import { toArrayBuffer } from "bun:ffi";
import { KernelError } from "../errors";
import { DeviceBuffer } from "../ffi/device";
import { loadLibrary } from "../ffi/library";
import { native } from "../ffi/native";
import type { BuiltModel } from "../graph/builder";
import type { GraphInfo } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Lifetime, type MemoryPlan, describePlan, planMemory } from "../compiler/plan-memory";
import { debugEnabled } from "../compiler/pass";
import { dtypes } from "../tensor/dtype";
import type { PlanContext, RunState, Slot, Step, TensorArray } from "./plan-context";
import { attentionSteps } from "./steps/attention";
import { pointwiseAttentionSteps } from "./steps/pointwise-attention";
import { compositeSteps } from "./steps/composite";
import { recurrentSteps } from "./steps/recurrent";
import { sequenceLayerSteps } from "./steps/sequence-layers";
import { expertSteps } from "./steps/experts";
import type { SequenceParallel } from "../sequence-parallel/sequence-parallel";
import { denseSteps } from "./steps/dense";
import { selectSteps } from "./steps/select";
import { sparseSteps } from "./steps/sparse";
import { shardedEmbeddingSteps } from "./steps/sharded-embeddings";
import type { EmbeddingSharding } from "../parallel/embedding-sharding";
import type { DenseParallel } from "../parallel/dense-parallel";
import { denseParallelStep } from "./steps/dense-parallel";
import { tensorAxisSteps } from "./steps/tensor-axis";
import { broadcastAny, tensorElementwiseSteps } from "./steps/tensor-elementwise";
import type { WeightCache } from "./weight-cache";
import { historyChain } from "./history-chain";
import { jaggedValues, offsetInputs } from "./jagged-tokens";
import type { ExpertParallel } from "../moe/expert-parallel";

const builders = { ...denseSteps, ...sparseSteps, ...compositeSteps, ...attentionSteps, ...pointwiseAttentionSteps, ...recurrentSteps, ...sequenceLayerSteps, ...selectSteps, ...expertSteps, ...tensorElementwiseSteps, ...tensorAxisSteps };

/** Ops the executor can run (the compiler may not emit anything else). */
export const executableOps = new Set(Object.keys(builders));

export class Plan {
  readonly steps: Step[];
  readonly memory: MemoryPlan;
  readonly #buffers: DeviceBuffer[] = [];
  readonly #slots = new Map<string, Slot<TensorArray>>();
  /** Each stored value's arena storage (a bound graph input or output points elsewhere for one run). */
  readonly #arenaData = new Map<string, TensorArray>();
  /** Graph inputs and outputs whose storage a run may point at the caller's array (see bind()). */
  readonly #bindable = new Set<string>();
  /** History inputs this plan reads as values + offsets when a batch stages them so (jagged-tokens.ts). */
  readonly offsetInputs: ReadonlySet<string>;

  constructor(
    readonly model: BuiltModel,
    readonly info: GraphInfo,
    readonly capacity: number,
    packed: WeightCache,
    remoteTables: ReadonlySet<string> = new Set(),
    experts?: ExpertParallel,
    /** Native memory of at least `bytes` for the values (the executor shares one arena across its plans); default: the plan's own. */
    arenaOf: (bytes: number) => ArrayBuffer = (bytes) => this.#native(bytes).view(),
    /** Context rows (requests) the plan holds, ≤ capacity (default: capacity). */
    readonly contextCapacity: number = capacity,
    sequenceParallel?: SequenceParallel,
    embeddingSharding?: EmbeddingSharding,
    denseParallel?: DenseParallel,
  ) {
    const { graph } = model;
    this.memory = planMemory(valueLifetimes(model, info, capacity, contextCapacity));
    if (debugEnabled()) console.error(`[rankfn compile] plan-memory (batch ≤ ${capacity}): ${describePlan(this.memory)}`);
    const arena = arenaOf(Math.max(64, this.memory.arenaBytes));
    const widthOf = (name: string) => info.values.get(name)!.shape.reduce((a, b) => a * b, 1);
    // Every value of every dtype lives in the arena; a reshape's output is a view of its input.
    const views = viewsOf(model);
    for (const [name, v] of info.values) {
      const offset = this.memory.offsets.get(name);
      if (offset === undefined) continue;
      const width = widthOf(name);
      const Ctor = dtypes[v.dtype].array as unknown as new (buffer: ArrayBuffer, offset: number, length: number) => TensorArray;
      const rows = v.role === "context" ? contextCapacity : capacity;
      const slot: Slot<TensorArray> = { data: new Ctor(arena, offset, rows * width), ld: width, width, role: v.role };
      this.#slots.set(name, slot);
      this.#arenaData.set(name, slot.data);
    }
    for (const [name, alias] of Object.entries(graph.aliases ?? {})) {
      const base = this.#slots.get(alias.of)!;
      this.#slots.set(name, { data: base.data.subarray(alias.offset), ld: base.ld, width: widthOf(name), role: info.values.get(name)!.role });
    }
    for (const [name, of] of views) {
      const base = this.#slots.get(of);
      if (base) this.#slots.set(name, { ...base, width: widthOf(name), role: info.values.get(name)!.role });
    }
    // A graph input or output may be bound to the caller's array for a run (no copy in or out)
    // when no step captured its storage while being built: every read of `data` during the build
    // is recorded, and a value read then (a view, a subarray, a cached pointer) keeps its arena slot.
    const candidates = this.#bindingCandidates(model, views);
    const readWhileBuilding = new Set<string>();
    for (const name of candidates) {
      const slot = this.#slots.get(name)!;
      const data = slot.data;
      Object.defineProperty(slot, "data", { configurable: true, enumerable: true, get: () => (readWhileBuilding.add(name), data) });
    }
    const scratch = new Map<string, Float32Array | Int32Array>();
    const stored = (name: string) => this.#arenaData.get(name) ?? this.#slots.get(name)?.data;
    const jagged = jaggedValues(graph, info, contextCapacity, (table) => remoteTables.has(table));
    this.offsetInputs = offsetInputs(graph, jagged.values);
    const ctx: PlanContext = {
      graph,
      values: info.values,
      attrs: (node: Node) => info.attrs.get(node.name)!,
      slot: (name) => {
        const s = this.#slots.get(name);
        if (!s || !(stored(name) instanceof Float32Array)) throw new Error(`value "${name}" has no f32 storage`);
        return s as Slot;
      },
      idSlot: (name) => {
        const s = this.#slots.get(name);
        const d = stored(name);
        if (!s || !(d instanceof Int32Array || d instanceof BigInt64Array)) throw new Error(`value "${name}" is not an id value`);
        return s as Slot<Int32Array | BigInt64Array>;
      },
      storage: (name) => {
        const d = stored(name);
        if (!d) throw new Error(`value "${name}" has no storage`);
        return d;
      },
      tensorSlot: (name) => {
        const s = this.#slots.get(name);
        if (!s) throw new Error(`value "${name}" has no storage`);
        return s;
      },
      isWeight: (name) => Object.hasOwn(graph.weights, name),
      weight: (name) => model.weights.get(name)!,
      isRemote: (table) => remoteTables.has(table),
      packed,
      sym: loadLibrary().symbols,
      capacity,
      contextCapacity,
      scratch: (key, elements) => this.#scratch(scratch, key, elements, Float32Array) as Float32Array,
      scratchI32: (key, elements) => this.#scratch(scratch, key, elements, Int32Array) as Int32Array,
      check: (status, node) => {
        if (status !== 0) throw new KernelError(`node "${node.name}" (${node.op}): ${String(native().rf_last_error())}`, status, node.op);
      },
      experts,
      sequenceParallel,
      embeddingSharding,
      denseParallel,
      jagged: (name) => jagged.values.get(name),
      writesOffsets: (node) => jagged.writers.has(node.name),
    };
    this.steps = graph.nodes.map((node) => {
      // Context values other than f32 rows (ids computed on, bools, ranks > 1 of other dtypes) broadcast through the general gather.
      const generalBroadcast = node.op === "broadcast" && info.values.get(node.inputs[0]!)!.dtype !== "f32";
      const sharded = embeddingSharding ? shardedEmbeddingSteps[node.op] : undefined;
      const split = denseParallel ? denseParallelStep(denseParallel, node) : undefined;
      const build = generalBroadcast ? broadcastAny : (split ?? sharded ?? builders[node.op as keyof typeof builders]);
      if (!build) throw new Error(`node "${node.name}": op "${node.op}" cannot be executed (run the compiler's lowering first)`);
      return build(node, ctx);
    });
    for (const name of candidates) {
      Object.defineProperty(this.#slots.get(name)!, "data", { configurable: true, enumerable: true, writable: true, value: this.#arenaData.get(name) });
      if (!readWhileBuilding.has(name)) this.#bindable.add(name);
    }
  }

  /** Graph inputs and outputs stored in a slot of their own (not a view, an alias or the base of one). */
  #bindingCandidates(model: BuiltModel, views: Map<string, string>): string[] {
    const { graph } = model;
    const shared = new Set<string>([...views.keys(), ...views.values(), ...Object.keys(graph.aliases ?? {}), ...Object.values(graph.aliases ?? {}).map((a) => a.of)]);
    const inputs = new Set(graph.inputs.map((i) => i.name));
    const outputs = Object.values(graph.outputs);
    const names = [...inputs, ...outputs.filter((o) => !inputs.has(o) && outputs.indexOf(o) === outputs.lastIndexOf(o))];
    return names.filter((name) => this.#arenaData.has(name) && !shared.has(name));
  }

  /** The storage of a value of any dtype (bool values are one byte each). */
  valueSlot(name: string): Slot<TensorArray> | undefined {
    return this.#slots.get(name);
  }

  /** Can `name` (a graph input or output) be bound to a caller's array? */
  bindable(name: string): boolean {
    return this.#bindable.has(name);
  }

  /** The arena storage of a value (what its slot holds unless bound). */
  arenaData(name: string): TensorArray | undefined {
    return this.#arenaData.get(name);
  }

  /**
   * Point a bindable graph input or output at `data` (contiguous rows of the value's width, of its
   * dtype, at least as many rows as the run has) instead of its arena slot, until bound again;
   * `undefined` restores the arena slot. Steps read a slot's storage when they run, so the kernels
   * read the caller's input rows or write its output rows in place.
   */
  bind(name: string, data: TensorArray | undefined): void {
    const slot = this.#slots.get(name)!;
    const arena = this.#arenaData.get(name)!;
    if (data === undefined || data === arena) {
      slot.data = arena;
      return;
    }
    if (!this.#bindable.has(name)) throw new Error(`value "${name}" cannot be bound (a step holds its storage)`);
    if (data.constructor !== arena.constructor) throw new Error(`value "${name}": bound storage must be a ${arena.constructor.name}`);
    slot.data = data;
  }

  slot(name: string): Slot | undefined {
    const s = this.#slots.get(name);
    return s && s.data instanceof Float32Array ? (s as Slot) : undefined;
  }

  idSlot(name: string): Slot<Int32Array | BigInt64Array> | undefined {
    const s = this.#slots.get(name);
    return s && (s.data instanceof Int32Array || s.data instanceof BigInt64Array) ? (s as Slot<Int32Array | BigInt64Array>) : undefined;
  }

  run(state: RunState, profile?: Float64Array): void {
    const steps = this.steps;
    if (profile) {
      for (let i = 0; i < steps.length; i++) {
        const t0 = performance.now();
        steps[i]!.run(state);
        profile[i]! += performance.now() - t0;
      }
    } else {
      for (let i = 0; i < steps.length; i++) steps[i]!.run(state);
    }
  }

  dispose(): void {
    for (const s of this.steps) s.dispose?.();
    for (const b of this.#buffers) b.dispose();
    this.#buffers.length = 0;
  }

  #native(bytes: number): DeviceBuffer {
    const b = new DeviceBuffer(0, bytes);
    this.#buffers.push(b);
    return b;
  }

  #scratch(cache: Map<string, Float32Array | Int32Array>, key: string, elements: number, Ctor: typeof Float32Array | typeof Int32Array) {
    let a = cache.get(key);
    if (!a) {
      const buf = this.#native(Math.max(4, elements * 4));
      a = new Ctor(toArrayBuffer(buf.ptr, 0, buf.bytes));
      cache.set(key, a);
    }
    return a;
  }
}

/** Values stored as views of another (a reshape's output shares its input's storage): value -> base. */
export function viewsOf(model: BuiltModel): Map<string, string> {
  const views = new Map<string, string>();
  const aliases = model.graph.aliases ?? {};
  for (const node of model.graph.nodes) {
    if (node.op !== "reshape") continue;
    const input = node.inputs[0]!;
    views.set(node.outputs[0]!, views.get(input) ?? input);
  }
  // A view of a concat slice lives in the concat's buffer.
  for (const [name, base] of views) if (aliases[base]) views.set(name, base);
  return views;
}

/**
 * Byte lifetimes of every stored value in node order, for `capacity` candidate rows and
 * `contextCapacity` context rows:
 * from the node that first writes it (-1 for graph inputs) to the last that
 * reads it (Infinity for graph outputs). Aliased values and views live in their base.
 */
export function valueLifetimes(model: BuiltModel, info: GraphInfo, capacity: number, contextCapacity = capacity): Lifetime[] {
  const { graph } = model;
  const aliases = graph.aliases ?? {};
  const views = viewsOf(model);
  const baseOf = (name: string) => {
    const viewed = views.get(name) ?? name;
    return aliases[viewed]?.of ?? viewed;
  };
  const spans = new Map<string, { start: number; end: number }>();
  const touch = (name: string, at: number) => {
    const base = baseOf(name);
    if (!info.values.has(base)) return;
    const s = spans.get(base);
    if (!s) spans.set(base, { start: at, end: at });
    else {
      s.start = Math.min(s.start, at);
      s.end = Math.max(s.end, at);
    }
  };
  for (const input of graph.inputs) touch(input.name, -1);
  graph.nodes.forEach((node, i) => {
    node.inputs.forEach((name) => touch(name, i));
    node.outputs.forEach((name) => touch(name, i));
  });
  for (const out of Object.values(graph.outputs)) {
    const s = spans.get(baseOf(out));
    if (s) s.end = Infinity;
  }
  // The KV cache fingerprints a history's per-slot inputs in its first layer (hstu-history-cache.ts):
  // they live until then, even when their last reader in the graph (a lookup) comes earlier.
  const chain = historyChain(graph);
  if (typeof chain !== "string") {
    const first = graph.nodes.indexOf(chain.layers[0]!);
    for (const name of [chain.ids, ...(chain.timestamps ? [chain.timestamps] : []), ...chain.others]) touch(name, first);
  }
  return [...spans].map(([name, s]) => {
    const v = info.values.get(name)!;
    const rows = v.role === "context" ? contextCapacity : capacity;
    return { name, start: s.start, end: s.end, bytes: rows * v.shape.reduce((a, b) => a * b, 1) * dtypes[v.dtype].bytes };
  });
}
