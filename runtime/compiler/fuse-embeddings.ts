// All embedding bags of the same role (candidate rows or context rows) become
// one embedding_bags node: one native call over every table, parallel over
// tables × bags. Output names are kept, so concat elimination can then point
// each table's output straight into its slice of the interaction input.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph } from "./pass";

export const fuseEmbeddings: Pass = {
  name: "fuse-embeddings",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const groups = new Map<string, Node[]>();
    for (const node of graph.nodes) {
      if (node.op !== "embedding_bag") continue;
      const role = info.values.get(node.outputs[0]!)!.role;
      groups.set(role, [...(groups.get(role) ?? []), node]);
    }
    let fused = 0;
    let calls = 0;
    for (const [role, bags] of groups) {
      if (bags.length < 2) {
        calls += bags.length;
        continue;
      }
      const attrs = bags.map((b) => info.attrs.get(b.name)!);
      const node: Node = {
        name: `embedding_bags(${role}, ${bags.length} tables)`,
        op: "embedding_bags",
        inputs: [...bags.map((b) => b.inputs[0]!), ...bags.map((b) => b.inputs[1]!)],
        outputs: bags.map((b) => b.outputs[0]!),
        attrs: { modes: attrs.map((a) => a.mode), idPolicies: attrs.map((a) => a.idPolicy) },
      };
      // The fused call goes where every id value exists (ids may be computed: x[:, i], offsets added)
      // and before anything reads a bag's output; where no such place exists the bags stay apart.
      const index = new Map(graph.nodes.map((n, i) => [n, i]));
      const producedAt = new Map(graph.nodes.flatMap((n, i) => n.outputs.map((o) => [o, i] as const)));
      const outs = new Set(bags.flatMap((b) => b.outputs));
      const ready = Math.max(index.get(bags[0]!)!, ...bags.map((b) => (producedAt.get(b.inputs[0]!) ?? -1) + 1));
      const firstUse = graph.nodes.findIndex((n) => !bags.includes(n) && n.inputs.some((i) => outs.has(i)));
      if (firstUse >= 0 && firstUse < ready) {
        calls += bags.length;
        continue;
      }
      const drop = new Set(bags);
      graph.nodes = graph.nodes.flatMap((n, i) => (i === ready ? [node, ...(drop.has(n) ? [] : [n])] : drop.has(n) ? [] : [n]));
      if (ready >= index.size) graph.nodes.push(node);
      fused += bags.length;
      calls += 1;
    }
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-embeddings: ${fused} bags fused, ${calls} embedding call(s) per batch` };
  },
};
