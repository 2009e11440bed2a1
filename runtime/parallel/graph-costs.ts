// The planner's view of a compiled graph (runtime/parallel/planner.ts): each
// node as FLOPs and bytes per row plus the bytes it streams once per batch.
// - FLOPs: runtime/graph/node-flops.ts (the estimate the zoo's size figures use).
// - Bytes per row: its activations in and out, and for a lookup the table rows
//   it reads (ids × dim × the table's element size).
// - Bytes per batch: its weights (the tables excepted: a lookup reads rows, not
//   the table).
// Context nodes (once per request) are counted as if once per row: the planner
// places candidate-side work, and a context node costs at most that.
// Dense chains and tensor-parallel groups come from linearPairs() (the engine's
// own pairing, runtime/parallel/linear-pairs.ts); a pair's last node carries
// the reduce.
import { type GraphInfo, inferGraph } from "../graph/infer";
import { nodeFlops } from "../graph/node-flops";
import type { Graph, Node } from "../graph/schema";
import { dtypes, storageLength } from "../tensor/dtype";
import { denseGroups, linearChains } from "./linear-pairs";
import type { CostNode } from "./planner";

const lookupOps = new Set(["embedding_bag", "embedding_bags", "embedding_sequence"]);
const linearOps = new Set(["linear", "matmul", "cross", "grouped_linear"]);
const expertOps = new Set(["moe", "experts", "mixture"]);

export interface LinearPairs {
  /** Tensor parallelism: the split group (pair or column-split linear) of each node in one. */
  pairOf: ReadonlyMap<string, number>;
  /** The nodes that end a pair (their output is reduced over the devices). */
  ends: ReadonlySet<string>;
  /** Replicate: the dense chain of each node in one. */
  chainOf: ReadonlyMap<string, number>;
}

/** The dense chains and tensor-parallel groups of a graph as the engine runs them (runtime/parallel/linear-pairs.ts). */
export function linearPairs(graph: Graph, info: GraphInfo = inferGraph(graph)): LinearPairs {
  const chains = linearChains(graph, info);
  const pairOf = new Map<string, number>();
  const ends = new Set<string>();
  const chainOf = new Map<string, number>();
  chains.forEach((chain, c) => chain.forEach((l) => chainOf.set(l.node, c)));
  denseGroups(chains, "tensor").forEach((group, g) => {
    for (const l of group.linears) pairOf.set(l.node, g);
    if (group.kind === "pair") ends.add(group.linears[1].node);
  });
  return { pairOf, ends, chainOf };
}

function kindOf(node: Node): CostNode["kind"] {
  if (lookupOps.has(node.op)) return "embedding";
  if (linearOps.has(node.op)) return "linear";
  if (expertOps.has(node.op)) return "moe";
  return "other";
}

function valueBytes(info: GraphInfo, name: string): number {
  const v = info.values.get(name);
  return v ? v.shape.reduce((a, b) => a * b, 1) * dtypes[v.dtype].bytes : 0;
}

/** Table rows a lookup reads per row: ids × row bytes, per (ids input, table) pair. */
function lookupBytes(graph: Graph, info: GraphInfo, node: Node): number {
  const ids = node.inputs.filter((i) => !graph.weights[i]);
  const tables = node.inputs.filter((i) => graph.weights[i]);
  return ids.reduce((acc, id, t) => {
    const table = graph.weights[tables[t] ?? tables[0]!]!;
    const rowBytes = (storageLength(table.dtype, [1, table.shape[1] ?? 0]) * dtypes[table.dtype].bytes);
    const count = (info.values.get(id)?.shape ?? []).reduce((a, b) => a * b, 1);
    return acc + count * rowBytes;
  }, 0);
}

/** The cost nodes of `graph`, in its (topological) order. */
export function costNodes(graph: Graph, pairs?: LinearPairs, info: GraphInfo = inferGraph(graph)): CostNode[] {
  return graph.nodes.map((node) => {
    const kind = kindOf(node);
    const activations = [...node.inputs.filter((i) => !graph.weights[i]), ...node.outputs].reduce((acc, v) => acc + valueBytes(info, v), 0);
    const weightBytes = kind === "embedding" ? 0 : node.inputs.filter((i) => graph.weights[i]).reduce((acc, i) => {
      const w = graph.weights[i]!;
      return acc + storageLength(w.dtype, w.shape) * dtypes[w.dtype].bytes;
    }, 0);
    const out: CostNode = {
      name: node.name,
      kind,
      flopsPerRow: nodeFlops(graph, info, node),
      bytesPerRow: activations + (kind === "embedding" ? lookupBytes(graph, info, node) : 0),
      weightBytes,
    };
    const chain = pairs?.chainOf.get(node.name);
    if (chain !== undefined) out.chain = chain;
    if (kind === "embedding") out.idsPerRow = node.inputs.filter((i) => !graph.weights[i]).reduce((acc, i) => acc + (info.values.get(i)?.shape ?? []).reduce((a, b) => a * b, 1), 0);
    const pair = pairs?.pairOf.get(node.name);
    if (pair !== undefined) {
      out.pair = pair;
      if (pairs!.ends.has(node.name)) out.reduceWidth = (info.values.get(node.outputs[0]!)?.shape ?? []).reduce((a, b) => a * b, 1);
    }
    return out;
  });
}
