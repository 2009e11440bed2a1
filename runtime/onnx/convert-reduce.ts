// Axis ONNX ops on the general tensor ops: every Reduce* (axes as attribute
// or input, keepdims, noop_with_empty_axes), ArgMax/ArgMin, Softmax and
// LogSoftmax along any feature axis, LayerNormalization over trailing axes of
// any rank, BatchNormalization (inference) over [N, C, ...], CumSum and TopK. Axes are ONNX's (0 = batch); the IR refuses the
// batch axis with an error naming the node.
import type { ReduceOp } from "../ffi/tensor-op-codes";
import { tensor } from "../tensor/tensor";
import { type Converter, axesOf, intConsts, intVec, setInts } from "./convert-shape";
import { isBatchFirst, layoutOf, onnxRank, storedAxis } from "./batch-layout";
import { general, generalOut, keepLayout, operand } from "./general";
import type { Importer, OnnxNode } from "./importer";
import { type Sym, itemsOf, sym, symMul } from "./symbolic";
import type { TensorVal } from "./values";

const reduceOps: Record<string, ReduceOp> = {
  ReduceSum: "sum", ReduceMean: "mean", ReduceMax: "max", ReduceMin: "min", ReduceProd: "prod", ReduceL1: "l1", ReduceL2: "l2",
  ReduceSumSquare: "sum_square", ReduceLogSum: "log_sum", ReduceLogSumExp: "log_sum_exp",
};

/** ReduceProd/ReduceSum of shape arithmetic (an exporter's element count) folds symbolically. */
function reduceInts(imp: Importer, node: OnnxNode): boolean {
  const v = intVec(imp, node.input![0]);
  const items = v && itemsOf(v.vec);
  if (!items || (node.opType !== "ReduceProd" && node.opType !== "ReduceSum")) return false;
  let acc: Sym | undefined = sym(node.opType === "ReduceProd" ? 1 : 0);
  for (const s of items) acc = acc && (node.opType === "ReduceProd" ? symMul(acc, s) : { c: acc.c + s.c, n: acc.n + s.n });
  if (!acc) imp.fail(node, "this product of shape values is not linear in the batch size");
  setInts(imp, node.output![0]!, { items: [acc] }, imp.intAttr(node, "keepdims", 1) === 0);
  return true;
}

export function reduceGeneral(imp: Importer, node: OnnxNode): void {
  if (reduceInts(imp, node)) return;
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64"], true);
  const axes = axesOf(imp, node);
  if (!axes || axes.length === 0) {
    if (imp.intAttr(node, "noop_with_empty_axes", 0) === 1) return imp.set(node.output![0]!, x);
    imp.fail(node, `no axes means every axis, the batch included; rankfn reduces only feature axes (e.g. axes [${x.dims.map((_, i) => i + 1).join(", ")}])`);
  }
  const op = reduceOps[node.opType!]!;
  const keepdims = imp.intAttr(node, "keepdims", 1) === 1;
  axisReduce(imp, node, x, { op, axes, keepdims });
}

/** Reduce ONNX axes of x; the batch's place in the shape moves left by the axes removed before it. */
function axisReduce(imp: Importer, node: OnnxNode, x: TensorVal, a: { op: string; axes: number[]; keepdims: boolean }): void {
  const stored = a.axes.map((ax) => storedAxis(imp, node, x, ax));
  const y = generalOut(imp, node, "reduce", [operand(imp, node.input![0]!, node)], { ...a, axes: stored });
  const l = layoutOf(x);
  if (isBatchFirst(l)) return;
  const rank = onnxRank(x);
  const before = a.keepdims ? 0 : a.axes.filter((ax) => (ax < 0 ? ax + rank : ax) < l.axis).length;
  imp.set(node.output![0]!, { ...y, layout: { ...l, axis: l.axis - before } });
}

export function argReduce(imp: Importer, node: OnnxNode): void {
  if (imp.intAttr(node, "select_last_index", 0) !== 0) imp.fail(node, "select_last_index=1 is not supported");
  const op = node.opType === "ArgMax" ? "argmax" : "argmin";
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64"], true);
  axisReduce(imp, node, x, { op, axes: [imp.intAttr(node, "axis", 0)], keepdims: imp.intAttr(node, "keepdims", 1) === 1 });
}

export function softmaxGeneral(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, ["f32"], true);
  const y = generalOut(imp, node, "softmax_axis", [operand(imp, node.input![0]!, node)], { axis: storedAxis(imp, node, x, imp.intAttr(node, "axis", -1)), log: node.opType === "LogSoftmax" });
  keepLayout(imp, y, node.output![0]!, x);
}

/** LayerNormalization over axes [axis, rank): scale and bias are constants of that trailing shape. */
export function layerNormGeneral(imp: Importer, node: OnnxNode): void {
  const [x, scale, bias] = node.input ?? [];
  if ((node.output ?? []).slice(1).some(Boolean)) imp.fail(node, "the Mean and InvStdDev outputs are not supported");
  const weights = [scale, bias].filter((w): w is string => !!w).map((w) => {
    const c = imp.constant(w);
    if (!c || c.t.dtype !== "f32") imp.fail(node, `"${w}" must be a float constant`);
    return imp.derived(w, tensor("f32", [c.t.data.length], c.t.data as Float32Array));
  });
  const xv = imp.tensor(x!, node, ["f32"], true);
  const axis = imp.intAttr(node, "axis", -1);
  if (layoutOf(xv).axis > (axis < 0 ? axis + onnxRank(xv) : axis)) imp.fail(node, "the normalised axes include the batch");
  const y = generalOut(imp, node, "layer_norm_axis", [operand(imp, x!, node), ...weights], { axis: storedAxis(imp, node, xv, axis), eps: imp.floatAttr(node, "epsilon", 1e-5) });
  keepLayout(imp, y, node.output![0]!, xv);
}

/**
 * BatchNormalization in inference of any rank ([N, C, L...], nn.BatchNorm1d over a sequence): the
 * per-channel statistics fold at load into y = x·s + t, s = scale/√(var+ε), t = bias − mean·s,
 * two broadcast constants of shape [C, 1...] (the [N, C] form is the batch_norm op, tried first).
 */
export function batchNormGeneral(imp: Importer, node: OnnxNode): void {
  if ((node.output ?? []).slice(1).some(Boolean) || imp.intAttr(node, "training_mode", 0) !== 0) imp.fail(node, "only inference (training_mode=0, no running statistics outputs) is supported");
  const [x, ...params] = node.input ?? [];
  const xv = imp.tensor(x!, node, ["f32"], true);
  if (!isBatchFirst(layoutOf(xv))) imp.fail(node, "BatchNormalization of a value whose batch is not first is not supported");
  const channels = xv.dims[0];
  const [scale, bias, mean, variance] = params.slice(0, 4).map((w) => {
    const c = imp.constant(w);
    if (!c || c.t.dtype !== "f32" || c.t.data.length !== channels) imp.fail(node, `"${w}" must be a float constant of ${channels} channels`);
    return c.t.data as Float32Array;
  });
  if (!scale || !bias || !mean || !variance) imp.fail(node, "expects scale, B, input_mean and input_var");
  const eps = imp.floatAttr(node, "epsilon", 1e-5);
  const s = scale.map((w, c) => w / Math.sqrt(variance[c]! + eps));
  const t = bias.map((b, c) => b - mean[c]! * s[c]!);
  const shape = [channels!, ...xv.dims.slice(1).map(() => 1)];
  const out = node.output![0]!;
  const scaled = generalOut(imp, { ...node, output: [`${out}:scaled`] }, "binary", [operand(imp, x!, node), imp.derived(`${out}.scale`, tensor("f32", shape, s))], { op: "mul" });
  generalOut(imp, node, "binary", [scaled.value, imp.derived(`${out}.shift`, tensor("f32", shape, t))], { op: "add" });
}

export function cumsum(imp: Importer, node: OnnxNode): void {
  const axis = intConsts(imp, node.input![1]);
  if (!axis || axis.length !== 1) imp.fail(node, "the axis must be a constant");
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64"], true);
  if (x.layout) imp.fail(node, "CumSum of a value whose batch is not first is not supported");
  generalOut(imp, node, "cumsum", [operand(imp, node.input![0]!, node)], { axis: axis[0]!, exclusive: imp.intAttr(node, "exclusive", 0) === 1, reverse: imp.intAttr(node, "reverse", 0) === 1 });
}

export function topKGeneral(imp: Importer, node: OnnxNode): void {
  const k = intConsts(imp, node.input![1]);
  if (!k || k.length !== 1) imp.fail(node, "K must be a constant");
  if (imp.intAttr(node, "sorted", 1) !== 1) imp.fail(node, "sorted=0 is not supported");
  const [values = "", indices = ""] = node.output ?? [];
  general(imp, "top_k_axis", [operand(imp, node.input![0]!, node)], { k: k[0]!, axis: imp.intAttr(node, "axis", -1), largest: imp.intAttr(node, "largest", 1) === 1 }, node, values, indices);
}

export const reduceConverters: Record<string, Converter> = {
  ...Object.fromEntries(Object.keys(reduceOps).map((op) => [op, reduceGeneral])),
  ArgMax: argReduce,
  ArgMin: argReduce,
  Softmax: softmaxGeneral,
  LogSoftmax: softmaxGeneral,
  LayerNormalization: layerNormGeneral,
  CumSum: cumsum,
  TopK: topKGeneral,
};
