// Steps of the general elementwise and data-movement ops: one strided kernel
// call over [rows, ...shape] each (rf_unary_nd, rf_binary_nd, rf_where_nd,
// rf_cast_nd). Transpose, expand, tile, slice, concat and split are strided
// copies (rf_cast_nd with equal dtypes) with permuted, zero, step or offset
// strides; reshape is free (its output is a view of its input).
import { binaryNdOps, unaryOps } from "../../ffi/tensor-op-codes";
import type { Node } from "../../graph/schema";
import { contiguousStrides, count } from "../../graph/tensor-shapes";
import { dtypes } from "../../tensor/dtype";
import { type PlanContext, type Step, type StepBuilder, rowsOf } from "../plan-context";
import { type Operand, operand, rowsWord, shapeOf, step, stridesOf } from "./tensor-operands";

const rankOf = (ctx: PlanContext, name: string) => ctx.values.get(name)!.shape.length + 1;

function outputOf(ctx: PlanContext, node: Node, i = 0): Operand & { shape: number[] } {
  const y = operand(ctx, node.outputs[i]!, rankOf(ctx, node.outputs[i]!));
  return { ...y, shape: y.row };
}

const unary: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  const shape = shapeOf(y.shape);
  const rows = rowsWord(shape);
  const xs = stridesOf(x, y.shape);
  const ys = stridesOf(y, y.shape);
  const op = unaryOps.indexOf(a.op);
  return step(node, (s) => {
    rows[0] = rowsOf(y.slot!, s);
    ctx.check(k.rf_unary_nd(null, op, x.code, shape.length, shape, x.data, xs, a.alpha, a.beta, y.data, ys), node);
  });
};

const binary: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const y = outputOf(ctx, node);
  const [a, b] = node.inputs.map((n) => operand(ctx, n, y.shape.length + 1)) as [Operand, Operand];
  const shape = shapeOf(y.shape);
  const rows = rowsWord(shape);
  const [as, bs, ys] = [stridesOf(a, y.shape), stridesOf(b, y.shape), stridesOf(y, y.shape)];
  const op = binaryNdOps.indexOf(ctx.attrs(node).op);
  return step(node, (s) => {
    rows[0] = rowsOf(y.slot!, s);
    ctx.check(k.rf_binary_nd(null, op, a.code, shape.length, shape, a.data, as, b.data, bs, y.data, ys), node);
  });
};

const where: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const y = outputOf(ctx, node);
  const [c, a, b] = node.inputs.map((n) => operand(ctx, n, y.shape.length + 1)) as [Operand, Operand, Operand];
  const shape = shapeOf(y.shape);
  const rows = rowsWord(shape);
  const [cs, as, bs, ys] = [c, a, b, y].map((o) => stridesOf(o, y.shape)) as [BigInt64Array, BigInt64Array, BigInt64Array, BigInt64Array];
  return step(node, (s) => {
    rows[0] = rowsOf(y.slot!, s);
    ctx.check(k.rf_where_nd(null, y.code, shape.length, shape, c.data, cs, a.data, as, b.data, bs, y.data, ys), node);
  });
};

/**
 * One strided copy (or cast) of x into y over `shape` (per row): `xStrides` and
 * `yStrides` are per-row element strides, `xOffset`/`yOffset` element offsets.
 */
function stridedCopy(ctx: PlanContext, node: Node, x: Operand, xStrides: number[], xOffset: number, y: Operand, yStrides: number[], yOffset: number, rowShape: number[]): Step["run"] {
  const k = ctx.sym;
  const shape = shapeOf(rowShape);
  const rows = rowsWord(shape);
  const xs = BigInt64Array.from([x.rowStride, ...xStrides], BigInt);
  const ys = BigInt64Array.from([y.rowStride, ...yStrides], BigInt);
  const xData = xOffset ? x.data.subarray(xOffset) : x.data;
  const yData = yOffset ? y.data.subarray(yOffset) : y.data;
  return (s) => {
    rows[0] = rowsOf(y.slot!, s);
    ctx.check(k.rf_cast_nd(null, shape.length, shape, xData, x.code, xs, yData, y.code, ys), node);
  };
}

const cast: StepBuilder = (node, ctx) => {
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  return step(node, stridedCopy(ctx, node, x, contiguousStrides(x.row), 0, y, contiguousStrides(y.shape), 0, y.shape));
};

const transpose: StepBuilder = (node, ctx) => {
  const perm = (ctx.attrs(node).perm as number[]).slice(1).map((p) => p - 1);
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  const xs = contiguousStrides(x.row);
  return step(node, stridedCopy(ctx, node, x, perm.map((p) => xs[p]!), 0, y, contiguousStrides(y.shape), 0, y.shape));
};

const expand: StepBuilder = (node, ctx) => {
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  const xs = Array.from(stridesOf(x, y.shape).subarray(1), Number);
  return step(node, stridedCopy(ctx, node, x, xs, 0, y, contiguousStrides(y.shape), 0, y.shape));
};

/** Tile: each axis d with r repeats becomes the pair (r, d): x strides (0, s), y strides (d·s_y, s_y). */
const tile: StepBuilder = (node, ctx) => {
  const repeats = ctx.attrs(node).repeats as number[];
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  const xStrides = contiguousStrides(x.row);
  const yStrides = contiguousStrides(y.shape);
  const shape: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  x.row.forEach((d, i) => {
    if (repeats[i]! > 1) {
      shape.push(repeats[i]!);
      xs.push(0);
      ys.push(d * yStrides[i]!);
    }
    shape.push(d);
    xs.push(xStrides[i]!);
    ys.push(yStrides[i]!);
  });
  if (shape.length + 1 > 8) throw new Error(`node "${node.name}" (tile): tiling ${repeats.filter((r) => r > 1).length} axes of a rank-${x.row.length + 1} value exceeds the kernels' rank 8`);
  return step(node, stridedCopy(ctx, node, x, xs, 0, y, ys, 0, shape));
};

const sliceNd: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const y = outputOf(ctx, node);
  const x = operand(ctx, node.inputs[0]!, y.shape.length + 1);
  const base = contiguousStrides(x.row);
  const xs = [...base];
  let offset = 0;
  (a.axes as number[]).forEach((ax, i) => {
    const r = (ax < 0 ? ax + x.row.length + 1 : ax) - 1;
    offset += a.starts[i] * base[r]!;
    xs[r] = base[r]! * a.steps[i];
  });
  return step(node, stridedCopy(ctx, node, x, xs, offset, y, contiguousStrides(y.shape), 0, y.shape));
};

/** Concat: each input copied into its offset along the axis of y. */
const concatAxis: StepBuilder = (node, ctx) => {
  const y = outputOf(ctx, node);
  const r = (ctx.attrs(node).axis < 0 ? ctx.attrs(node).axis + y.shape.length + 1 : ctx.attrs(node).axis) - 1;
  const ys = contiguousStrides(y.shape);
  let offset = 0;
  const copies = node.inputs.map((name) => {
    const x = operand(ctx, name, y.shape.length + 1);
    const run = stridedCopy(ctx, node, x, contiguousStrides(x.row), 0, y, ys, offset * ys[r]!, x.row);
    offset += x.row[r]!;
    return run;
  });
  return step(node, (s) => {
    for (const c of copies) c(s);
  });
};

const split: StepBuilder = (node, ctx) => {
  const x = operand(ctx, node.inputs[0]!, rankOf(ctx, node.inputs[0]!));
  const a = ctx.attrs(node);
  const r = (a.axis < 0 ? a.axis + x.row.length + 1 : a.axis) - 1;
  const xs = contiguousStrides(x.row);
  let offset = 0;
  const copies = node.outputs.map((_, i) => {
    const y = outputOf(ctx, node, i);
    const run = stridedCopy(ctx, node, x, xs, offset * xs[r]!, y, contiguousStrides(y.shape), 0, y.shape);
    offset += y.shape[r]!;
    return run;
  });
  return step(node, (s) => {
    for (const c of copies) c(s);
  });
};

/** Free: the plan stores a reshape's output as a view of its input. */
const reshape: StepBuilder = (node) => step(node, () => {});

/** Context rows repeated for their candidates, any dtype: a gather of rows by request (rf_gather_axis). */
export const broadcastAny: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const x = ctx.tensorSlot(node.inputs[0]!);
  const y = ctx.tensorSlot(node.outputs[0]!);
  const code = dtypes[ctx.values.get(node.outputs[0]!)!.dtype].code;
  const I32 = dtypes.i32.code;
  if (x.ld !== x.width || y.ld !== y.width) throw new Error(`node "${node.name}": broadcast of a non-f32 value needs contiguous rows`);
  return step(node, (s) => ctx.check(k.rf_gather_axis(null, code, 1, s.r, count([y.width]), x.data, s.requestOfRow as unknown as Int32Array, I32, s.n, 0, y.data), node));
};

export const tensorElementwiseSteps: Record<string, StepBuilder> = {
  unary,
  binary,
  where,
  cast,
  transpose,
  expand,
  tile,
  slice_nd: sliceNd,
  concat_axis: concatAxis,
  split,
  reshape,
};
