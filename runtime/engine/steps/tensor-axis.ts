// Steps of the general ops that work along one axis of contiguous rows:
// reductions, softmax, layer norm, cumsum, top-k, gathers and scatter_nd
// (each one kernel call over [rows · outer, n, inner]), and the batched
// matmul of two activations (rf_matmul_batched, one call over rows × the
// broadcast leading dims).
import { reduceOps, scatterReductions } from "../../ffi/tensor-op-codes";
import { matmulShapes } from "../../graph/tensor-math-ops";
import type { OpInput } from "../../graph/ops";
import type { Node } from "../../graph/schema";
import { aroundAxis, count } from "../../graph/tensor-shapes";
import { dtypes } from "../../tensor/dtype";
import { type PlanContext, type StepBuilder, rowsOf } from "../plan-context";
import { contiguous, rowsWord, step } from "./tensor-operands";

/** Input `name`'s slot, checked contiguous, with its per-row shape and dtype code. */
function rowsIn(ctx: PlanContext, node: Node, name: string) {
  const slot = ctx.tensorSlot(name);
  contiguous(node, name, slot);
  const v = ctx.values.get(name)!;
  return { slot, data: slot.data, shape: v.shape, code: dtypes[v.dtype].code };
}

const rowAxisOf = (axis: number, rowRank: number) => (axis < 0 ? axis + rowRank + 1 : axis) - 1;

const reduce: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const axes = (a.axes as number[]).map((ax) => rowAxisOf(ax, x.shape.length)).sort((p, q) => p - q);
  const outer = count(x.shape.slice(0, axes[0]));
  const n = count(x.shape.slice(axes[0], axes.at(-1)! + 1));
  const inner = count(x.shape.slice(axes.at(-1)! + 1));
  const op = reduceOps.indexOf(a.op);
  return step(node, (s) => ctx.check(k.rf_reduce(null, op, x.code, rowsOf(y.slot, s) * outer, n, inner, x.data, y.data), node));
};

const softmaxAxis: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const { outer, n, inner } = aroundAxis(x.shape, rowAxisOf(a.axis, x.shape.length));
  return step(node, (s) => ctx.check(k.rf_softmax_axis(null, a.log ? 1 : 0, rowsOf(y.slot, s) * outer, n, inner, x.data, y.data), node));
};

/** Layer norm over the trailing axes from `axis`: rows · outer rows of `width` for the row-wise rf_layer_norm. */
const layerNormAxis: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const r = rowAxisOf(a.axis, x.shape.length);
  const outer = count(x.shape.slice(0, r));
  const width = count(x.shape.slice(r));
  const gamma = node.inputs[1] ? (ctx.weight(node.inputs[1]).data as Float32Array) : null;
  const beta = node.inputs[2] ? (ctx.weight(node.inputs[2]).data as Float32Array) : null;
  const xf = x.data as Float32Array;
  const yf = y.data as Float32Array;
  // History tokens stored jagged (jagged-tokens.ts): the batch's Σ events token rows.
  const jagged = ctx.jagged(node.outputs[0]!);
  if (jagged) return step(node, () => {
    if (jagged.total > 0) ctx.check(ctx.sym.rf_layer_norm(null, jagged.total, width, xf, width, gamma, beta, a.eps, yf, width), node);
  });
  return step(node, (s) => ctx.check(ctx.sym.rf_layer_norm(null, rowsOf(y.slot, s) * outer, width, xf, width, gamma, beta, a.eps, yf, width), node));
};

const cumsum: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const { outer, n, inner } = aroundAxis(x.shape, rowAxisOf(a.axis, x.shape.length));
  return step(node, (s) => ctx.check(k.rf_cumsum_axis(null, x.code, rowsOf(y.slot, s) * outer, n, inner, a.exclusive ? 1 : 0, a.reverse ? 1 : 0, x.data, y.data), node));
};

const topKAxis: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const values = rowsIn(ctx, node, node.outputs[0]!);
  const indices = rowsIn(ctx, node, node.outputs[1]!);
  const { outer, n, inner } = aroundAxis(x.shape, rowAxisOf(a.axis, x.shape.length));
  return step(node, (s) => ctx.check(k.rf_topk_axis(null, rowsOf(values.slot, s) * outer, n, inner, a.k, a.largest ? 1 : 0, x.data, values.data, indices.data), node));
};

/** Gather along a feature axis with constant indices shared by every row. */
const gatherAxis: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const idx = ctx.weight(node.inputs[1]!);
  const { outer, n, inner } = aroundAxis(x.shape, rowAxisOf(a.axis, x.shape.length));
  const idxCode = dtypes[idx.dtype].code;
  const num = count(idx.shape);
  const data = idx.data as Int32Array | BigInt64Array;
  return step(node, (s) => ctx.check(k.rf_gather_axis(null, x.code, rowsOf(y.slot, s) * outer, n, inner, x.data, data, idxCode, num, 0, y.data), node));
};

const gatherElementsNd: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const a = ctx.attrs(node);
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const idx = rowsIn(ctx, node, node.inputs[1]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const r = rowAxisOf(a.axis, x.shape.length);
  const { outer, n, inner } = aroundAxis(x.shape, r);
  const nOut = idx.shape[r]!;
  return step(node, (s) => ctx.check(k.rf_gather_elements(null, x.code, rowsOf(y.slot, s) * outer, n, nOut, inner, x.data, idx.data, idx.code, y.data), node));
};

/** ScatterND per row: y = copy of the row's data, then the row's updates scattered into it. */
const scatterNd: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const x = rowsIn(ctx, node, node.inputs[0]!);
  const idx = rowsIn(ctx, node, node.inputs[1]!);
  const upd = rowsIn(ctx, node, node.inputs[2]!);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const depth = idx.shape.at(-1)!;
  const numUpdates = count(idx.shape.slice(0, -1));
  const dataShape = BigInt64Array.from(x.shape, BigInt);
  const red = scatterReductions.indexOf(ctx.attrs(node).reduction);
  const copyShape = BigInt64Array.from([0, x.slot.width], BigInt);
  const copyRows = rowsWord(copyShape);
  const strides = BigInt64Array.from([x.slot.width, 1], BigInt);
  return step(node, (s) => {
    const rows = rowsOf(y.slot, s);
    copyRows[0] = rows;
    ctx.check(k.rf_cast_nd(null, 2, copyShape, x.data, x.code, strides, y.data, x.code, strides), node);
    for (let b = 0; b < rows; b++) {
      const at = (slot: typeof x.slot) => slot.data.subarray(b * slot.ld, (b + 1) * slot.ld);
      ctx.check(k.rf_scatter_nd(null, x.code, red, x.shape.length, dataShape, at(idx.slot), idx.code, numUpdates, depth, at(upd.slot), at(y.slot)), node);
    }
  });
};

/** Q·Kᵀ-style matmul: the rows and broadcast leading dims flatten into one batch when each side is full or shared. */
const batchMatmul: StepBuilder = (node, ctx) => {
  const k = ctx.sym;
  const inputs: OpInput[] = node.inputs.map((name) =>
    ctx.isWeight(name) ? { kind: "weight", name, spec: ctx.graph.weights[name]! } : { kind: "value", name, type: ctx.values.get(name)! },
  );
  const p = matmulShapes(node, inputs);
  const lead = count(p.lead);
  const y = rowsIn(ctx, node, node.outputs[0]!);
  const side = (i: number, shape: number[]) => {
    const name = node.inputs[i]!;
    const matrices = count(shape.slice(0, -2));
    if (matrices !== 1 && matrices !== lead) throw new Error(`node "${node.name}" (batch_matmul): input ${i} broadcasts only some leading dims; not supported`);
    if (ctx.isWeight(name)) return { data: ctx.weight(name).data as Float32Array, perRow: false, stride: matrices === 1 ? 0 : shape.at(-1)! * shape.at(-2)! };
    const x = rowsIn(ctx, node, name);
    return { data: x.data as Float32Array, perRow: true, stride: matrices === 1 ? 0 : shape.at(-1)! * shape.at(-2)!, width: x.slot.width };
  };
  const a = side(0, p.a);
  const b = side(1, p.b);
  const { m, n, k: depth } = p;
  // One call over rows × lead when each side is either one shared weight matrix or its own matrices row after row.
  const flat = (o: typeof a) => (o.perRow ? o.stride !== 0 || lead === 1 : o.stride === 0);
  const yf = y.data as Float32Array;
  if (flat(a) && flat(b)) {
    const sa = a.perRow && a.stride === 0 ? m * depth : a.stride;
    const sb = b.perRow && b.stride === 0 ? depth * n : b.stride;
    return step(node, (s) => ctx.check(k.rf_matmul_batched(null, rowsOf(y.slot, s) * lead, m, n, depth, a.data, sa, depth, 1, b.data, sb, n, 1, 0, yf, m * n, n), node));
  }
  return step(node, (s) => {
    const rows = rowsOf(y.slot, s);
    for (let r = 0; r < rows; r++) {
      const rowOf = (o: typeof a) => (o.perRow ? o.data.subarray(r * o.width!) : o.data);
      ctx.check(k.rf_matmul_batched(null, lead, m, n, depth, rowOf(a), a.stride, depth, 1, rowOf(b), b.stride, n, 1, 0, yf.subarray(r * lead * m * n), m * n, n), node);
    }
  });
};

export const tensorAxisSteps: Record<string, StepBuilder> = {
  reduce,
  softmax_axis: softmaxAxis,
  layer_norm_axis: layerNormAxis,
  cumsum,
  top_k_axis: topKAxis,
  gather_axis: gatherAxis,
  gather_elements_nd: gatherElementsNd,
  scatter_nd: scatterNd,
  batch_matmul: batchMatmul,
};
