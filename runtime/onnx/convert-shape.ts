// Converters for the ops that move data around without arithmetic: constants,
// shape arithmetic (folded symbolically in the batch size), reshapes, concat,
// slices and gathers along feature axes, casts and transposes. A Gather from
// an embedding table is a lookup (convert-embedding.ts).
import { onnx } from "onnx-proto";
import { type Tensor, tensor } from "../tensor/tensor";
import type { Importer, OnnxNode } from "./importer";
import { reshapeConverters, setAlias } from "./convert-reshape";
import { tableGather } from "./convert-embedding";
import { BATCH, type Sym, type SymVec, concatVecs, elementAt, isConst, itemsOf, lengthOf, rangeVec, sliceVec, sym } from "./symbolic";
import { onnxShape } from "./batch-layout";
import { ONNX, initializerTensor, num } from "./tensors";
import type { TensorVal, Val } from "./values";

export type Converter = (imp: Importer, node: OnnxNode) => void;

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

// ------------------------------------------------------------------ integer vectors

/** An integer value as a symbolic vector (constants and shape arithmetic), or undefined. */
export function intVec(imp: Importer, name: string | undefined): { vec: SymVec; scalar: boolean } | undefined {
  const v = name ? imp.vals.get(name) : undefined;
  if (!v) return undefined;
  if (v.kind === "sym") return { vec: v.vec, scalar: v.scalar };
  if (v.kind === "const" && v.t.dtype !== "f32" && v.dims.length <= 1) {
    return { vec: { items: Array.from(v.t.data as ArrayLike<number | bigint>, (x) => sym(Number(x))) }, scalar: v.dims.length === 0 };
  }
  return undefined;
}

/** Constant integers of an input (e.g. axes, perm), or undefined when absent or not constant. */
export function intConsts(imp: Importer, name: string | undefined): number[] | undefined {
  const v = intVec(imp, name);
  const items = v && itemsOf(v.vec);
  return items?.every(isConst) ? items.map((s) => s.c) : undefined;
}

/** Store an integer result: a constant when it does not depend on N. */
export function setInts(imp: Importer, out: string, vec: SymVec, scalar: boolean): void {
  const items = itemsOf(vec);
  if (items?.every(isConst)) {
    imp.setConst(out, tensor("i64", [scalar ? 1 : items.length], BigInt64Array.from(items, (s) => BigInt(s.c))), scalar ? [] : [items.length]);
  } else imp.set(out, { kind: "sym", vec, scalar });
}

/** The full ONNX shape of a value, batch included (for Shape/Size). */
function fullShape(imp: Importer, v: Val, node: OnnxNode): Sym[] {
  switch (v.kind) {
    case "tensor": return onnxShape(v);
    case "const": return v.dims.map((d) => sym(d));
    case "sym": return v.scalar ? [] : [lengthOf(v.vec)];
    case "flatIds": return [sym(0, v.perRow)];
    default: imp.fail(node, "the shape of this value is not known");
  }
}

/** Normalise an axis of a rank-`rank` value; the batch axis (0) is refused unless allowed. */
export function axisOf(imp: Importer, node: OnnxNode, axis: number, rank: number, allowBatch = false): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) imp.fail(node, `axis ${axis} is out of range for rank ${rank}`);
  if (a === 0 && !allowBatch) imp.fail(node, "operating on the batch axis (0) is not supported: rankfn scores rows independently");
  return a;
}

/** Axes from the attribute (older opsets) or the second input (newer). */
export function axesOf(imp: Importer, node: OnnxNode, inputIndex = 1): number[] | undefined {
  const fromAttr = imp.intsAttr(node, "axes");
  if (fromAttr) return fromAttr;
  const name = node.input?.[inputIndex];
  if (!name) return undefined;
  const c = intConsts(imp, name);
  if (!c) imp.fail(node, "axes must be constant");
  return c;
}

// ------------------------------------------------------------------ constants and shapes

function constant(imp: Importer, node: OnnxNode): void {
  const out = node.output![0]!;
  const a = node.attribute?.[0];
  if (!a) imp.fail(node, "a Constant needs a value attribute");
  const T = onnx.AttributeProto.AttributeType;
  const types: Record<string, onnx.AttributeProto.AttributeType> = { value: T.TENSOR, value_float: T.FLOAT, value_floats: T.FLOATS, value_int: T.INT, value_ints: T.INTS };
  if (a.name && types[a.name] !== undefined) imp.attr(node, a.name, types[a.name]);
  switch (a.name) {
    case "value":
      if (!a.t) imp.fail(node, 'Constant attribute "value" holds no tensor');
      return imp.setConst(out, initializerTensor(a.t, imp.modelDir), (a.t.dims ?? []).map(num));
    case "value_float": return imp.setConst(out, tensor("f32", [1], new Float32Array([a.f ?? 0])), []);
    case "value_floats": return imp.setConst(out, tensor("f32", [a.floats!.length], Float32Array.from(a.floats!)), [a.floats!.length]);
    case "value_int": return imp.setConst(out, tensor("i64", [1], new BigInt64Array([BigInt(num(a.i))])), []);
    case "value_ints": return imp.setConst(out, tensor("i64", [a.ints!.length], BigInt64Array.from(a.ints!, (x) => BigInt(num(x)))), [a.ints!.length]);
    default: imp.fail(node, `Constant attribute "${a.name}" is not supported (value, value_float(s), value_int(s))`);
  }
}

function shape(imp: Importer, node: OnnxNode): void {
  const dims = fullShape(imp, imp.get(node.input![0]!, node), node);
  const start = imp.intAttr(node, "start", 0);
  const end = imp.attr(node, "end") ? imp.intAttr(node, "end", dims.length) : dims.length;
  setInts(imp, node.output![0]!, sliceVec({ items: dims }, start, end)!, false);
}

function size(imp: Importer, node: OnnxNode): void {
  const dims = fullShape(imp, imp.get(node.input![0]!, node), node);
  let total = sym(1);
  for (const d of dims) {
    const next = d.n !== 0 && total.n !== 0 ? undefined : { c: total.c * d.c, n: total.n * d.c + total.c * d.n };
    if (!next) imp.fail(node, "size is not linear in the batch");
    total = next;
  }
  setInts(imp, node.output![0]!, { items: [total] }, true);
}

function range(imp: Importer, node: OnnxNode): void {
  const [s, l, d] = (node.input ?? []).map((n) => intVec(imp, n));
  const first = (v: typeof s) => (v ? elementAt(v.vec, 0) : undefined);
  const vec = s && l && d ? rangeVec(first(s)!, first(l)!, first(d)!) : undefined;
  if (!vec) imp.fail(node, "Range needs integer start/limit/delta computable from the batch size, with a constant delta");
  setInts(imp, node.output![0]!, vec, false);
}

function identity(imp: Importer, node: OnnxNode): void {
  imp.set(node.output![0]!, imp.get(node.input![0]!, node));
}

function cast(imp: Importer, node: OnnxNode): void {
  const to = imp.intAttr(node, "to", 0);
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  const toInt = to === ONNX.INT64 || to === ONNX.INT32;
  if (v.kind === "sym" && toInt) return imp.set(out, v);
  if (v.kind === "const") {
    const data = Array.from(v.t.data as ArrayLike<number | bigint>, Number);
    if (to === ONNX.FLOAT) return imp.setConst(out, tensor("f32", v.t.shape, Float32Array.from(data)), v.dims);
    if (toInt || to === ONNX.BOOL) return imp.setConst(out, tensor("i64", v.t.shape, BigInt64Array.from(data, (x) => BigInt(to === ONNX.BOOL ? (x ? 1 : 0) : Math.trunc(x)))), v.dims);
  }
  if (v.kind === "tensor" || v.kind === "flatIds") {
    // Casts between id types, or float to float, change nothing rankfn stores per row.
    const ok = to === ONNX.FLOAT ? v.dtype === "f32" : toInt ? v.dtype !== "f32" : false;
    if (ok) return imp.set(out, v);
    imp.fail(node, `cast from ${v.dtype} to type ${to} is not supported (only id-to-id and float-to-float)`);
  }
  imp.fail(node, `cast of this value to type ${to} is not supported`);
}

// ------------------------------------------------------------------ concat, slices, gathers

function concat(imp: Importer, node: OnnxNode): void {
  const ins = (node.input ?? []).filter(Boolean);
  const out = node.output![0]!;
  const ints = ins.map((n) => intVec(imp, n));
  if (ints.every((v) => v !== undefined)) {
    const vec = concatVecs(ints.map((v) => v!.vec));
    if (!vec) imp.fail(node, "this concatenation of shape values cannot be computed when the model loads");
    return setInts(imp, out, vec, false);
  }
  const xs = ins.map((n) => imp.tensor(n, node));
  const rank = xs[0]!.dims.length + 1;
  if (xs.some((x) => x.dims.length + 1 !== rank)) imp.fail(node, "inputs have different ranks");
  const axis = axisOf(imp, node, imp.intAttr(node, "axis", 1), rank);
  // Rows stay contiguous when every axis before the concat axis (after the batch) has size 1.
  if (xs.some((x) => x.dims.slice(0, axis - 1).some((d) => d !== 1))) imp.fail(node, `concat over axis ${axis} of [N, ${xs[0]!.dims.join(", ")}] interleaves rows; only the first feature axis is supported`);
  for (const x of xs) if (x.dims.slice(axis).join() !== xs[0]!.dims.slice(axis).join()) imp.fail(node, "inputs differ outside the concat axis");
  const dims = [...xs[0]!.dims];
  dims[axis - 1] = xs.reduce((a, x) => a + x.dims[axis - 1]!, 0);
  const stack = axis === 1 && xs.every((x) => x.dims[0] === 1);
  imp.emit("concat", xs.map((x) => x.value), out, dims, {}, node);
  const made = imp.vals.get(out) as TensorVal;
  if (stack) made.parts = xs.map((x) => x.value);
}

/** Columns of each row picked by index list `idx` along per-row axis `axis` (1-based). */
function columnsAlong(dims: number[], axis: number, idx: number[]): number[] {
  const inner = prod(dims.slice(axis));
  const outer = prod(dims.slice(0, axis - 1));
  const size = dims[axis - 1]!;
  const cols: number[] = [];
  for (let o = 0; o < outer; o++) for (const i of idx) for (let c = 0; c < inner; c++) cols.push((o * size + i) * inner + c);
  return cols;
}

/** Emit the per-row selection of `cols` from x (a slice when contiguous, else a select). */
export function selectColumns(imp: Importer, node: OnnxNode, x: TensorVal, cols: number[], out: string, dims: number[]): void {
  const width = prod(x.dims);
  if (cols.length === width && cols.every((c, i) => c === i)) return setAlias(imp, out, x, dims);
  const contiguous = cols.every((c, i) => c === cols[0]! + i);
  if (contiguous) return imp.emit("slice", [x.value], out, dims, { start: cols[0]!, end: cols[0]! + cols.length }, node);
  imp.emit("select", [x.value], out, dims, { columns: cols }, node);
}

function slice(imp: Importer, node: OnnxNode): void {
  const [data, s, e, a, st] = node.input ?? [];
  const starts = intConsts(imp, s);
  const ends = intConsts(imp, e);
  if (!starts || !ends) imp.fail(node, "starts and ends must be constant");
  const axes = a ? intConsts(imp, a) : starts.map((_, i) => i);
  const steps = st ? intConsts(imp, st) : starts.map(() => 1);
  if (!axes || !steps) imp.fail(node, "axes and steps must be constant");
  const v = imp.get(data!, node);
  const out = node.output![0]!;
  const iv = intVec(imp, data);
  if (iv) {
    if (axes.length !== 1 || axes[0] !== 0 || steps[0] !== 1) imp.fail(node, "slices of shape values must be over axis 0 with step 1");
    const vec = sliceVec(iv.vec, starts[0]!, ends[0]!);
    if (!vec) imp.fail(node, "this slice of a shape value cannot be computed when the model loads");
    return setInts(imp, out, vec, false);
  }
  if (v.kind !== "tensor" || v.layout) imp.fail(node, "slicing this value is not supported");
  if (axes.length !== 1) imp.fail(node, "slicing over several axes at once is not supported");
  const rank = v.dims.length + 1;
  const axis = axisOf(imp, node, axes[0]!, rank);
  const size = v.dims[axis - 1]!;
  const step = steps[0]!;
  if (step === 0) imp.fail(node, "step must not be 0");
  const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, x < 0 ? x + size : x));
  const idx: number[] = [];
  if (step > 0) for (let i = clamp(starts[0]!, 0, size); i < clamp(ends[0]!, 0, size); i += step) idx.push(i);
  else for (let i = clamp(starts[0]!, -1, size - 1); i > clamp(ends[0]!, -1, size - 1); i += step) idx.push(i);
  if (idx.length === 0) imp.fail(node, "the slice is empty");
  const dims = [...v.dims];
  dims[axis - 1] = idx.length;
  selectColumns(imp, node, v, columnsAlong(v.dims, axis, idx), out, dims);
}

function gather(imp: Importer, node: OnnxNode): void {
  const [data, indices] = node.input as [string, string];
  const v = imp.get(data, node);
  const axisAttr = imp.intAttr(node, "axis", 0);
  const out = node.output![0]!;
  const iv = intVec(imp, data);
  if (iv && axisAttr === 0) {
    const idx = intConsts(imp, indices);
    const scalar = imp.constant(indices)?.dims.length === 0;
    if (!idx) imp.fail(node, "indices into a shape value must be constant");
    const picked = idx.map((i) => elementAt(iv.vec, i));
    if (picked.some((p) => !p)) imp.fail(node, "index out of range of the shape value");
    return setInts(imp, out, { items: picked as Sym[] }, scalar);
  }
  if (v.kind === "const" && v.t.dtype === "f32" && v.dims.length === 2 && axisAttr === 0) return tableGather(imp, node, data, v.t, out);
  if (v.kind !== "tensor" || v.layout) imp.fail(node, "gather from this value is not supported (supported: an embedding table constant, shape values, or a per-row tensor along a feature axis with constant indices)");
  const c = imp.constant(indices);
  if (!c || c.t.dtype === "f32") imp.fail(node, "gathering from a per-row tensor needs constant integer indices");
  const rank = v.dims.length + 1;
  const axis = axisOf(imp, node, axisAttr, rank);
  const size = v.dims[axis - 1]!;
  const idx = Array.from(c.t.data as ArrayLike<number | bigint>, (x) => (Number(x) < 0 ? Number(x) + size : Number(x)));
  if (idx.some((i) => i < 0 || i >= size)) imp.fail(node, `an index is outside [0, ${size})`);
  const dims = [...v.dims.slice(0, axis - 1), ...c.dims, ...v.dims.slice(axis)];
  selectColumns(imp, node, v, columnsAlong(v.dims, axis, idx), out, dims);
}

function transpose(imp: Importer, node: OnnxNode): void {
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  const perm = imp.intsAttr(node, "perm");
  if (v.kind === "const") {
    const p = perm ?? v.dims.map((_, i) => v.dims.length - 1 - i);
    if (p.length !== v.dims.length || [...p].sort((a, b) => a - b).some((x, i) => x !== i)) imp.fail(node, `perm ${JSON.stringify(p)} is not a permutation of the ${v.dims.length} axes`);
    return imp.setConst(out, ...transposeConst(v.t, v.dims, p));
  }
  if (v.kind !== "tensor" || v.layout) imp.fail(node, "transpose of this value is not supported");
  const rank = v.dims.length + 1;
  const p = perm ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (p.length !== rank || [...p].sort((a, b) => a - b).some((x, i) => x !== i)) imp.fail(node, `perm ${JSON.stringify(p)} is not a permutation of the ${rank} axes of [N, ${v.dims.join(", ")}]`);
  if (p.every((x, i) => x === i)) return imp.set(out, v);
  if (rank === 3 && p.join() === "0,2,1" && (v.dims[0] === 1 || v.dims[1] === 1)) return setAlias(imp, out, v, [v.dims[1]!, v.dims[0]!]);
  // Every other permutation is a real transpose (converters.ts falls back to the general one).
  imp.fail(node, `transpose ${JSON.stringify(p)} of [N, ${v.dims.join(", ")}] is not a free view`);
}

/** Transpose a constant (folded at import: exporters transpose weights, e.g. nn.Linear). */
function transposeConst(t: Tensor, dims: number[], perm: number[]): [Tensor, number[]] {
  const outDims = perm.map((p) => dims[p]!);
  const count = prod(dims);
  const inStrides = dims.map((_, i) => prod(dims.slice(i + 1)));
  const src = t.data as ArrayLike<number | bigint>;
  const Ctor = t.dtype === "f32" ? Float32Array : t.dtype === "i32" ? Int32Array : BigInt64Array;
  const dst = new (Ctor as any)(count);
  const index = new Array(outDims.length).fill(0);
  for (let o = 0; o < count; o++) {
    let s = 0;
    for (let k = 0; k < outDims.length; k++) s += index[k]! * inStrides[perm[k]!]!;
    dst[o] = src[s];
    for (let k = outDims.length - 1; k >= 0; k--) {
      if (++index[k]! < outDims[k]!) break;
      index[k] = 0;
    }
  }
  return [{ dtype: t.dtype, shape: outDims.length ? outDims : [1], data: dst } as Tensor, outDims];
}

export const shapeConverters: Record<string, Converter> = {
  Constant: constant,
  Shape: shape,
  Size: size,
  Range: range,
  Identity: identity,
  Cast: cast,
  ...reshapeConverters,
  Concat: concat,
  Slice: slice,
  Gather: gather,
  Transpose: transpose,
};
