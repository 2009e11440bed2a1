// Input checks shared by the general tensor ops (runtime/graph/tensor-*.ts):
// each failure is a GraphError naming the node, its op and the input.
import type { DType } from "../tensor/dtype";
import type { OpInput, ValueType } from "./ops";
import { type Node, GraphError } from "./schema";
import { rowAxis, weightRowShape } from "./tensor-shapes";

/** Dtypes the general ops compute on. */
export const tensorDTypes: DType[] = ["f32", "i32", "i64", "bool"];
export const numericDTypes: DType[] = ["f32", "i32", "i64"];
export const indexDTypes: DType[] = ["i32", "i64"];

export function failNode(node: Node, message: string): never {
  throw new GraphError(`node "${node.name}" (${node.op}): ${message}`);
}

/** Input i as an activation of one of `dtypes`. */
export function activation(node: Node, inputs: OpInput[], i: number, dtypes: DType[] = tensorDTypes): ValueType {
  const inp = inputs[i];
  if (!inp) failNode(node, `missing input ${i}`);
  if (inp.kind !== "value") failNode(node, `input ${i} ("${inp.name}") must be an activation, not a weight`);
  if (!dtypes.includes(inp.type.dtype)) failNode(node, `input ${i} ("${inp.name}") has dtype ${inp.type.dtype}, expected ${dtypes.join(" or ")}`);
  return inp.type;
}

/** Dtype of input i, value or weight. */
export function dtypeOf(node: Node, inputs: OpInput[], i: number): DType {
  const inp = inputs[i];
  if (!inp) failNode(node, `missing input ${i}`);
  return inp.kind === "value" ? inp.type.dtype : inp.spec.dtype;
}

/**
 * Per-row shapes of operands that broadcast together (activations and weights
 * without a batch axis): at least one must be an activation.
 */
export function operandRowShapes(node: Node, inputs: OpInput[], indices: number[]): number[][] {
  const values = indices.map((i) => inputs[i]).filter((x) => x?.kind === "value");
  if (values.length === 0) failNode(node, "needs at least one activation operand (an op on constants only is folded when the model loads)");
  const rowRank = Math.max(...values.map((v) => (v as Extract<OpInput, { kind: "value" }>).type.shape.length));
  const weightRank = Math.max(0, ...indices.map((i) => inputs[i]).map((x) => (x?.kind === "weight" ? x.spec.shape.length : 0)));
  const fullRank = Math.max(rowRank + 1, weightRank);
  return indices.map((i) => {
    const inp = inputs[i];
    if (!inp) failNode(node, `missing input ${i}`);
    if (inp.kind === "value") return inp.type.shape;
    const row = weightRowShape(inp.spec, fullRank);
    if (!row) failNode(node, `weight "${inp.name}" [${inp.spec.shape.join(", ")}] would broadcast along the batch axis; a constant must have size 1 there`);
    return row;
  });
}

/** A full-rank axis attribute as a per-row axis, or a GraphError naming the node. */
export function axisAttr(node: Node, axis: number, rowRank: number): number {
  const a = rowAxis(axis, rowRank);
  if (typeof a === "string") failNode(node, a);
  return a;
}
