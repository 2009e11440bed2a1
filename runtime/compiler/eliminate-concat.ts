// Concat elimination: each input of a concat is written by its producer
// straight into its column slice of the concat's buffer (an alias), so the
// concat itself copies nothing. Nested concats resolve to the outermost
// buffer. Graph inputs, values of another role, values already aliased,
// graph outputs and values the general tensor ops touch keep their own
// storage (and are copied).
import { inferGraph } from "../graph/infer";
import { tensorLayoutOps } from "../graph/tensor-layout-ops";
import { tensorMathOps } from "../graph/tensor-math-ops";
import { type Pass, cloneGraph, producers } from "./pass";

/** The general tensor ops read and write whole contiguous rows (and a reshape is a view), so their values keep their own storage. */
const rowContiguous = new Set([...Object.keys(tensorMathOps), ...Object.keys(tensorLayoutOps)]);

export const eliminateConcat: Pass = {
  name: "eliminate-concat",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const byValue = producers(graph);
    const outputs = new Set(Object.values(graph.outputs));
    // Per-slot linears, unpooled lookups and fused attention also write (and read) whole contiguous rows.
    const contiguousNode = (n: { op: string; attrs: Record<string, unknown> }) =>
      rowContiguous.has(n.op) || n.op === "embedding_sequence" || n.op === "attention" || n.op === "pointwise_attention" || (n.op === "linear" && Array.isArray(n.attrs.slots) && n.attrs.slots.length > 0);
    const readByGeneral = new Set(graph.nodes.filter(contiguousNode).flatMap((n) => n.inputs));
    const aliases: Record<string, { of: string; offset: number }> = { ...graph.aliases };
    let aliased = 0;
    let copied = 0;
    // Outer concats first, so an inner concat already knows where it lives.
    for (const node of [...graph.nodes].reverse()) {
      if (node.op !== "concat") continue;
      const out = node.outputs[0]!;
      const base = aliases[out] ?? { of: out, offset: 0 };
      const role = info.values.get(out)!.role;
      let offset = 0;
      for (const input of node.inputs) {
        const v = info.values.get(input)!;
        const width = v.shape.reduce((a, b) => a * b, 1);
        const ok = byValue.has(input) && !contiguousNode(byValue.get(input)!) && !readByGeneral.has(input) && !aliases[input] && !outputs.has(input) && v.role === role && v.dtype === "f32" && node.inputs.indexOf(input) === node.inputs.lastIndexOf(input);
        if (ok) {
          aliases[input] = { of: base.of, offset: base.offset + offset };
          aliased++;
        } else {
          copied++;
        }
        offset += width;
      }
    }
    graph.aliases = aliases;
    return { model: { graph, weights: model.weights }, summary: `eliminate-concat: ${aliased} inputs written in place, ${copied} copied` };
  },
};
