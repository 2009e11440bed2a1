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
      // Ids are graph inputs, so the fused call can take the place of the first bag.
      const first = graph.nodes.indexOf(bags[0]!);
      const drop = new Set(bags);
      graph.nodes = graph.nodes.flatMap((n, i) => (i === first ? [node] : drop.has(n) ? [] : [n]));
      fused += bags.length;
      calls += 1;
    }
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-embeddings: ${fused} bags fused, ${calls} embedding call(s) per batch` };
  },
};
