// Mixtures of experts as exporters write them (MMoE, PLE towers): experts
// stacked to [N, E, d] (Unsqueeze + Concat, i.e. torch.stack), a softmax gate
// [N, E] unsqueezed to [N, E, 1], then either Mul + ReduceSum over the experts
// or bmm(gate [N, 1, E], experts [N, E, d]). Both become one mixture op.
import type { Importer, OnnxNode } from "./importer";
import type { TensorVal, Val } from "./values";

type Weighted = Extract<Val, { kind: "weighted" }>;

/** The experts of a stack [N, E, d]: the concat's pieces, or slices of it. */
function expertsOf(imp: Importer, stack: TensorVal): string[] {
  const [e, d] = stack.dims as [number, number];
  if (stack.parts?.length === e) return stack.parts;
  return Array.from({ length: e }, (_, i) => imp.temp("slice", [stack.value], d, { start: i * d, end: (i + 1) * d }, `${stack.value}.expert${i}`));
}

/** gate [N, E, 1] ⊙ stack [N, E, d] (either order); undefined when the shapes are not that. */
export function weightedStack(imp: Importer, a: TensorVal, b: TensorVal, out: string): boolean {
  const [gate, stack] = a.dims.length === 2 && a.dims[1] === 1 ? [a, b] : [b, a];
  if (gate.dims.length !== 2 || gate.dims[1] !== 1 || stack.dims.length !== 2 || stack.dims[0] !== gate.dims[0] || stack.dims[1] === 1) return false;
  // Only a stack of expert outputs (torch.stack) is a mixture; weights over any other [N, L, d] (attention
  // pooling over a history) stay a broadcast multiply and a reduction, not L slices.
  if (stack.parts?.length !== stack.dims[0]) return false;
  imp.set(out, { kind: "weighted", gate: gate.value, experts: expertsOf(imp, stack), d: stack.dims[1]! });
  return true;
}

/** ReduceSum over the experts axis of a gate-weighted stack. */
export function mixtureFromReduce(imp: Importer, node: OnnxNode, v: Weighted, axes: number[] | undefined, out: string): void {
  const norm = (axes ?? []).map((x) => (x < 0 ? x + 3 : x));
  if (node.opType !== "ReduceSum" || norm.length !== 1 || norm[0] !== 1) imp.fail(node, "a gate-weighted expert stack must be summed over the experts axis (1) with ReduceSum");
  imp.fired(`gate ⊙ stack(experts) -> ReduceSum -> mixture(E=${v.experts.length})`);
  imp.emit("mixture", [v.gate, ...v.experts], out, imp.intAttr(node, "keepdims", 1) ? [1, v.d] : [v.d], {}, node);
}

/** bmm(gate [N, 1, E], stack [N, E, d]) -> [N, 1, d]. */
export function mixtureFromMatMul(imp: Importer, node: OnnxNode, gate: TensorVal, stack: TensorVal, out: string): boolean {
  if (gate.dims.length !== 2 || gate.dims[0] !== 1 || stack.dims.length !== 2 || stack.dims[0] !== gate.dims[1]) return false;
  if (stack.parts?.length !== stack.dims[0]) return false;
  imp.fired(`bmm(gate, stack(experts)) -> mixture(E=${stack.dims[0]})`);
  imp.emit("mixture", [gate.value, ...expertsOf(imp, stack)], out, [1, stack.dims[1]!], {}, node);
  return true;
}
