// The exact GELU as exporters write it out (nn.GELU at opsets below 20, and
// hand-written x·0.5·(1 + erf(x/√2))), in any of its operand orders:
//   mul(mul(x, erf(x/√2) + 1), 0.5)   or   mul(mul(x, 0.5), erf(x/√2) + 1)
// becomes one gelu(x). The constants may be row-wise weights (add/mul/div) or
// broadcast ones (binary); each must hold a single value everywhere.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { type Pass, cloneGraph, producers, uniformConstant, useCounts } from "./pass";

const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-4 * Math.abs(want);

/** The arithmetic op of a node (row-wise add/mul/div or a broadcast binary), or undefined. */
function arith(n: Node | undefined): string | undefined {
  if (!n) return undefined;
  if (n.op === "add" || n.op === "mul" || n.op === "div") return n.op;
  return n.op === "binary" ? (n.attrs.op as string) : undefined;
}

export const fuseGelu: Pass = {
  name: "fuse-gelu",
  run(model) {
    const graph = cloneGraph(model.graph);
    const byValue = producers(graph);
    const uses = useCounts(graph);
    const scalar = (v: string) => uniformConstant(model, graph, v);
    /** `n` as op(x, c) with c a constant (either order for add/mul): [x, c]. */
    const withConstant = (n: Node | undefined, op: string): [string, number] | undefined => {
      if (arith(n) !== op || n!.inputs.length !== 2) return undefined;
      const [p, q] = n!.inputs as [string, string];
      const cq = scalar(q);
      if (cq !== undefined && !graph.weights[p]) return [p, cq];
      const cp = op === "div" ? undefined : scalar(p);
      return cp !== undefined && !graph.weights[q] ? [q, cp] : undefined;
    };
    const single = (v: string) => uses.get(v) === 1 && !Object.values(graph.outputs).includes(v);
    const replaced = new Map<Node, Node>();
    for (const last of graph.nodes) {
      if (arith(last) !== "mul" || last.inputs.length !== 2) continue;
      // last = m · h with one side (1 + erf(x/√2)) and the other x·0.5, or last = (x·(1 + erf)) · 0.5.
      let x: string | undefined;
      const erfPlusOne = (v: string): string | undefined => {
        const plus = byValue.get(v);
        const one = withConstant(plus, "add");
        if (!one || !near(one[1], 1) || !single(v)) return undefined;
        const erf = byValue.get(one[0]);
        if (erf?.op !== "unary" || erf.attrs.op !== "erf" || !single(one[0])) return undefined;
        const scaled = byValue.get(erf.inputs[0]!);
        const div = withConstant(scaled, "div");
        if (div && near(div[1], Math.SQRT2)) return div[0];
        const mul = withConstant(scaled, "mul");
        return mul && near(mul[1], Math.SQRT1_2) ? mul[0] : undefined;
      };
      const half = withConstant(last, "mul");
      if (half && near(half[1], 0.5)) {
        // (x · (1 + erf(x/√2))) · 0.5
        const inner = byValue.get(half[0]);
        if (arith(inner) === "mul" && single(half[0])) {
          const [p, q] = inner!.inputs as [string, string];
          if (erfPlusOne(q) === p) x = p;
          else if (erfPlusOne(p) === q) x = q;
        }
      }
      if (!x) {
        // (x · 0.5) · (1 + erf(x/√2))
        for (const [h, e] of [[last.inputs[0]!, last.inputs[1]!], [last.inputs[1]!, last.inputs[0]!]] as const) {
          const halfX = withConstant(byValue.get(h), "mul");
          if (halfX && near(halfX[1], 0.5) && single(h) && erfPlusOne(e) === halfX[0]) x = halfX[0];
          if (x) break;
        }
      }
      if (x) replaced.set(last, { name: `${last.name}:gelu`, op: "gelu", inputs: [x], outputs: [...last.outputs], attrs: {} });
    }
    graph.nodes = graph.nodes.map((n) => replaced.get(n) ?? n);
    inferGraph(graph);
    return { model: { graph, weights: model.weights }, summary: `fuse-gelu: ${replaced.size} x·0.5·(1 + erf(x/√2)) -> gelu` };
  },
};
