// What the general tensor steps share: the TENSOR_ABI kernels' signatures,
// each operand's storage with its full-rank strides (rows first: the row
// stride is the slot's ld, 0 for a weight broadcast over rows), and the
// [rows · outer, n, inner] view the axis kernels take.
import type { Node } from "../../graph/schema";
import { broadcastStrides, weightRowShape } from "../../graph/tensor-shapes";
import { type DType, dtypes } from "../../tensor/dtype";
import type { PlanContext, Slot, Step, TensorArray } from "../plan-context";

type P = TensorArray | null;
type I64 = number | bigint;

/** The general tensor kernels of rankfn.h (TENSOR_ABI), as bun:ffi exposes them. */
export interface TensorKernels {
  rf_unary_nd(s: null, op: number, dtype: number, rank: number, shape: BigInt64Array, x: P, xs: BigInt64Array, alpha: number, beta: number, y: P, ys: BigInt64Array): number;
  rf_binary_nd(s: null, op: number, dtype: number, rank: number, shape: BigInt64Array, a: P, as: BigInt64Array, b: P, bs: BigInt64Array, y: P, ys: BigInt64Array): number;
  rf_where_nd(s: null, dtype: number, rank: number, shape: BigInt64Array, c: P, cs: BigInt64Array, a: P, as: BigInt64Array, b: P, bs: BigInt64Array, y: P, ys: BigInt64Array): number;
  rf_cast_nd(s: null, rank: number, shape: BigInt64Array, x: P, xd: number, xs: BigInt64Array, y: P, yd: number, ys: BigInt64Array): number;
  rf_reduce(s: null, op: number, dtype: number, outer: I64, n: I64, inner: I64, x: P, y: P): number;
  rf_softmax_axis(s: null, log: number, outer: I64, n: I64, inner: I64, x: P, y: P): number;
  rf_matmul_batched(s: null, batch: I64, m: I64, n: I64, k: I64, a: P, saB: I64, saM: I64, saK: I64, b: P, sbB: I64, sbK: I64, sbN: I64, beta: number, y: P, syB: I64, syM: I64): number;
  rf_gather_axis(s: null, dtype: number, outer: I64, axisLen: I64, inner: I64, x: P, idx: P, idxDtype: number, numIdx: I64, perOuter: number, y: P): number;
  rf_gather_elements(s: null, dtype: number, outer: I64, nIn: I64, nOut: I64, inner: I64, x: P, idx: P, idxDtype: number, y: P): number;
  rf_scatter_nd(s: null, dtype: number, reduction: number, rank: number, shape: BigInt64Array, idx: P, idxDtype: number, num: I64, depth: number, updates: P, y: P): number;
  rf_cumsum_axis(s: null, dtype: number, outer: I64, n: I64, inner: I64, exclusive: number, reverse: number, x: P, y: P): number;
  rf_topk_axis(s: null, outer: I64, n: I64, inner: I64, k: I64, largest: number, x: P, values: P, indices: P): number;
}

/** The tensor kernels of the loaded library (present once the kernels of TENSOR_ABI are built). */
export function tensorKernels(ctx: PlanContext, node: Node): TensorKernels {
  const k = ctx.sym as unknown as Partial<TensorKernels>;
  if (typeof k.rf_cast_nd !== "function") throw new Error(`node "${node.name}" (${node.op}): the kernel library has no general tensor kernels (rebuild it: bun kernels/build.ts)`);
  return k as TensorKernels;
}

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

/** Fail at plan time when a value the axis kernels read is not stored row after row. */
export function contiguous(node: Node, name: string, slot: Slot<TensorArray>): void {
  if (slot.ld !== slot.width) throw new Error(`node "${node.name}" (${node.op}): value "${name}" is stored as a slice of a wider row; the axis kernels need it contiguous`);
}
