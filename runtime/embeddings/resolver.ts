// Before a batch runs, gathers the rows its remote tables need: for every
// embedding op that reads a remote table, the op's ids (padding dropped,
// `modulo` ids folded — exactly as the executor's step compacts them) are
// looked up through the tiers into one fp32 buffer [ids, dim]. The step then
// pools that buffer with identity ids, so results equal the all-local run bit
// for bit (fp32 tables). All tables' misses go out in the same tick: one
// pipelined round trip per batch.
import { RankfnError } from "../errors";
import type { StagedBatch } from "../engine/executor";
import { inferGraph } from "../graph/infer";
import type { Graph } from "../graph/schema";
import type { RemoteEmbeddings } from "./remote-tables";

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
  rows: number;
  dim: number;
}

/** Key of the gathered rows of table `index` of `node`. */
export const useKey = (node: string, index: number) => `${node}#${index}`;

/** The embedding tables a graph reads (weight names of bag / sequence ops). */
export function embeddingTables(graph: Graph): string[] {
  const out = new Set<string>();
  for (const node of graph.nodes) {
    if (node.op === "embedding_bag" || node.op === "embedding_sequence") out.add(node.inputs[1]!);
    if (node.op === "embedding_bags") node.inputs.slice(node.inputs.length / 2).forEach((t) => out.add(t));
  }
  return [...out];
}

/** Every use of a remote table in `graph`. */
export function remoteUses(graph: Graph, remote: ReadonlySet<string>): RemoteUse[] {
  const { attrs } = inferGraph(graph);
  const uses: RemoteUse[] = [];
  const add = (node: string, index: number, input: string, table: string, idPolicy: unknown) => {
    if (!remote.has(table)) return;
    const spec = graph.inputs.find((i) => i.name === input);
    if (!spec) throw new Error(`node "${node}": ids "${input}" of remote table "${table}" are not a graph input`);
    const [rows, dim] = graph.weights[table]!.shape as [number, number];
    uses.push({ key: useKey(node, index), node, table, input, role: spec.role, width: spec.shape.reduce((a, b) => a * b, 1), padding: spec.padding, modulo: idPolicy === "modulo", rows, dim });
  };
  for (const node of graph.nodes) {
    const a = attrs.get(node.name) ?? {};
    if (node.op === "embedding_bag" || node.op === "embedding_sequence") add(node.name, 0, node.inputs[0]!, node.inputs[1]!, a.idPolicy);
    if (node.op === "embedding_bags") {
      const t = node.inputs.length / 2;
      for (let i = 0; i < t; i++) add(node.name, i, node.inputs[i]!, node.inputs[t + i]!, (a.idPolicies as unknown[])[i]);
    }
  }
  return uses;
}

export class EmbeddingResolver {
  constructor(
    readonly uses: RemoteUse[],
    readonly remote: RemoteEmbeddings,
  ) {}

  /** The gathered rows of every use for `batch`, and how many rows were defaulted (degraded). */
  async resolve(batch: StagedBatch, timeoutMs = this.remote.options.timeoutMs): Promise<{ rows: Record<string, Float32Array>; defaulted: number }> {
    const started = performance.now();
    await withTimeout(this.remote.ensureMeta(), timeoutMs);
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    const rows: Record<string, Float32Array> = {};
    // Every id is checked before any fetch starts (a bad id fails the batch with nothing in flight).
    const ids = this.uses.map((use) => compactIds(use, batch));
    const counts = await Promise.all(
      this.uses.map((use, i) => {
        const out = new Float32Array(ids[i]!.length * use.dim);
        rows[use.key] = out;
        return this.remote.gather(use.table, ids[i]!, ids[i]!.length, out, left);
      }),
    );
    const defaulted = counts.reduce((a, c) => a + c, 0);
    if (defaulted > 0) this.remote.noteDegraded();
    return { rows, defaulted };
  }
}

/** Metadata is a nicety (mean rows, shape check): never wait for it past the batch's deadline. */
async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** The ids one use pools, in the executor's order, range-checked (400 naming the input). */
function compactIds(use: RemoteUse, batch: StagedBatch): Int32Array | BigInt64Array {
  const src = batch.inputs[use.input];
  if (!src) throw new RankfnError(`input "${use.input}" is missing`, "bad_input", 400);
  const n = (use.role === "candidate" ? batch.n : batch.r) * use.width;
  const wide = src instanceof BigInt64Array;
  const w32 = new Int32Array(src.buffer, src.byteOffset, n * (wide ? 2 : 1));
  const out = use.rows <= 0x7fffffff ? new Int32Array(n) : new BigInt64Array(n);
  const pad = use.padding ?? Number.NaN;
  let count = 0;
  for (let i = 0; i < n; i++) {
    let v = wide ? w32[2 * i + 1]! * 4294967296 + (w32[2 * i]! >>> 0) : w32[i]!;
    if (v === pad) continue;
    if (use.modulo) v = ((v % use.rows) + use.rows) % use.rows;
    else if (!(v >= 0 && v < use.rows)) throw new RankfnError(`input "${use.input}": id ${v} at position ${i} is outside the table's ${use.rows} rows`, "id_out_of_range", 400);
    if (out instanceof Int32Array) out[count++] = v;
    else out[count++] = BigInt(v);
  }
  return out.subarray(0, count);
}
