// DCN-v2 cross layers written out as formulas (what exporters produce) become
// the fused cross op, after fuse-linear has turned the MatMuls into linears:
//   add(mul(x0, linear(linear(x, V), U, b)), x)  ->  cross{lowRank}(x0, x, V, U, b)
//   add(mul(x0, linear(x, W, b)), x)             ->  cross(x0, x, W, b)
// (mul and add in either operand order). Every intermediate must have no other reader.
import type { Graph, Node } from "../graph/schema";
import { inferGraph } from "../graph/infer";
import { type Pass, cloneGraph, producers, useCounts } from "./pass";

function plainLinear(n: Node | undefined, graph: Graph): n is Node {
  return !!n && n.op === "linear" && ((n.attrs.act as string | undefined) ?? "none") === "none" && n.inputs.length <= 3 && !!graph.weights[n.inputs[1]!];
}

export const fuseCross: Pass = {
  name: "fuse-cross",
  run(model) {
    const graph = cloneGraph(model.graph);
    let fused = 0;
    for (let changed = true; changed; ) {
      changed = false;
      const uses = useCounts(graph);
      const byValue = producers(graph);
      const single = (v: string) => uses.get(v) === 1 && !Object.values(graph.outputs).includes(v);
      for (const add of graph.nodes) {
        if (add.op !== "add") continue;
        for (const [mulValue, x] of [[add.inputs[0]!, add.inputs[1]!], [add.inputs[1]!, add.inputs[0]!]] as const) {
          const mul = byValue.get(mulValue);
          if (!mul || mul.op !== "mul" || !single(mulValue)) continue;
          for (const [x0, tValue] of [[mul.inputs[0]!, mul.inputs[1]!], [mul.inputs[1]!, mul.inputs[0]!]] as const) {
            const outer = byValue.get(tValue);
            if (!plainLinear(outer, graph) || !single(tValue) || graph.weights[x0]) continue;
            const inner = byValue.get(outer.inputs[0]!);
            let cross: Node | undefined;
            if (plainLinear(inner, graph) && inner.inputs.length === 2 && inner.inputs[0] === x && single(inner.outputs[0]!)) {
              cross = { name: `cross(${add.name})`, op: "cross", inputs: [x0, x, inner.inputs[1]!, outer.inputs[1]!, ...outer.inputs.slice(2)], outputs: add.outputs, attrs: { lowRank: true } };
            } else if (outer.inputs[0] === x) {
              cross = { name: `cross(${add.name})`, op: "cross", inputs: [x0, x, ...outer.inputs.slice(1)], outputs: add.outputs, attrs: { lowRank: false } };
            }
            if (!cross) continue;
            const drop = new Set([mul, outer, ...(cross.attrs.lowRank ? [inner!] : [])]);
            graph.nodes = graph.nodes.flatMap((n) => (n === add ? [cross!] : drop.has(n) ? [] : [n]));
            fused++;
            changed = true;
            break;
          }
          if (changed) break;
        }
        if (changed) break;
      }
    }
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-cross: ${fused} DCN cross formulas -> cross op` };
  },
};
