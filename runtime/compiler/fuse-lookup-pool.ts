// Embedding bags from the general graph: a sum or mean over the ids axis of an
// unpooled lookup —  reduce{sum|mean, ids axis}(reshape [L, D](embedding_sequence(ids [L], T)))
// -> embedding_bag(ids, T) — one pooled native call instead of L rows written
// and summed; and the lookup of a single id per row, which is a gather. This
// is how PyTorch's EmbeddingBag Loops, Gather -> ReduceSum/ReduceMean and
// nn.Embedding of one id become the bags fuse-embeddings batches into one
// call, whatever else reads the unpooled rows.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph, producers, useCounts } from "./pass";

export const fuseLookupPool: Pass = {
  name: "fuse-lookup-pool",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const byValue = producers(graph);
    const uses = useCounts(graph);
    const replaced = new Map<Node, Node[]>();
    const modes = new Map<string, number>();
    const fired = (mode: string) => modes.set(mode, (modes.get(mode) ?? 0) + 1);
    const padded = (value: string) => graph.inputs.find((i) => i.name === value)?.padding !== undefined;
    /** Lookups whose rows only their pooling reads (no gather needed for them). */
    const pooledOnly = new Set<Node>();
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
      if (ids.shape.length !== 1 || rows.length !== 2 || rows[0] !== ids.shape[0] || axes.length !== 1 || axes[0] !== 1 || (padded(lookup.inputs[0]!) && a.op === "mean")) continue;
      const idPolicy = info.attrs.get(lookup.name)!.idPolicy;
      const out = node.outputs[0]!;
      const bag: Node = { name: `${node.name}:bag`, op: "embedding_bag", inputs: [lookup.inputs[0]!, lookup.inputs[1]!], outputs: [a.keepdims ? `${out}:pooled` : out], attrs: { mode: a.op, idPolicy } };
      // keepdims: the bag's [D] viewed as the reduction's [1, D].
      const keep: Node[] = a.keepdims ? [{ name: `${node.name}:keepdims`, op: "reshape", inputs: [bag.outputs[0]!], outputs: [out], attrs: { shape: [1, rows[1]!] } }] : [];
      replaced.set(node, [bag, ...keep]);
      if (uses.get(lookup.outputs[0]!) === 1 && uses.get(view.outputs[0]!) === 1) pooledOnly.add(lookup);
      fired(a.op);
    }
    for (const node of graph.nodes) {
      if (node.op !== "embedding_sequence" || pooledOnly.has(node) || padded(node.inputs[0]!)) continue;
      if (info.values.get(node.inputs[0]!)!.shape.reduce((a, b) => a * b, 1) !== 1) continue;
      // One id per row: its row is the [D] the lookup writes (the same elements), a gather.
      const idPolicy = info.attrs.get(node.name)!.idPolicy;
      replaced.set(node, [{ name: `${node.name}:gather`, op: "embedding_bag", inputs: [...node.inputs], outputs: [...node.outputs], attrs: { mode: "gather", idPolicy } }]);
      fired("gather");
    }
    graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-lookup-pool: ${replaced.size} lookups -> ${[...modes].map(([m, n]) => `embedding_bag(${m})${n > 1 ? ` (×${n})` : ""}`).join("; ") || "embedding_bag"}` };
  },
};
