// Before a batch runs, gathers the rows its remote tables need: for every
// embedding op that reads a remote table, the op's ids (padding dropped,
// `modulo` ids folded — exactly as the executor's step compacts them) are
// reduced to their distinct ids, whose rows are looked up through the tiers
// into one fp32 buffer [distinct, dim]; each id's row index in it (`slots`)
// is what the step pools with, so results equal the all-local run bit for bit.
// All tables' misses go out in one fetch: one round trip per batch (per node
// on a cluster). `resolveLocal` does the same from the local tiers only, for
// rankSync: it never waits on the network, and says which rows it lacks.
import { RankfnError } from "../errors";
import type { StagedBatch } from "../engine/executor";
import type { GatheredRows } from "../engine/plan-context";
import { embeddingLookups } from "../graph/embedding-lookups";
import type { Graph } from "../graph/schema";
import type { GatherItem, RemoteEmbeddings } from "./remote-tables";

/** One (node, table) pair whose table is remote; `key` names its gathered buffer. */
export interface RemoteUse {
  key: string;
  node: string;
  table: string;
  input: string;
  role: "context" | "candidate";
  width: number;
  padding: number | undefined;
  modulo: boolean;
  pooling: "bag" | "sequence";
  rows: number;
  dim: number;
}

/** Key of the gathered rows of table `index` of `node`. */
export const useKey = (node: string, index: number) => `${node}#${index}`;

/** The embedding tables a graph reads (weight names of bag / sequence ops). */
export function embeddingTables(graph: Graph): string[] {
  return [...new Set(embeddingLookups(graph).map((l) => l.table))];
}

/** Every use of a remote table in `graph`. */
export function remoteUses(graph: Graph, remote: ReadonlySet<string>): RemoteUse[] {
  return embeddingLookups(graph).flatMap(({ node, index, ids: input, table, modulo, pooling }) => {
    if (!remote.has(table)) return [];
    const spec = graph.inputs.find((i) => i.name === input);
    if (!spec) throw new RankfnError(`node "${node}": ids "${input}" of remote table "${table}" are computed in the graph; a remote table must be indexed by a model input`, "unsupported_remote_table", 400);
    const [rows, dim] = graph.weights[table]!.shape as [number, number];
    return [{ key: useKey(node, index), node, table, input, role: spec.role, width: spec.shape.reduce((a, b) => a * b, 1), padding: spec.padding, modulo, pooling, rows, dim }];
  });
}

export class EmbeddingResolver {
  constructor(
    readonly uses: RemoteUse[],
    readonly remote: RemoteEmbeddings,
  ) {}

  /** The gathered rows of every use for `batch`, and how many rows were defaulted (degraded). */
  async resolve(batch: StagedBatch, timeoutMs = this.remote.options.timeoutMs): Promise<{ rows: Record<string, GatheredRows>; defaulted: number }> {
    const started = performance.now();
    await withTimeout(this.remote.ensureMeta(), timeoutMs);
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    const { rows, items } = this.#items(batch);
    const defaulted = await this.remote.gatherMany(items, left);
    if (defaulted > 0) this.remote.noteDegraded();
    return { rows, defaulted };
  }

  /**
   * Start fetching the rows `batch` (the next batch, staged ahead) will miss, so its Redis round
   * trip overlaps the batch computing now; returns the rows requested. A bad id throws the
   * RankfnError its own run would (nothing is fetched then).
   */
  prefetch(batch: StagedBatch): number {
    return this.remote.prefetch(this.uses.map((use) => ({ table: use.table, ids: distinctIds(use, batch).distinct })));
  }

  /**
   * The gathered rows from the local tiers alone (hot/cold split, hot cache, host
   * cache); throws a RankfnError (503, remote_rows_not_local) naming the tables
   * with rows that only Redis has.
   */
  resolveLocal(batch: StagedBatch): Record<string, GatheredRows> {
    const { rows, items } = this.#items(batch);
    const missing = this.remote.gatherLocal(items);
    if (missing.size > 0) {
      const list = [...missing].map(([t, n]) => `${n} of "${t}"`).join(", ");
      throw new RankfnError(`rankSync: ${list} rows are not in this process's tiers (hot/cold split, hot or host cache), and rankSync never waits for Redis: use rank()`, "remote_rows_not_local", 503);
    }
    return rows;
  }

  #items(batch: StagedBatch): { rows: Record<string, GatheredRows>; items: GatherItem[] } {
    const rows: Record<string, GatheredRows> = {};
    // Every id is checked before any fetch starts (a bad id fails the batch with nothing in flight).
    const ids = this.uses.map((use) => distinctIds(use, batch));
    const items = this.uses.map((use, i) => {
      const { distinct, slots, offsets } = ids[i]!;
      const out = new Float32Array(distinct.length * use.dim);
      rows[use.key] = { rows: out, slots, offsets };
      return { table: use.table, ids: distinct, n: distinct.length, out };
    });
    return { rows, items };
  }
}

/** Metadata is a nicety (mean rows, shape check): never wait for it past the batch's deadline. */
async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * The one compaction of a use's ids: padding dropped and modulo ids folded, range-checked (400
 * naming the input), as distinct ids (first-seen order), how often each occurs, each kept id's
 * index into the distinct ids, and the bag boundaries (per row, or per id slot of a sequence).
 * Dedup is an open-addressing table over typed arrays (no per-id allocation).
 */
function distinctIds(use: RemoteUse, batch: StagedBatch): { distinct: Int32Array | BigInt64Array; uses: Int32Array; slots: Int32Array; offsets: BigInt64Array } {
  const src = batch.inputs[use.input];
  if (!src) throw new RankfnError(`input "${use.input}" is missing`, "bad_input", 400);
  const n = (use.role === "candidate" ? batch.n : batch.r) * use.width;
  const wide = src instanceof BigInt64Array;
  const w32 = new Int32Array(src.buffer, src.byteOffset, n * (wide ? 2 : 1));
  const bits = Math.max(4, Math.ceil(Math.log2(2 * n + 1)));
  const mask = (1 << bits) - 1;
  const keys = new Float64Array(1 << bits).fill(-1);
  const index = new Int32Array(1 << bits);
  const distinct = new Float64Array(n);
  const uses = new Int32Array(n);
  const slots = new Int32Array(n);
  const pad = use.padding ?? Number.NaN;
  // A bag per row (its `width` id slots), or per id slot (sequence): boundaries as int64 (lo, hi) pairs.
  const perBag = use.pooling === "bag" ? use.width : 1;
  const offsets = new BigInt64Array(n / perBag + 1);
  const off32 = new Int32Array(offsets.buffer);
  let count = 0;
  let found = 0;
  for (let i = 0; i < n; i++) {
    if (i % perBag === 0) off32[2 * (i / perBag)] = count;
    let v = wide ? w32[2 * i + 1]! * 4294967296 + (w32[2 * i]! >>> 0) : w32[i]!;
    if (v === pad) continue;
    if (use.modulo) v = ((v % use.rows) + use.rows) % use.rows;
    else if (!(v >= 0 && v < use.rows)) throw new RankfnError(`input "${use.input}": id ${v} at position ${i} is outside the table's ${use.rows} rows`, "id_out_of_range", 400);
    let h = (Math.imul(v | 0, 0x9e3779b1) ^ Math.imul((v / 4294967296) | 0, 0x85ebca6b)) >>> (32 - bits);
    while (keys[h] !== -1 && keys[h] !== v) h = (h + 1) & mask;
    if (keys[h] === -1) {
      keys[h] = v;
      index[h] = found;
      distinct[found++] = v;
    }
    uses[index[h]!]!++;
    slots[count++] = index[h]!;
  }
  off32[2 * (n / perBag)] = count;
  const ids = use.rows <= 0x7fffffff ? Int32Array.from(distinct.subarray(0, found)) : BigInt64Array.from(distinct.subarray(0, found), BigInt);
  return { distinct: ids, uses: uses.subarray(0, found), slots: slots.subarray(0, count), offsets };
}
