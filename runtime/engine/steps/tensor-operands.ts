// What the general tensor steps share: each operand's storage with its
// full-rank strides (rows first: the row stride is the slot's ld, 0 for a
// weight broadcast over rows), and the contiguity the axis kernels need.
import type { Node } from "../../graph/schema";
import { broadcastStrides, weightRowShape } from "../../graph/tensor-shapes";
import { type DType, dtypes } from "../../tensor/dtype";
import type { PlanContext, Slot, Step, TensorArray } from "../plan-context";

export function step(node: Node, run: Step["run"]): Step {
  return { node: node.name, op: node.op, run };
}

/** An operand: its storage, dtype code, per-row shape and row stride (0: the same for every row). */
export interface Operand {
  data: TensorArray;
  dtype: DType;
  code: number;
  row: number[];
  rowStride: number;
  slot?: Slot<TensorArray>;
}

/** Input `name` of a step: an activation's slot, or a weight broadcast over rows. */
export function operand(ctx: PlanContext, name: string, fullRank: number): Operand {
  if (ctx.isWeight(name)) {
    const w = ctx.weight(name);
    const dtype = w.dtype;
    const data = w.data as TensorArray;
    return { data, dtype, code: dtypes[dtype].code, row: weightRowShape({ dtype, shape: w.shape }, fullRank) ?? w.shape, rowStride: 0 };
  }
  const slot = ctx.tensorSlot(name);
  const v = ctx.values.get(name)!;
  return { data: slot.data, dtype: v.dtype, code: dtypes[v.dtype].code, row: v.shape, rowStride: slot.ld, slot };
}

/** Full-rank strides of an operand broadcast to per-row shape `out`. */
export function stridesOf(op: Operand, out: number[]): BigInt64Array {
  return BigInt64Array.from([op.rowStride, ...broadcastStrides(op.row, out)], BigInt);
}

/** A [rows, ...out] shape array whose rows entry is set on each run. */
export function shapeOf(out: number[]): BigInt64Array {
  return BigInt64Array.from([0, ...out], BigInt);
}

/**
 * The rows entry of a shape array as a 32-bit word (little-endian low half; the high half stays 0),
 * so a run sets it without allocating a BigInt.
 */
export function rowsWord(shape: BigInt64Array): Int32Array {
  return new Int32Array(shape.buffer, shape.byteOffset, 1);
}

/** Fail at plan time when a value the axis kernels read is not stored row after row. */
export function contiguous(node: Node, name: string, slot: Slot<TensorArray>): void {
  if (slot.ld !== slot.width) throw new Error(`node "${node.name}" (${node.op}): value "${name}" is stored as a slice of a wider row; the axis kernels need it contiguous`);
}
