// Typed wrappers of the general tensor kernels (rf_unary_nd .. rf_topk_axis in
// rankfn.h): numpy broadcasting, axis handling and output allocation, with
// every dtype, shape, stride and enum checked here, before native code.
import { TensorError } from "../errors";
import { enumCode } from "./activations";
import type { Stream } from "./device";
import { check, native } from "./native";
import {
  type NdArray, type NdArrayOf, basePointer, broadcastShapes, broadcastStrides, checkNd, i64s, isContiguous, ndArray,
  normaliseAxis, numelOf, splitAtAxis, stridesOf,
} from "./nd-array";
import { type BinaryNdOp, type NdDType, type ReduceOp, type ScatterReduction, type UnaryOp, binaryNdOps, ndDTypes, reduceOps, scatterReductions, unaryOps } from "./tensor-op-codes";

const streamOf = (s?: Stream) => s?.handle ?? null;

/** Validate a given output (dtype, shape) or allocate a contiguous one. */
function outputNd<D extends NdDType>(y: NdArray | undefined, dtype: D, shape: number[], name: string): NdArrayOf<D> {
  if (!y) return ndArray(dtype, shape);
  checkNd(y, name, dtype);
  if (y.shape.length !== shape.length || y.shape.some((d, i) => d !== shape[i])) {
    throw new TensorError(`${name}: expected shape [${shape.join(", ")}], got [${y.shape.join(", ")}]`, "bad_shape");
  }
  return y as NdArrayOf<D>;
}

function contiguousInput(t: unknown, name: string, dtype?: NdDType | readonly NdDType[]): NdArray {
  checkNd(t, name, dtype);
  if (!isContiguous(t)) throw new TensorError(`${name}: must be contiguous (copy it with castNd first)`, "bad_strides");
  return t;
}

const INT_UNARY: readonly UnaryOp[] = ["neg", "abs", "sign", "clip", "relu"];

/** y = op(x) elementwise (alpha/beta: clip bounds, leaky_relu slope, hardsigmoid). isnan writes bool. */
export function unaryNd({ op, x, y, alpha = 0, beta = 0, stream }: { op: UnaryOp; x: NdArray; y?: NdArray; alpha?: number; beta?: number; stream?: Stream }): NdArray {
  const code = enumCode(unaryOps, op, "unaryNd op");
  checkNd(x, `${op} x`);
  const ok = x.dtype === "f32" ? op !== "not" : x.dtype === "bool" ? op === "not" : INT_UNARY.includes(op);
  if (!ok) throw new TensorError(`${op}: does not support dtype ${x.dtype}`, "bad_dtype");
  const out = outputNd(y, op === "isnan" ? "bool" : x.dtype, x.shape, `${op} y`);
  const rank = x.shape.length;
  check(
    native().rf_unary_nd(streamOf(stream), code, ndDTypes[x.dtype], rank, i64s(x.shape), basePointer(x), i64s(stridesOf(x)), alpha, beta, basePointer(out), i64s(stridesOf(out))),
    "rf_unary_nd",
  );
  return out;
}

const COMPARE: readonly BinaryNdOp[] = ["eq", "lt", "le", "gt", "ge", "and", "or", "xor"];

/** y = a op b with numpy broadcasting; comparisons and logic ops write bool. */
export function binaryNd({ op, a, b, y, stream }: { op: BinaryNdOp; a: NdArray; b: NdArray; y?: NdArray; stream?: Stream }): NdArray {
  const code = enumCode(binaryNdOps, op, "binaryNd op");
  checkNd(a, `${op} a`);
  checkNd(b, `${op} b`, a.dtype);
  const logic = op === "and" || op === "or" || op === "xor";
  if (logic !== (a.dtype === "bool") && !(a.dtype === "bool" && op === "eq")) throw new TensorError(`${op}: does not support dtype ${a.dtype}`, "bad_dtype");
  const shape = broadcastShapes([a.shape, b.shape], op);
  const out = outputNd(y, COMPARE.includes(op) ? "bool" : a.dtype, shape, `${op} y`);
  check(
    native().rf_binary_nd(streamOf(stream), code, ndDTypes[a.dtype], shape.length, i64s(shape), basePointer(a), broadcastStrides(a, shape), basePointer(b), broadcastStrides(b, shape), basePointer(out), i64s(stridesOf(out))),
    "rf_binary_nd",
  );
  return out;
}

/** y = cond ? a : b with numpy broadcasting of all three. */
export function whereNd({ cond, a, b, y, stream }: { cond: NdArray; a: NdArray; b: NdArray; y?: NdArray; stream?: Stream }): NdArray {
  checkNd(cond, "where cond", "bool");
  checkNd(a, "where a");
  checkNd(b, "where b", a.dtype);
  const shape = broadcastShapes([cond.shape, a.shape, b.shape], "where");
  const out = outputNd(y, a.dtype, shape, "where y");
  check(
    native().rf_where_nd(streamOf(stream), ndDTypes[a.dtype], shape.length, i64s(shape), basePointer(cond), broadcastStrides(cond, shape), basePointer(a), broadcastStrides(a, shape), basePointer(b), broadcastStrides(b, shape), basePointer(out), i64s(stridesOf(out))),
    "rf_where_nd",
  );
  return out;
}

/** y = (dtype) x; with the same dtype, a strided copy (transpose, expand, slice: x is any view, y may be a view too). */
export function castNd({ x, dtype, y, stream }: { x: NdArray; dtype?: NdDType; y?: NdArray; stream?: Stream }): NdArray {
  checkNd(x, "cast x");
  const to = dtype ?? y?.dtype ?? x.dtype;
  if (!Object.hasOwn(ndDTypes, to)) throw new TensorError(`cast: dtype ${JSON.stringify(to)} is not one of ${Object.keys(ndDTypes).join(", ")}`, "bad_dtype");
  const out = outputNd(y, to, x.shape, "cast y");
  check(
    native().rf_cast_nd(streamOf(stream), x.shape.length, i64s(x.shape), basePointer(x), ndDTypes[x.dtype], i64s(stridesOf(x)), basePointer(out), ndDTypes[to], i64s(stridesOf(out))),
    "rf_cast_nd",
  );
  return out;
}

const INT_REDUCE: readonly ReduceOp[] = ["sum", "max", "min", "prod", "argmax", "argmin"];

/** Reduce one axis of a contiguous x (keepDims keeps it as size 1); argmax/argmin give i64 indices. */
export function reduceAxis({ op, x, axis, keepDims = false, stream }: { op: ReduceOp; x: NdArray; axis: number; keepDims?: boolean; stream?: Stream }): NdArray {
  const code = enumCode(reduceOps, op, "reduce op");
  const xt = contiguousInput(x, `reduce ${op} x`, ["f32", "i32", "i64"]);
  if (xt.dtype !== "f32" && !INT_REDUCE.includes(op)) throw new TensorError(`reduce ${op}: does not support dtype ${xt.dtype}`, "bad_dtype");
  const ax = normaliseAxis(axis, xt.shape.length, `reduce ${op}`);
  const [outer, n, inner] = splitAtAxis(xt.shape, ax);
  const shape = keepDims ? xt.shape.map((d, i) => (i === ax ? 1 : d)) : xt.shape.filter((_, i) => i !== ax);
  const out = ndArray(op === "argmax" || op === "argmin" ? "i64" : xt.dtype, shape);
  check(native().rf_reduce(streamOf(stream), code, ndDTypes[xt.dtype], outer, n, inner, basePointer(xt), out.data), "rf_reduce");
  return out;
}

/** Softmax (or log-softmax) along one axis of a contiguous f32 x. */
export function softmaxAxis({ x, axis, log = false, stream }: { x: NdArray; axis: number; log?: boolean; stream?: Stream }): NdArrayOf<"f32"> {
  const xt = contiguousInput(x, "softmax x", "f32");
  const [outer, n, inner] = splitAtAxis(xt.shape, normaliseAxis(axis, xt.shape.length, "softmax"));
  const out = ndArray("f32", xt.shape);
  check(native().rf_softmax_axis(streamOf(stream), log ? 1 : 0, outer, n, inner, basePointer(xt), out.data), "rf_softmax_axis");
  return out;
}

/** Stride of the merged batch dims of t (rank - 2 leading dims), or a TensorError when they do not merge. */
function batchStride(t: NdArray, name: string): { count: number; stride: number } {
  const st = stridesOf(t);
  const lead = t.shape.length - 2;
  let stride = 0;
  let count = 1;
  for (let d = lead - 1; d >= 0; d--) {
    const size = t.shape[d]!;
    if (size === 1) continue;
    if (count === 1) stride = st[d]!;
    else if (st[d] !== stride * count) throw new TensorError(`${name}: batch dims with strides [${st.slice(0, lead).join(", ")}] do not merge into one batch stride`, "bad_strides");
    count *= size;
  }
  return { count, stride };
}

/** y = a · b over the last two dims ([..., m, k] · [..., k, n]); a rank-2 operand is broadcast over the batch. */
export function matmulBatched({ a, b, y, beta = 0, stream }: { a: NdArray; b: NdArray; y?: NdArray; beta?: number; stream?: Stream }): NdArrayOf<"f32"> {
  checkNd(a, "matmul a", "f32");
  checkNd(b, "matmul b", "f32");
  if (a.shape.length < 2 || b.shape.length < 2) throw new TensorError("matmul: a and b need rank >= 2", "bad_shape");
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kb, n] = b.shape.slice(-2) as [number, number];
  if (k !== kb) throw new TensorError(`matmul: a is [.., ${m}, ${k}] but b is [.., ${kb}, ${n}]`, "bad_shape");
  const ab = a.shape.slice(0, -2);
  const bb = b.shape.slice(0, -2);
  const batchShape = ab.length >= bb.length ? ab : bb;
  const ba = batchStride(a, "matmul a");
  const bbs = batchStride(b, "matmul b");
  const batch = numelOf(batchShape);
  for (const [s, name] of [[ba, "a"], [bbs, "b"]] as const) {
    if (s.count !== 1 && s.count !== batch) throw new TensorError(`matmul: ${name}'s batch of ${s.count} matches neither 1 nor ${batch}`, "bad_shape");
  }
  if (numelOf(ab) !== 1 && numelOf(bb) !== 1 && ab.join() !== bb.join()) throw new TensorError(`matmul: batch shapes [${ab}] and [${bb}] differ`, "bad_shape");
  const out = outputNd(y, "f32", [...batchShape, m, n], "matmul y");
  const os = stridesOf(out);
  const oy = batchStride(out, "matmul y");
  if (os[os.length - 1] !== 1 && n > 1) throw new TensorError("matmul y: its last dim must be contiguous", "bad_strides");
  const as = stridesOf(a);
  const bs = stridesOf(b);
  check(
    native().rf_matmul_batched(streamOf(stream), batch, m, n, k, basePointer(a), ba.count === 1 ? 0 : ba.stride, as.at(-2)!, as.at(-1)!, basePointer(b), bbs.count === 1 ? 0 : bbs.stride, bs.at(-2)!, bs.at(-1)!, beta, basePointer(out), oy.stride, os.at(-2)!),
    "rf_matmul_batched",
  );
  return out;
}

function indexArray(idx: unknown, name: string): NdArray {
  const t = contiguousInput(idx, name, ["i32", "i64"]);
  return t;
}

/** ONNX Gather: y = x indexed along `axis` by `indices` (negative indices count from the end). */
export function gatherAxis({ x, axis, indices, stream }: { x: NdArray; axis: number; indices: NdArray; stream?: Stream }): NdArray {
  const xt = contiguousInput(x, "gather x");
  const it = indexArray(indices, "gather indices");
  const ax = normaliseAxis(axis, xt.shape.length, "gather");
  const [outer, len, inner] = splitAtAxis(xt.shape, ax);
  const out = ndArray(xt.dtype, [...xt.shape.slice(0, ax), ...it.shape, ...xt.shape.slice(ax + 1)]);
  check(native().rf_gather_axis(streamOf(stream), ndDTypes[xt.dtype], outer, len, inner, basePointer(xt), basePointer(it), ndDTypes[it.dtype], numelOf(it.shape), 0, out.data), "rf_gather_axis");
  return out;
}

/** ONNX GatherElements: y[.., j, ..] = x[.., indices[.., j, ..], ..] along `axis` (other dims equal). */
export function gatherElements({ x, axis, indices, stream }: { x: NdArray; axis: number; indices: NdArray; stream?: Stream }): NdArray {
  const xt = contiguousInput(x, "gatherElements x");
  const it = indexArray(indices, "gatherElements indices");
  const ax = normaliseAxis(axis, xt.shape.length, "gatherElements");
  if (it.shape.length !== xt.shape.length || it.shape.some((d, i) => i !== ax && d !== xt.shape[i])) {
    throw new TensorError(`gatherElements: indices [${it.shape.join(", ")}] must match x [${xt.shape.join(", ")}] except along axis ${ax}`, "bad_shape");
  }
  const [outer, nIn, inner] = splitAtAxis(xt.shape, ax);
  const out = ndArray(xt.dtype, it.shape.slice());
  check(native().rf_gather_elements(streamOf(stream), ndDTypes[xt.dtype], outer, nIn, it.shape[ax]!, inner, basePointer(xt), basePointer(it), ndDTypes[it.dtype], out.data), "rf_gather_elements");
  return out;
}

/** ONNX ScatterND: a copy of data with updates written (or reduced) at the index tuples of `indices` [..., depth]. */
export function scatterNd({ data, indices, updates, reduction = "none", stream }: { data: NdArray; indices: NdArray; updates: NdArray; reduction?: ScatterReduction; stream?: Stream }): NdArray {
  const code = enumCode(scatterReductions, reduction, "scatterNd reduction");
  const dt = contiguousInput(data, "scatterNd data");
  const it = indexArray(indices, "scatterNd indices");
  const ut = contiguousInput(updates, "scatterNd updates", dt.dtype);
  if (dt.shape.length < 1 || it.shape.length < 1) throw new TensorError("scatterNd: data and indices need rank >= 1", "bad_shape");
  const depth = it.shape.at(-1)!;
  if (depth < 1 || depth > dt.shape.length) throw new TensorError(`scatterNd: index depth ${depth} must be in [1, ${dt.shape.length}]`, "bad_shape");
  const want = [...it.shape.slice(0, -1), ...dt.shape.slice(depth)];
  if (ut.shape.join() !== want.join()) throw new TensorError(`scatterNd: updates must have shape [${want.join(", ")}], got [${ut.shape.join(", ")}]`, "bad_shape");
  const out = castNd({ x: dt, stream });
  check(
    native().rf_scatter_nd(streamOf(stream), ndDTypes[dt.dtype], code, dt.shape.length, i64s(dt.shape), basePointer(it), ndDTypes[it.dtype], numelOf(it.shape.slice(0, -1)), depth, basePointer(ut), out.data),
    "rf_scatter_nd",
  );
  return out;
}

/** ONNX CumSum along one axis of a contiguous x (f32, i32, i64). */
export function cumsumAxis({ x, axis, exclusive = false, reverse = false, stream }: { x: NdArray; axis: number; exclusive?: boolean; reverse?: boolean; stream?: Stream }): NdArray {
  const xt = contiguousInput(x, "cumsum x", ["f32", "i32", "i64"]);
  const [outer, n, inner] = splitAtAxis(xt.shape, normaliseAxis(axis, xt.shape.length, "cumsum"));
  const out = ndArray(xt.dtype, xt.shape);
  check(native().rf_cumsum_axis(streamOf(stream), ndDTypes[xt.dtype], outer, n, inner, exclusive ? 1 : 0, reverse ? 1 : 0, basePointer(xt), out.data), "rf_cumsum_axis");
  return out;
}

/** ONNX TopK along one axis of a contiguous f32 x: sorted values and i64 indices (ties: lower index first). */
export function topkAxis({ x, axis, k, largest = true, stream }: { x: NdArray; axis: number; k: number; largest?: boolean; stream?: Stream }): { values: NdArrayOf<"f32">; indices: NdArrayOf<"i64"> } {
  const xt = contiguousInput(x, "topkAxis x", "f32");
  const ax = normaliseAxis(axis, xt.shape.length, "topkAxis");
  const [outer, n, inner] = splitAtAxis(xt.shape, ax);
  if (!Number.isInteger(k) || k < 0 || k > n) throw new TensorError(`topkAxis: k must be an integer in [0, ${n}], got ${k}`, "bad_k");
  const shape = xt.shape.map((d, i) => (i === ax ? k : d));
  const values = ndArray("f32", shape);
  const indices = ndArray("i64", shape);
  check(native().rf_topk_axis(streamOf(stream), outer, n, inner, k, largest ? 1 : 0, basePointer(xt), values.data, indices.data), "rf_topk_axis");
  return { values, indices };
}
