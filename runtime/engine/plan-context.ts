// What a step builder sees while a plan is built: the storage of every value
// (arena views with their row stride), weights (raw and packed), attributes,
// and the row count of each role. Steps hold everything they need; running
// one is a few native calls with no allocation.
import type { Pointer } from "bun:ffi";
import type { ValueInfo } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";
import type { NativeSymbols } from "../ffi/library";
import type { Tensor } from "../tensor/tensor";
import type { WeightCache } from "./weight-cache";
import type { ExpertParallel } from "../moe/expert-parallel";
import type { SequenceParallel } from "../sequence-parallel/sequence-parallel";
import type { EmbeddingSharding } from "../parallel/embedding-sharding";
import type { DenseParallel } from "../parallel/dense-parallel";
import type { KvCache } from "./kv-cache";
import type { TokenCounts, TokenOffsets } from "./jagged-tokens";

/** Where a value lives: `data` starts at its row 0, consecutive rows are `ld` elements apart. */
/** Storage of a value of any graph dtype (bool is one byte per element). */
export type TensorArray = Float32Array | Int32Array | BigInt64Array | Uint8Array;

export interface Slot<A extends TensorArray = Float32Array> {
  data: A;
  ld: number;
  width: number;
  role: "context" | "candidate";
}

/** Per-call state shared by all steps: actual row counts and the request of each candidate row. */
export interface RunState {
  /** Candidate rows in this batch. */
  n: number;
  /** Context rows (requests) in this batch. */
  r: number;
  /** Candidate row -> its request's context row. */
  requestOfRow: Int32Array;
  /** History (sequence) input name -> each context row's event count, when the batch was staged with them. */
  sequenceLengths?: Record<string, Int32Array>;
  /** History inputs staged as values + offsets (stager.ts): context row b's events are values offsets[b] .. offsets[b + 1]. */
  sequenceOffsets?: Record<string, Int32Array>;
  /** Rows of remote embedding tables gathered for this batch, by use key (runtime/embeddings/resolver.ts). */
  gathered?: Record<string, GatheredRows>;
  /** The user-history KV cache and each context row's user key (0n: no user, nothing cached). */
  kv?: { cache: KvCache; users: BigUint64Array };
  /** History tokens computed by the jagged per-token ops (jagged-tokens.ts), counted when present. */
  tokens?: TokenCounts;
}

/**
 * One remote use's rows for a batch, from the only compaction of its ids (the resolver's): each
 * distinct id's row once, each kept id's row index, and the bag boundaries the step pools with.
 */
export interface GatheredRows {
  /** [distinct ids, dim] fp32. */
  rows: Float32Array;
  /** For the i-th kept id of the use (padding dropped, modulo folded; row-major order): its row in `rows`. */
  slots: Int32Array;
  /** Bag b pools slots[offsets[b] .. offsets[b + 1]) (bags: one per row, or one per id slot of a sequence). */
  offsets: BigInt64Array;
}

export interface Step {
  node: string;
  op: string;
  run(state: RunState): void;
  /** Free what the step holds beyond the plan's arena (native buffers), when the plan goes. */
  dispose?(): void;
}

export interface PlanContext {
  graph: Graph;
  values: Map<string, ValueInfo>;
  attrs(node: Node): Record<string, any>;
  slot(name: string): Slot;
  idSlot(name: string): Slot<Int32Array | BigInt64Array>;
  /** The arena storage the plan gave a value, for comparing places (reading it does not pin a bindable input or output). */
  storage(name: string): TensorArray;
  /** The storage of a value of any dtype (the general tensor steps). */
  tensorSlot(name: string): Slot<TensorArray>;
  isWeight(name: string): boolean;
  weight(name: string): Tensor;
  /** Is this embedding table served by the remote tier (rows arrive gathered per batch)? */
  isRemote(table: string): boolean;
  packed: WeightCache;
  sym: NativeSymbols;
  /** Row capacity of this plan (candidate rows; context rows never exceed it). */
  capacity: number;
  /** Context rows (requests) this plan holds (≤ capacity): the rows of every context value. */
  contextCapacity: number;
  /** Scratch f32 buffer owned by the plan, reused across calls. */
  scratch(key: string, elements: number): Float32Array;
  scratchI32(key: string, elements: number): Int32Array;
  /** Throw a KernelError naming the node unless status is 0. */
  check(status: number, node: Node): void;
  /** Devices and expert layers when the model runs its mixtures expert-parallel. */
  experts?: ExpertParallel;
  /** Devices a long history's HSTU layers split over (sequence parallelism), when the model runs with it. */
  sequenceParallel?: SequenceParallel;
  /** Devices and table shards when the model shards its embedding tables (`parallel.embeddings`). */
  embeddingSharding?: EmbeddingSharding;
  /** Devices and weight slices when the model splits its linear chains over devices (`parallel.dense`). */
  denseParallel?: DenseParallel;
  /** A history token value stored jagged (values + offsets, jagged-tokens.ts): its history's offsets. */
  jagged(name: string): TokenOffsets | undefined;
  /** Is `node` the embedding_sequence that writes its history's offsets each run? */
  writesOffsets(node: Node): boolean;
}

export const rowsOf = (slot: Slot<any>, s: RunState): number => (slot.role === "candidate" ? s.n : s.r);

export type StepBuilder = (node: Node, ctx: PlanContext) => Step;

export type { Pointer };
