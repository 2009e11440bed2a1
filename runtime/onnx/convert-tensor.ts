// Data-movement ONNX ops on the general tensor ops, with ONNX semantics on
// activations of any rank and dtype: Transpose (the batch stays first),
// Expand, Tile, Concat, Split, Slice over several axes and steps, Gather with
// constant indices, GatherElements, ScatterND, MatMul of two activations and
// ConstantOfShape. Constant-only subgraphs (a positional table gathered by a
// constant range, zeros of a per-row shape) fold when the model loads.
import { type Tensor, tensor } from "../tensor/tensor";
import { type Converter, intConsts, intVec } from "./convert-shape";
import { general, generalOut, operand } from "./general";
import type { Importer, OnnxNode } from "./importer";
import { BATCH, type Sym, isConst, itemsOf, symEq } from "./symbolic";
import { initializerTensor } from "./tensors";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const INT_MAX = 2 ** 31 - 1;

/** Values of a constant tensor, any dtype, as numbers. */
const valuesOf = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** A constant of `dims` built from element indices (constant folding at load). */
function constFrom(t: Tensor, dims: number[], source: (out: number[]) => number): Tensor {
  const n = prod(dims);
  const src = t.data as ArrayLike<number | bigint>;
  const Ctor = (t.data as unknown as { constructor: new (n: number) => ArrayLike<number | bigint> & { [i: number]: number | bigint } }).constructor;
  const dst = new Ctor(n);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < n; o++) {
    dst[o] = src[source(idx)]!;
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return { dtype: t.dtype, shape: dims.length ? dims : [1], data: dst } as Tensor;
}

const strides = (dims: number[]) => dims.map((_, i) => prod(dims.slice(i + 1)));

/** The per-row target of an Expand/ConstantOfShape shape that starts with the batch (or 1). */
function rowTarget(imp: Importer, node: OnnxNode, items: Sym[], rank: number): { row: number[]; batch: boolean } {
  const full = [...new Array<Sym>(Math.max(0, rank - items.length)).fill({ c: 1, n: 0 }), ...items];
  const batch = full.length > 0 && symEq(full[0]!, BATCH);
  const rest = full.slice(1);
  if (!rest.every(isConst)) imp.fail(node, "only the first (batch) dimension of the target shape may depend on the batch size");
  if (full.length > 0 && !batch && !(isConst(full[0]!) && full[0]!.c === 1)) imp.fail(node, `the target's first dimension ${full[0]!.c} is not the batch`);
  return { row: rest.map((s) => s.c), batch };
}

export function expand(imp: Importer, node: OnnxNode): void {
  const [x, shapeName] = node.input as [string, string];
  const target = intVec(imp, shapeName);
  const items = target && itemsOf(target.vec);
  if (!items) imp.fail(node, "the target shape must be computable when the model loads");
  const c = imp.constant(x);
  if (c) {
    // A constant expanded to rows: fold it to one row [1, ...] that broadcasts over the batch.
    const rank = Math.max(items.length, c.dims.length);
    const cd = [...new Array<number>(rank - c.dims.length).fill(1), ...c.dims];
    const { row } = rowTarget(imp, node, items, rank);
    const dims = [1, ...row.map((d, i) => (d === 1 ? cd[i + 1]! : d))];
    const cs = strides(cd);
    return imp.setConst(node.output![0]!, constFrom(c.t, dims, (o) => o.reduce((acc, v, i) => acc + (cd[i] === 1 ? 0 : v * cs[i]!), 0)), dims);
  }
  const v = imp.tensor(x, node, ["f32", "i32", "i64", "bool"]);
  const { row } = rowTarget(imp, node, items, Math.max(items.length, v.dims.length + 1));
  generalOut(imp, node, "expand", [operand(imp, x, node)], { shape: row });
}

export function constantOfShape(imp: Importer, node: OnnxNode): void {
  const target = intVec(imp, node.input![0]);
  const items = target && itemsOf(target.vec);
  if (!items) imp.fail(node, "the shape must be computable when the model loads");
  const a = imp.attr(node, "value")?.t;
  const value = a ? initializerTensor(a, imp.modelDir) : tensor("f32", [1], new Float32Array(1));
  const batch = items.length > 0 && symEq(items[0]!, BATCH);
  if (!items.slice(batch ? 1 : 0).every(isConst)) imp.fail(node, "only the batch dimension may depend on the batch size");
  const dims = batch ? [1, ...items.slice(1).map((s) => s.c)] : items.map((s) => s.c);
  imp.setConst(node.output![0]!, constFrom(value, dims, () => 0), dims);
}

export function tile(imp: Importer, node: OnnxNode): void {
  const repeats = intConsts(imp, node.input![1]);
  if (!repeats) imp.fail(node, "repeats must be constant");
  if (repeats[0] !== 1) imp.fail(node, `repeats[0] = ${repeats[0]} repeats the batch; rankfn keeps one row per candidate`);
  generalOut(imp, node, "tile", [operand(imp, node.input![0]!, node)], { repeats: repeats.slice(1) });
}

export function transposeGeneral(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64", "bool"]);
  const rank = x.dims.length + 1;
  const perm = imp.intsAttr(node, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  generalOut(imp, node, "transpose", [operand(imp, node.input![0]!, node)], { perm });
}

export function concatGeneral(imp: Importer, node: OnnxNode): void {
  const ins = (node.input ?? []).filter(Boolean);
  for (const n of ins) if (imp.constant(n)) imp.fail(node, `input "${n}" is a constant: concatenating it with rows needs it expanded to the batch first`);
  generalOut(imp, node, "concat_axis", ins.map((n) => operand(imp, n, node)), { axis: imp.intAttr(node, "axis", 1) });
}

export function split(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64", "bool"]);
  const rank = x.dims.length + 1;
  const axis = imp.intAttr(node, "axis", 0);
  const a = axis < 0 ? axis + rank : axis;
  const size = x.dims[a - 1];
  if (size === undefined) imp.fail(node, `axis ${axis} is the batch axis or out of range`);
  const outs = node.output ?? [];
  let sizes = node.input?.[1] ? intConsts(imp, node.input[1]) : imp.intsAttr(node, "split");
  if (node.input?.[1] && !sizes) imp.fail(node, "split sizes must be constant");
  if (!sizes) {
    const parts = imp.intAttr(node, "num_outputs", outs.length);
    const each = Math.ceil(size / parts);
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, size - i * each)));
  }
  general(imp, "split", [operand(imp, node.input![0]!, node)], { axis, sizes }, node, ...outs);
}

export function sliceGeneral(imp: Importer, node: OnnxNode): void {
  const [data, s, e, ax, st] = node.input ?? [];
  const starts = intConsts(imp, s);
  const ends = intConsts(imp, e);
  const axes = ax ? intConsts(imp, ax) : starts?.map((_, i) => i);
  const steps = st ? intConsts(imp, st) : starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps) imp.fail(node, "starts, ends, axes and steps must be constant");
  const x = imp.tensor(data!, node, ["f32", "i32", "i64", "bool"]);
  const rank = x.dims.length + 1;
  const attrs = { axes: [] as number[], starts: [] as number[], counts: [] as number[], steps: [] as number[] };
  axes.forEach((axis, i) => {
    const a = axis < 0 ? axis + rank : axis;
    const step = steps[i]!;
    if (a === 0) {
      // The whole batch (x[:, ...]) is no slice at all; anything else would drop rows.
      if (starts[i] === 0 && ends[i]! >= INT_MAX && step === 1) return;
      imp.fail(node, "slicing the batch axis is not supported: rankfn scores every row");
    }
    const size = x.dims[a - 1];
    if (size === undefined) imp.fail(node, `axis ${axis} is out of range`);
    if (step === 0) imp.fail(node, "step must not be 0");
    const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v < 0 ? v + size : v));
    const start = step > 0 ? clamp(starts[i]!, 0, size) : clamp(starts[i]!, -1, size - 1);
    const end = step > 0 ? clamp(ends[i]!, 0, size) : clamp(ends[i]!, -1, size - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    attrs.axes.push(a);
    attrs.starts.push(count > 0 ? start : 0);
    attrs.counts.push(count);
    attrs.steps.push(step);
  });
  if (attrs.axes.length === 0) return imp.set(node.output![0]!, x);
  generalOut(imp, node, "slice_nd", [operand(imp, data!, node)], attrs);
}

export function gatherGeneral(imp: Importer, node: OnnxNode): void {
  const [data, indices] = node.input as [string, string];
  const axis = imp.intAttr(node, "axis", 0);
  const cd = imp.constant(data);
  const ci = imp.constant(indices);
  if (cd && ci && ci.t.dtype !== "f32") {
    // A constant table gathered by constant indices (a positional embedding by its range): fold.
    const a = axis < 0 ? axis + cd.dims.length : axis;
    const idx = valuesOf(ci.t).map((i) => (i < 0 ? i + cd.dims[a]! : i));
    if (idx.some((i) => i < 0 || i >= cd.dims[a]!)) imp.fail(node, `an index is outside [0, ${cd.dims[a]})`);
    const dims = [...cd.dims.slice(0, a), ...ci.dims, ...cd.dims.slice(a + 1)];
    const ds = strides(cd.dims);
    const k = ci.dims.length;
    return imp.setConst(node.output![0]!, constFrom(cd.t, dims, (o) => {
      const flatIdx = o.slice(a, a + k).reduce((acc, v, i) => acc * ci.dims[i]! + v, 0);
      const src = [...o.slice(0, a), idx[flatIdx]!, ...o.slice(a + k)];
      return src.reduce((acc, v, i) => acc + v * ds[i]!, 0);
    }), dims);
  }
  if (cd) imp.fail(node, "gathering rows of a constant by per-row ids needs a 2-D float table (an embedding lookup)");
  if (!ci || ci.t.dtype === "f32") imp.fail(node, "indices into a per-row tensor must be integer constants (per-row indices: GatherElements, i.e. torch.gather)");
  const idx = imp.weight(indices, { ...ci.t, shape: ci.dims.length ? ci.dims : [1] } as Tensor);
  generalOut(imp, node, "gather_axis", [operand(imp, data, node), idx], { axis, indexShape: ci.dims });
}

export function gatherElementsGeneral(imp: Importer, node: OnnxNode): void {
  const [data, idx] = node.input as [string, string];
  generalOut(imp, node, "gather_elements_nd", [operand(imp, data, node), operand(imp, idx, node)], { axis: imp.intAttr(node, "axis", 0) });
}

export function scatterNd(imp: Importer, node: OnnxNode): void {
  const [data, idx, upd] = node.input as [string, string, string];
  generalOut(imp, node, "scatter_nd", [operand(imp, data, node), operand(imp, idx, node), operand(imp, upd, node)], { reduction: imp.stringAttr(node, "reduction", "none") });
}

export function matmulGeneral(imp: Importer, node: OnnxNode): void {
  const [a, b] = node.input as [string, string];
  generalOut(imp, node, "batch_matmul", [operand(imp, a, node), operand(imp, b, node)]);
}

const identity: Converter = (imp, node) => imp.set(node.output![0]!, imp.get(node.input![0]!, node));

export const tensorConverters: Record<string, Converter> = {
  Expand: expand,
  ConstantOfShape: constantOfShape,
  Tile: tile,
  Split: split,
  ScatterND: scatterNd,
  Dropout: identity,
};

/** General forms of ops the shape/pattern converters try first (used when their patterns do not apply). */
export const tensorFallbacks: Record<string, Converter> = {
  Transpose: transposeGeneral,
  Concat: concatGeneral,
  Slice: sliceGeneral,
  Gather: gatherGeneral,
  GatherElements: gatherElementsGeneral,
  MatMul: matmulGeneral,
};

