// Dead-code elimination: drop nodes no graph output depends on, then the
// weights only they read.
import type { Pass } from "./pass";
import { cloneGraph, producers, pruneWeights } from "./pass";

export const eliminateDeadCode: Pass = {
  name: "dce",
  run(model) {
    const graph = cloneGraph(model.graph);
    const byValue = producers(graph);
    const live = new Set<string>();
    const stack = Object.values(graph.outputs).map((v) => byValue.get(v)).filter((n) => n !== undefined);
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (live.has(node.name)) continue;
      live.add(node.name);
      for (const input of node.inputs) {
        const p = byValue.get(input);
        if (p && !live.has(p.name)) stack.push(p);
      }
    }
    const before = graph.nodes.length;
    const weightsBefore = Object.keys(graph.weights).length;
    graph.nodes = graph.nodes.filter((n) => live.has(n.name));
    const weights = pruneWeights(graph, model.weights);
    return {
      model: { graph, weights },
      summary: `dce: ${before} -> ${graph.nodes.length} nodes, ${weightsBefore} -> ${Object.keys(graph.weights).length} weights`,
    };
  },
};
