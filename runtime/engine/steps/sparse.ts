// Steps of the sparse ops: embedding bags (one table, or all tables in one
// native call), broadcast of context rows to candidates, padding masks.
// Sparse inputs arrive as [rows, L] ids; padding ids (the input's `padding`)
// are dropped and `modulo` ids folded into the table before the native call,
// which range-checks every id it reads.
// A remote table (runtime/embeddings) has no rows here: the rows of a batch's
// distinct ids arrive gathered (RunState.gathered), with each compacted id's
// row index (`slots`) as the ids to pool — the same sums as reading the table.
import { ptr } from "bun:ffi";
import { useKey } from "../../embeddings/resolver";
import { KernelError, RankfnError } from "../../errors";
import type { Node } from "../../graph/schema";
import { type TypedArray, dtypes } from "../../tensor/dtype";
import { poolModes } from "../../ffi/activations";
import type { Tensor } from "../../tensor/tensor";
import { type GatheredRows, type PlanContext, type RunState, type Slot, type Step, type StepBuilder, rowsOf } from "../plan-context";
import type { TokenOffsets } from "../jagged-tokens";
import { eventsOf, firstEvent } from "./history-events";

export interface BagSource {
  /** Name of the ids input (for error messages). */
  input: string;
  table: Tensor;
  dim: number;
  mode: number;
  /** Compacted ids and offsets for this call; returns the number of ids. */
  prepare(rows: number): number;
  /** The ids to pool (read when the step runs: a bound input's storage changes between runs). */
  readonly ids: Int32Array | BigInt64Array;
  /** i64 ids (else i32). */
  wide: boolean;
  offsets: BigInt64Array;
  /** Remote table: the key of its gathered rows. */
  remote?: { key: string };
}

/**
 * The gathered rows of a remote use for this batch, `bags` bags (the resolver must have run; its
 * compaction of the ids is the only one: the step pools its slots and offsets as they are).
 * `distinct` is their row count.
 */
function gatheredRows(s: RunState, key: string, bags: number, dim: number, node: Node): GatheredRows & { distinct: number } {
  const g = s.gathered?.[key];
  if (!g || g.offsets.length < bags + 1 || g.rows.length % dim !== 0) {
    throw new RankfnError(`node "${node.name}": rows of its remote table were not gathered for this batch (rank through Model.rank, which fetches them)`, "remote_rows_missing", 500);
  }
  return { ...g, distinct: g.rows.length / dim };
}

/** Ids as exact doubles (an i64 from its two 32-bit halves, exact below 2^53), read and written without BigInt allocations. */
function idView(arr: Int32Array | BigInt64Array): { wide: boolean; get(i: number): number; set(i: number, v: number): void } {
  const wide = arr instanceof BigInt64Array;
  const w = new Int32Array(arr.buffer, arr.byteOffset, arr.length * (wide ? 2 : 1));
  return wide
    ? {
        wide,
        get: (i) => w[2 * i + 1]! * 4294967296 + (w[2 * i]! >>> 0),
        set: (i, v) => {
          w[2 * i] = v | 0;
          w[2 * i + 1] = Math.floor(v / 4294967296);
        },
      }
    : { wide, get: (i) => w[i]!, set: (i, v) => (w[i] = v) };
}

/**
 * The id view of a slot's current storage, made again when a run binds the slot to other
 * storage (a graph input read in place); never read while the plan is built.
 */
function liveIds(slot: Slot<Int32Array | BigInt64Array>): () => ReturnType<typeof idView> {
  let arr: Int32Array | BigInt64Array | undefined;
  let view: ReturnType<typeof idView> | undefined;
  return () => {
    if (slot.data !== arr) {
      arr = slot.data;
      view = idView(arr);
    }
    return view!;
  };
}

/** Prepare the ids of one table: direct when there is nothing to drop or fold, else compacted. */
export function bagSource(ctx: PlanContext, node: Node, index: number, idsName: string, tableName: string, mode: string, idPolicy: string): BagSource {
  const idSlot = ctx.idSlot(idsName);
  const L = idSlot.width;
  const table = ctx.weight(tableName);
  const rowsInTable = table.shape[0]!;
  const spec = ctx.graph.inputs.find((i) => i.name === idsName);
  const padding = spec?.padding;
  const offsets = new BigInt64Array(ctx.capacity + 1);
  const off32 = new Int32Array(offsets.buffer);
  const remote = ctx.isRemote(tableName) ? { key: useKey(node.name, index) } : undefined;
  const wide = ctx.values.get(idsName)!.dtype === "i64";
  const base = { input: idsName, table, dim: table.shape[1]!, mode: poolModes.indexOf(mode as (typeof poolModes)[number]), offsets, remote, wide };
  if (padding === undefined && idPolicy === "error") {
    for (let b = 0; b <= ctx.capacity; b++) off32[2 * b] = b * L;
    return {
      ...base,
      get ids() {
        return idSlot.data;
      },
      prepare: (rows) => rows * L,
    };
  }
  const live = liveIds(idSlot);
  const ids = wide ? new BigInt64Array(ctx.capacity * L) : new Int32Array(ctx.capacity * L);
  const dst = idView(ids);
  const pad = padding ?? Number.NaN;
  const modulo = idPolicy === "modulo";
  return {
    ...base,
    ids,
    prepare(rows) {
      const src = live();
      let count = 0;
      for (let b = 0; b < rows; b++) {
        off32[2 * b] = count;
        for (let j = 0; j < L; j++) {
          const v = src.get(b * idSlot.ld + j);
          if (v === pad) continue;
          dst.set(count++, modulo ? ((v % rowsInTable) + rowsInTable) % rowsInTable : v);
        }
      }
      off32[2 * rows] = count;
      off32[2 * rows + 1] = 0;
      return count;
    },
  };
}

/** A bad id is the caller's fault: name the input it came from. */
function rethrowForInput(err: unknown, input: string): never {
  if (err instanceof KernelError && err.kernelStatus === 2) throw new RankfnError(`input "${input}": ${err.message}`, "id_out_of_range", 400);
  throw err;
}

const embeddingBag: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const src = bagSource(ctx, node, 0, node.inputs[0]!, node.inputs[1]!, a.mode, a.idPolicy);
  const y = ctx.slot(node.outputs[0]!);
  const tableCode = dtypes[src.table.dtype].code;
  const idCode = src.wide ? 6 : 5;
  const rowsInTable = src.table.shape[0]!;
  return {
    node: node.name,
    op: node.op,
    run(s) {
      const rows = rowsOf(y, s);
      try {
        if (src.remote) {
          const g = gatheredRows(s, src.remote.key, rows, src.dim, node);
          ctx.check(ctx.sym.rf_embedding_bag(null, g.rows, 0, g.distinct, src.dim, g.slots, 5, g.slots.length, g.offsets, rows, null, src.mode, y.data, y.ld), node);
          return;
        }
        const numIds = src.prepare(rows);
        ctx.check(ctx.sym.rf_embedding_bag(null, src.table.data, tableCode, rowsInTable, src.dim, src.ids, idCode, numIds, src.offsets, rows, null, src.mode, y.data, y.ld), node);
      } catch (err) {
        rethrowForInput(err, src.input);
      }
    },
  };
};

const DESCRIPTOR_BYTES = 88;

/** All tables in one call; descriptor pointers are refreshed each run (arrays may move). */
const embeddingBags: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const t = node.inputs.length / 2;
  const sources = Array.from({ length: t }, (_, i) => bagSource(ctx, node, i, node.inputs[i]!, node.inputs[t + i]!, a.modes[i], a.idPolicies[i]));
  const outs: Slot[] = node.outputs.map((o) => ctx.slot(o));
  const desc = new Uint8Array(DESCRIPTOR_BYTES * t);
  const d32 = new Int32Array(desc.buffer);
  const setPtr = (word: number, p: number) => {
    d32[word] = p % 4294967296 | 0;
    d32[word + 1] = Math.floor(p / 4294967296);
  };
  const setI64 = setPtr;
  sources.forEach((src, i) => {
    const w = (i * DESCRIPTOR_BYTES) / 4;
    setI64(w + 10, src.table.shape[0]!);
    setI64(w + 12, src.dim);
    setI64(w + 16, outs[i]!.ld);
    d32[w + 18] = src.remote ? 0 : dtypes[src.table.dtype].code;
    d32[w + 19] = src.remote || !src.wide ? 5 : 6;
    d32[w + 20] = src.mode;
  });
  const address = (arr: TypedArray) => (arr.byteLength > 0 ? (ptr(arr) as number) : 0);
  // The gathered arrays whose addresses are in the descriptors stay referenced until the call returns.
  const keep: (GatheredRows | undefined)[] = new Array(t);
  return {
    node: node.name,
    op: node.op,
    run(s: RunState) {
      const rows = rowsOf(outs[0]!, s);
      sources.forEach((src, i) => {
        const w = (i * DESCRIPTOR_BYTES) / 4;
        if (src.remote) {
          const g = gatheredRows(s, src.remote.key, rows, src.dim, node);
          keep[i] = g;
          setI64(w + 14, g.slots.length);
          setI64(w + 10, g.distinct);
          setPtr(w, address(g.rows));
          setPtr(w + 2, address(g.slots));
          setPtr(w + 4, address(g.offsets));
        } else {
          setI64(w + 14, src.prepare(rows));
          setPtr(w, address(src.table.data));
          setPtr(w + 2, address(src.ids));
          setPtr(w + 4, address(src.offsets));
        }
        setPtr(w + 6, 0);
        setPtr(w + 8, address(outs[i]!.data));
      });
      const status = ctx.sym.rf_embedding_bags(null, t, desc, rows);
      keep.fill(undefined);
      if (status !== 0) {
        try {
          ctx.check(status, node);
        } catch (err) {
          const table = /table (\d+)/.exec((err as Error).message);
          rethrowForInput(err, table ? node.inputs[Number(table[1])]! : node.inputs.slice(0, t).join(", "));
        }
      }
    },
  };
};

/**
 * One bag per id slot: each row's L slots become L one-id bags (padding slots
 * empty, so they pool to zeros), written as [rows × L, dim] — the row-major
 * [rows, L·dim] output when it is contiguous.
 */
const embeddingSequence: StepBuilder = (node, ctx) => {
  const idSlot = ctx.idSlot(node.inputs[0]!);
  const table = ctx.weight(node.inputs[1]!);
  const [rowsInTable, dim] = table.shape as [number, number];
  const y = ctx.slot(node.outputs[0]!);
  const L = idSlot.width;
  if (y.ld !== L * dim) throw new Error(`node "${node.name}": the sequence output must be stored contiguously`);
  const spec = ctx.graph.inputs.find((i) => i.name === node.inputs[0]);
  const pad = spec?.padding ?? Number.NaN;
  const modulo = ctx.attrs(node).idPolicy === "modulo";
  const live = liveIds(idSlot);
  const wide = ctx.values.get(node.inputs[0]!)!.dtype === "i64";
  const ids = wide ? new BigInt64Array(ctx.capacity * L) : new Int32Array(ctx.capacity * L);
  const dst = idView(ids);
  const offsets = new BigInt64Array(ctx.capacity * L + 1);
  const off32 = new Int32Array(offsets.buffer);
  const tableCode = dtypes[table.dtype].code;
  const remote = ctx.isRemote(node.inputs[1]!) ? { key: useKey(node.name, 0) } : undefined;
  const jagged = ctx.jagged(node.outputs[0]!);
  if (jagged) return packedSequence(node, ctx, jagged, idSlot, y, ctx.writesOffsets(node));
  return {
    node: node.name,
    op: node.op,
    run(s) {
      const rows = rowsOf(y, s);
      if (remote) {
        const g = gatheredRows(s, remote.key, rows * L, dim, node);
        ctx.check(ctx.sym.rf_embedding_bag(null, g.rows, 0, g.distinct, dim, g.slots, 5, g.slots.length, g.offsets, rows * L, null, 0, y.data, dim), node);
        return;
      }
      const src = live();
      let count = 0;
      for (let b = 0; b < rows; b++) {
        for (let j = 0; j < L; j++) {
          off32[2 * (b * L + j)] = count;
          const v = src.get(b * idSlot.ld + j);
          if (v === pad) continue;
          dst.set(count++, modulo ? ((v % rowsInTable) + rowsInTable) % rowsInTable : v);
        }
      }
      off32[2 * rows * L] = count;
      try {
        ctx.check(ctx.sym.rf_embedding_bag(null, table.data, tableCode, rowsInTable, dim, ids, wide ? 6 : 5, count, offsets, rows * L, null, 0, y.data, dim), node);
      } catch (err) {
        rethrowForInput(err, node.inputs[0]!);
      }
    },
  };
};

/**
 * embedding_sequence into a jagged value (jagged-tokens.ts): context row b's events (its last
 * e_b slots, or its e_b values at its offset when the batch staged the ids as values + offsets;
 * e_b the staged event count of the history's window input) are looked up into rows
 * offsets[b] .. offsets[b + 1] of y, packed; a padding id among them gives a zero row. The
 * history's writer sets the offsets.
 */
function packedSequence(node: Node, ctx: PlanContext, jagged: TokenOffsets, idSlot: Slot<Int32Array | BigInt64Array>, y: Slot, writer: boolean): Step {
  const table = ctx.weight(node.inputs[1]!);
  const [rowsInTable, dim] = table.shape as [number, number];
  const L = idSlot.width;
  if (y.ld !== y.width) throw new Error(`node "${node.name}": jagged history tokens must be stored contiguously`);
  const name = node.inputs[0]!;
  const pad = ctx.graph.inputs.find((i) => i.name === name)?.padding ?? Number.NaN;
  const modulo = ctx.attrs(node).idPolicy === "modulo";
  const live = liveIds(idSlot);
  const wide = ctx.values.get(name)!.dtype === "i64";
  const ids = wide ? new BigInt64Array(ctx.contextCapacity * L) : new Int32Array(ctx.contextCapacity * L);
  const dst = idView(ids);
  const offsets = new BigInt64Array(ctx.contextCapacity * L + 1);
  const off32 = new Int32Array(offsets.buffer);
  const tableCode = dtypes[table.dtype].code;
  // The window: the events of the history input the readers window by (this lookup's, or another of its group).
  const windowIds = ctx.idSlot(jagged.history);
  const windowPad = ctx.graph.inputs.find((i) => i.name === jagged.history)?.padding ?? Number.NaN;
  return {
    node: node.name,
    op: node.op,
    run(s) {
      const rows = rowsOf(y, s);
      if (writer) jagged.set(s, rows, (b) => eventsOf(s, jagged.history, windowIds, b, L, windowPad));
      const src = live();
      let count = 0;
      let t = 0;
      for (let b = 0; b < rows; b++) {
        const e = jagged.count(b);
        const first = firstEvent(s, name, idSlot, b, e, L);
        for (let j = first; j < first + e; j++) {
          off32[2 * t++] = count;
          const v = src.get(j);
          if (v === pad) continue;
          dst.set(count++, modulo ? ((v % rowsInTable) + rowsInTable) % rowsInTable : v);
        }
      }
      off32[2 * t] = count;
      if (t === 0) return;
      try {
        ctx.check(ctx.sym.rf_embedding_bag(null, table.data, tableCode, rowsInTable, dim, ids, wide ? 6 : 5, count, offsets, t, null, 0, y.data, dim), node);
      } catch (err) {
        rethrowForInput(err, name);
      }
    },
  };
}

/** Repeat each request's context row for its candidates (one native gather). */
const broadcast: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return {
    node: node.name,
    op: node.op,
    run: (s) => ctx.check(ctx.sym.rf_gather_rows(null, s.n, y.width, x.data, x.ld, s.r, s.requestOfRow, null, y.data, y.ld), node),
  };
};

const paddingMask: StepBuilder = (node, ctx) => {
  const ids = ctx.idSlot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const pad = ctx.attrs(node).padding as number;
  const live = liveIds(ids);
  return {
    node: node.name,
    op: node.op,
    run(s) {
      const rows = rowsOf(y, s);
      const src = live();
      for (let b = 0; b < rows; b++) {
        for (let j = 0; j < y.width; j++) y.data[b * y.ld + j] = src.get(b * ids.ld + j) === pad ? 0 : 1;
      }
    },
  };
};

export const sparseSteps: Record<string, StepBuilder> = {
  embedding_bag: embeddingBag,
  embedding_bags: embeddingBags,
  embedding_sequence: embeddingSequence,
  broadcast,
  padding_mask: paddingMask,
};

export type { Step };
