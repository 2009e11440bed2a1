// General tensor ops with ONNX semantics, arithmetic half: elementwise unary,
// binary (numpy broadcasting, comparisons and logic to bool), where, cast,
// reductions along axes, softmax / log-softmax and layer norm along an axis,
// batched matmul of two activations, cumsum and top-k. Values have any rank
// with the batch first (shapes here are per row); axis attributes count the
// batch as axis 0 and no op may reduce or move it.
import { z } from "zod";
import { binaryNdOps, compareOps, intReduceOps, intUnaryOps, logicalOps, reduceOps, unaryOps } from "../ffi/tensor-op-codes";
import type { DType } from "../tensor/dtype";
import { activation, axisAttr, dtypeOf, failNode, numericDTypes, operandRowShapes, tensorDTypes } from "./op-inputs";
import type { OpDef, OpInput, ValueType } from "./ops";
import type { Node } from "./schema";
import { broadcastShapes, count } from "./tensor-shapes";

const axis = z.number().int();

function broadcastOut(node: Node, inputs: OpInput[], indices: number[]): number[] {
  const shapes = operandRowShapes(node, inputs, indices);
  const out = broadcastShapes(shapes);
  if (!out) failNode(node, `shapes ${shapes.map((s) => `[N, ${s.join(", ")}]`).join(" and ")} do not broadcast`);
  return out;
}

const unary: OpDef<{ op: (typeof unaryOps)[number]; alpha: number; beta: number }> = {
  attrs: z.object({ op: z.enum(unaryOps), alpha: z.number().default(0), beta: z.number().default(0) }).strict(),
  infer: (inputs, a, node) => {
    const allowed: DType[] = a.op === "not" ? ["bool"] : intUnaryOps.has(a.op) ? numericDTypes : ["f32"];
    const x = activation(node, inputs, 0, allowed);
    return [{ dtype: a.op === "isnan" ? "bool" : x.dtype, shape: x.shape }];
  },
};

const binary: OpDef<{ op: (typeof binaryNdOps)[number] }> = {
  attrs: z.object({ op: z.enum(binaryNdOps) }).strict(),
  infer: (inputs, a, node) => {
    if (inputs.length !== 2) failNode(node, `expects 2 inputs, got ${inputs.length}`);
    const da = dtypeOf(node, inputs, 0);
    const db = dtypeOf(node, inputs, 1);
    if (da !== db) failNode(node, `operands have dtypes ${da} and ${db}; cast one first`);
    const allowed: DType[] = logicalOps.has(a.op) ? ["bool"] : a.op === "eq" ? tensorDTypes : numericDTypes;
    if (!allowed.includes(da)) failNode(node, `${a.op} of ${da} operands is not defined (expected ${allowed.join(" or ")})`);
    const shape = broadcastOut(node, inputs, [0, 1]);
    return [{ dtype: compareOps.has(a.op) ? "bool" : da, shape }];
  },
};

const where: OpDef<object> = {
  attrs: z.object({}).strict(),
  infer: (inputs, _a, node) => {
    if (inputs.length !== 3) failNode(node, `expects cond, a, b; got ${inputs.length} inputs`);
    if (dtypeOf(node, inputs, 0) !== "bool") failNode(node, `the condition has dtype ${dtypeOf(node, inputs, 0)}, expected bool`);
    const da = dtypeOf(node, inputs, 1);
    if (da !== dtypeOf(node, inputs, 2)) failNode(node, `branches have dtypes ${da} and ${dtypeOf(node, inputs, 2)}`);
    return [{ dtype: da, shape: broadcastOut(node, inputs, [0, 1, 2]) }];
  },
};

const cast: OpDef<{ to: "f32" | "i32" | "i64" | "bool" }> = {
  attrs: z.object({ to: z.enum(["f32", "i32", "i64", "bool"]) }).strict(),
  infer: (inputs, a, node) => [{ dtype: a.to, shape: activation(node, inputs, 0).shape }],
};

/** Per-row axes of a reduction: distinct, adjacent (one [outer, n, inner] view), never the batch. */
export function reduceAxes(node: Node, axes: number[], rowRank: number): number[] {
  const rows = [...new Set(axes.map((x) => axisAttr(node, x, rowRank)))].sort((p, q) => p - q);
  if (rows.length === 0) failNode(node, "needs at least one axis (reducing every axis would reduce the batch)");
  if (rows.some((r, i) => i > 0 && r !== rows[i - 1]! + 1)) failNode(node, `axes ${JSON.stringify(axes)} are not adjacent; reduce them one at a time`);
  return rows;
}

const reduce: OpDef<{ op: (typeof reduceOps)[number]; axes: number[]; keepdims: boolean }> = {
  attrs: z.object({ op: z.enum(reduceOps), axes: z.array(axis), keepdims: z.boolean().default(true) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, intReduceOps.has(a.op) ? numericDTypes : ["f32"]);
    const rows = reduceAxes(node, a.axes, x.shape.length);
    const arg = a.op === "argmax" || a.op === "argmin";
    if (arg && rows.length !== 1) failNode(node, `${a.op} takes one axis`);
    if (rows.some((r) => x.shape[r] === 0) && ["max", "min", "argmax", "argmin", "mean"].includes(a.op)) failNode(node, `${a.op} over an empty axis`);
    const shape = a.keepdims ? x.shape.map((d, i) => (rows.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !rows.includes(i));
    return [{ dtype: arg ? "i64" : x.dtype, shape }];
  },
};

const softmaxAxis: OpDef<{ axis: number; log: boolean }> = {
  attrs: z.object({ axis: axis.default(-1), log: z.boolean().default(false) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    axisAttr(node, a.axis, x.shape.length);
    return [x];
  },
};

/** ONNX LayerNormalization: normalise over axes [axis, rank); scale/bias have that trailing shape. */
const layerNormAxis: OpDef<{ axis: number; eps: number }> = {
  attrs: z.object({ axis: axis.default(-1), eps: z.number().nonnegative().default(1e-5) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    const r = axisAttr(node, a.axis, x.shape.length);
    const width = count(x.shape.slice(r));
    for (const i of [1, 2]) {
      const w = inputs[i];
      if (!w) continue;
      if (w.kind !== "weight" || w.spec.dtype !== "f32" || count(w.spec.shape) !== width) failNode(node, `input ${i} must be an f32 weight of ${width} elements (the normalised axes [${x.shape.slice(r).join(", ")}])`);
    }
    return [x];
  },
};

/** ONNX MatMul with at least one activation: [.., m, k] · [.., k, n], leading dims broadcast; a 1-D side is a vector. */
const batchMatmul: OpDef<object> = {
  attrs: z.object({}).strict(),
  infer: (inputs, _a, node) => {
    if (inputs.length !== 2) failNode(node, `expects 2 inputs, got ${inputs.length}`);
    const plan = matmulShapes(node, inputs);
    return [{ dtype: "f32", shape: plan.out }];
  },
};

/** The matrix view of each MatMul operand (per row), the broadcast leading dims and the output shape. */
export function matmulShapes(node: Node, inputs: OpInput[]): { a: number[]; b: number[]; lead: number[]; m: number; k: number; n: number; out: number[] } {
  const side = (i: number): { shape: number[]; vector: boolean } => {
    const inp = inputs[i]!;
    if (dtypeOf(node, inputs, i) !== "f32") failNode(node, `input ${i} must be f32`);
    if (inp.kind === "value") {
      // A value of one vector per row is ONNX [N, k]: a matrix whose rows are the batch. It is row-wise
      // only as the left operand of a weight; anything else would contract or broadcast over the batch.
      const other = inputs[1 - i]!;
      if (inp.type.shape.length === 0 || (inp.type.shape.length === 1 && (i === 1 || other.kind === "value"))) {
        failNode(node, `input ${i} ("${inp.name}") is [N${inp.type.shape.map((d) => `, ${d}`).join("")}]; a MatMul of it would mix rows of the batch (each row needs its own matrix: [N, m, k] · [N, k, n])`);
      }
      return { shape: inp.type.shape, vector: false };
    }
    return { shape: inp.spec.shape, vector: inp.spec.shape.length === 1 };
  };
  const sa = side(0);
  const sb = side(1);
  // A row vector [k] of a value is the matrix [1, k] of that row (the batch is m).
  const rowVector = inputs[0]!.kind === "value" && sa.shape.length === 1;
  const aM = sa.vector || rowVector ? [1, sa.shape[0]!] : sa.shape;
  const bM = sb.vector ? [sb.shape[0]!, 1] : sb.shape;
  const [m, k] = aM.slice(-2) as [number, number];
  const [k2, n] = bM.slice(-2) as [number, number];
  if (k !== k2) failNode(node, `inner dimensions differ: [.., ${m}, ${k}] · [.., ${k2}, ${n}]`);
  const valueLead = Math.max(...[0, 1].map((i) => (inputs[i]!.kind === "value" ? (i === 0 ? aM : bM).length - 2 : 0)));
  const leadOf = (i: number, mat: number[]): number[] => {
    const inp = inputs[i]!;
    const lead = mat.slice(0, -2);
    if (inp.kind === "value" || lead.length <= valueLead) return lead;
    // A weight with one more leading dim than the rows' spans the batch axis: only size 1 there.
    if (lead.length > valueLead + 1 || lead[0] !== 1) failNode(node, `weight "${inp.name}" [${inp.spec.shape.join(", ")}] would broadcast along the batch axis`);
    return lead.slice(1);
  };
  const la = leadOf(0, aM);
  const lb = leadOf(1, bM);
  const lead = broadcastShapes([la, lb]);
  if (!lead) failNode(node, `leading dims [${la.join(", ")}] and [${lb.join(", ")}] do not broadcast`);
  const out = [...lead, ...(sa.vector || rowVector ? [] : [m]), ...(sb.vector ? [] : [n])];
  return { a: [...la, m, k], b: [...lb, k, n], lead, m, k, n, out };
}

const cumsum: OpDef<{ axis: number; exclusive: boolean; reverse: boolean }> = {
  attrs: z.object({ axis, exclusive: z.boolean().default(false), reverse: z.boolean().default(false) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, numericDTypes);
    axisAttr(node, a.axis, x.shape.length);
    return [x];
  },
};

const topKAxis: OpDef<{ k: number; axis: number; largest: boolean }> = {
  attrs: z.object({ k: z.number().int().nonnegative(), axis: axis.default(-1), largest: z.boolean().default(true) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0, ["f32"]);
    const r = axisAttr(node, a.axis, x.shape.length);
    if (a.k > x.shape[r]!) failNode(node, `k = ${a.k} exceeds the axis' ${x.shape[r]} elements`);
    const shape = x.shape.map((d, i) => (i === r ? a.k : d));
    const out: ValueType[] = [
      { dtype: "f32", shape },
      { dtype: "i64", shape },
    ];
    return out;
  },
};

export const tensorMathOps: Record<string, OpDef<any>> = {
  unary,
  binary,
  where,
  cast,
  reduce,
  softmax_axis: softmaxAxis,
  layer_norm_axis: layerNormAxis,
  batch_matmul: batchMatmul,
  cumsum,
  top_k_axis: topKAxis,
};
