// Every (ids, table) pair a graph looks up: what request validation bounds,
// the remote tier gathers, and sample requests draw ids for. One walk over the
// embedding ops (bag, sequence, and the fused multi-table bags), so a new
// embedding op is taught here once.
import { inferGraph } from "./infer";
import type { Graph } from "./schema";

export interface EmbeddingLookup {
  /** The embedding node, and the table's index among its tables (0 for single-table ops). */
  node: string;
  index: number;
  /** The value holding the ids (a graph input, or computed). */
  ids: string;
  /** The table's weight name. */
  table: string;
  /** Ids outside the table fold into it (idPolicy "modulo") instead of failing the request. */
  modulo: boolean;
  /** A row's ids pool into one bag ("bag"), or each id slot is its own one-id bag ("sequence"). */
  pooling: "bag" | "sequence";
}

/** The graph's lookups in node order. */
export function embeddingLookups(graph: Graph): EmbeddingLookup[] {
  const { attrs } = inferGraph(graph);
  const out: EmbeddingLookup[] = [];
  for (const node of graph.nodes) {
    const a = attrs.get(node.name) ?? {};
    if (node.op === "embedding_bag" || node.op === "embedding_sequence") {
      out.push({ node: node.name, index: 0, ids: node.inputs[0]!, table: node.inputs[1]!, modulo: a.idPolicy === "modulo", pooling: node.op === "embedding_bag" ? "bag" : "sequence" });
    } else if (node.op === "embedding_bags") {
      const t = node.inputs.length / 2;
      const policies = (a.idPolicies as unknown[] | undefined) ?? [];
      for (let i = 0; i < t; i++) out.push({ node: node.name, index: i, ids: node.inputs[i]!, table: node.inputs[t + i]!, modulo: policies[i] === "modulo", pooling: "bag" });
    }
  }
  return out;
}

/** Rows of the smallest table each id value indexes (ids must fit all of them): what generated requests draw ids below. */
export function idRowCounts(graph: Graph): Map<string, number> {
  const rows = new Map<string, number>();
  for (const { ids, table } of embeddingLookups(graph)) {
    const n = graph.weights[table]!.shape[0]!;
    rows.set(ids, Math.min(n, rows.get(ids) ?? Infinity));
  }
  return rows;
}
