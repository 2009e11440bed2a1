// Embedding bags from the general graph: a sum or mean over the ids axis of an
// unpooled lookup —  reduce{sum|mean, ids axis}(reshape [L, D](embedding_sequence(ids [L], T)))
// -> embedding_bag(ids, T) — one pooled native call instead of L rows written
// and summed. The importer fuses the pattern as it reads it; this pass catches
// the lookups it had to materialise first (another op read them before the
// reduction did), whatever the order of the exporter's nodes.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph, producers } from "./pass";

export const fuseLookupPool: Pass = {
  name: "fuse-lookup-pool",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const byValue = producers(graph);
    const replaced = new Map<Node, Node[]>();
    for (const node of graph.nodes) {
      if (node.op !== "reduce") continue;
      const a = info.attrs.get(node.name)!;
      const view = byValue.get(node.inputs[0]!);
      const lookup = view?.op === "reshape" ? byValue.get(view.inputs[0]!) : undefined;
      if (!view || !lookup || lookup.op !== "embedding_sequence" || (a.op !== "sum" && a.op !== "mean")) continue;
      const ids = info.values.get(lookup.inputs[0]!)!;
      const rows = info.values.get(view.outputs[0]!)!.shape;
      const axes = (a.axes as number[]).map((x) => (x < 0 ? x + rows.length + 1 : x));
      // Rows [L, D] of one id each, reduced over L; a padded input's mean would count its empty slots.
      const padded = graph.inputs.find((i) => i.name === lookup.inputs[0])?.padding !== undefined;
      if (ids.shape.length !== 1 || rows.length !== 2 || rows[0] !== ids.shape[0] || axes.length !== 1 || axes[0] !== 1 || (padded && a.op === "mean")) continue;
      const idPolicy = info.attrs.get(lookup.name)!.idPolicy;
      const out = node.outputs[0]!;
      const bag: Node = { name: `${node.name}:bag`, op: "embedding_bag", inputs: [lookup.inputs[0]!, lookup.inputs[1]!], outputs: [a.keepdims ? `${out}:pooled` : out], attrs: { mode: a.op, idPolicy } };
      // keepdims: the bag's [D] viewed as the reduction's [1, D].
      const keep: Node[] = a.keepdims ? [{ name: `${node.name}:keepdims`, op: "reshape", inputs: [bag.outputs[0]!], outputs: [out], attrs: { shape: [1, rows[1]!] } }] : [];
      replaced.set(node, [bag, ...keep]);
    }
    graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-lookup-pool: ${replaced.size} pooled lookups -> embedding_bag` };
  },
};
