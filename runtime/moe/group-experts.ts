// Lowering for expert-parallel dense mixtures (MMoE, PLE): the experts that
// feed `mixture` nodes — chains of linear layers whose intermediate values
// nothing else reads — are replaced by `experts` nodes, one per group of
// chains that can run at once (every chain ends before any consumer of any of
// them). The executor runs an `experts` node on the devices; the mixtures
// (gate-weighted combine) stay as they are. Intermediates live on the devices,
// so the memory plan no longer holds them.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph, producers, useCounts } from "../compiler/pass";

interface Chain {
  nodes: Node[];
  input: string;
  output: string;
  first: number;
  last: number;
  firstUse: number;
}

export const groupExperts: Pass = {
  name: "group-experts",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const uses = useCounts(graph);
    const made = producers(graph);
    const index = new Map(graph.nodes.map((n, i) => [n, i]));
    const consumers = new Map<string, number[]>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => consumers.set(v, [...(consumers.get(v) ?? []), i])));
    const outputs = new Set(Object.values(graph.outputs));
    const isLinear = (n: Node | undefined) => n?.op === "linear" && n.inputs.length === 3 && Object.hasOwn(graph.weights, n.inputs[1]!) && Object.hasOwn(graph.weights, n.inputs[2]!);
    const chains: Chain[] = [];
    const taken = new Set<string>();
    for (const mix of graph.nodes.filter((n) => n.op === "mixture")) {
      for (const out of mix.inputs.slice(1)) {
        if (taken.has(out) || outputs.has(out) || info.values.get(out)?.role !== "candidate") continue;
        if (!(consumers.get(out) ?? []).every((i) => graph.nodes[i]!.op === "mixture")) continue;
        const nodes: Node[] = [];
        let n = made.get(out);
        while (isLinear(n)) {
          nodes.unshift(n!);
          const x = n!.inputs[0]!;
          const prev = made.get(x);
          if (!isLinear(prev) || uses.get(x) !== 1 || outputs.has(x)) break;
          n = prev;
        }
        if (nodes.length === 0) continue;
        taken.add(out);
        const firstUse = Math.min(...consumers.get(out)!);
        chains.push({ nodes, input: nodes[0]!.inputs[0]!, output: out, first: index.get(nodes[0]!)!, last: index.get(nodes.at(-1)!)!, firstUse });
      }
    }
    chains.sort((a, b) => a.first - b.first);
    const groups: Chain[][] = [];
    for (const c of chains) {
      const g = groups.at(-1);
      const fits = g && Math.max(c.last, ...g.map((x) => x.last)) < Math.min(c.firstUse, ...g.map((x) => x.firstUse));
      if (fits) g.push(c);
      else groups.push([c]);
    }
    const removed = new Set(chains.flatMap((c) => c.nodes));
    const at = new Map<number, Node>();
    groups.forEach((g, gi) => {
      const inputs = [...new Set(g.map((c) => c.input))];
      at.set(Math.max(...g.map((c) => c.last)), {
        name: `experts_${gi}`,
        op: "experts",
        inputs: [...inputs, ...g.flatMap((c) => c.nodes.flatMap((n) => [n.inputs[1]!, n.inputs[2]!]))],
        outputs: g.map((c) => c.output),
        attrs: { chains: g.map((c) => ({ input: inputs.indexOf(c.input), acts: c.nodes.map((n) => (n.attrs?.act as string | undefined) ?? "none") })) },
      });
    });
    graph.nodes = graph.nodes.flatMap((n, i) => [...(removed.has(n) ? [] : [n]), ...(at.has(i) ? [at.get(i)!] : [])]);
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `group-experts: ${chains.length} expert chains (${removed.size} linear nodes) in ${groups.length} expert-parallel groups` };
  },
};
