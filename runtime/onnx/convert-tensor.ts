// Data-movement ONNX ops on the general tensor ops, with ONNX semantics on
// activations of any rank and dtype: Transpose (the batch stays first),
// Expand, Tile, Concat, Split, Slice over several axes and steps, Gather with
// constant indices, GatherElements, ScatterND, MatMul of two activations and
// ConstantOfShape. Constant-only subgraphs (a positional table gathered by a
// constant range, zeros of a per-row shape) fold when the model loads.
import { type Tensor, tensor } from "../tensor/tensor";
import { type Converter, intConsts, intVec } from "./convert-shape";
import { isBatchFirst, layoutOf, onnxRank, onnxShape, reshaped, storedAxis, transposed } from "./batch-layout";
import { commonLayout, general, generalOut, keepLayout, operand, shaped as operandOf } from "./general";
import { gru } from "./convert-recurrent";
import type { TensorVal } from "./values";
import type { Importer, OnnxNode } from "./importer";
import { BATCH, type Sym, isConst, itemsOf, symEq, symStr } from "./symbolic";
import { initializerTensor } from "./tensors";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const anyDType = ["f32", "i32", "i64", "bool"];
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
  // A dimension holding the batch (N, or N·H inside attention) becomes 1: the value is the same
  // everywhere, so it broadcasts over rows exactly (e.g. a GRU's zero state [1, N, H], a mask's zeros).
  if (items.some((s) => !isConst(s) && s.c !== 0)) imp.fail(node, "a dimension that depends on the batch size must be a multiple of it");
  const dims = items.map((s) => (isConst(s) ? s.c : 1));
  imp.setConst(node.output![0]!, constFrom(value, dims, () => 0), dims);
}

export function tile(imp: Importer, node: OnnxNode): void {
  const c = imp.constant(node.input![0]!);
  const items = itemsOf(intVec(imp, node.input![1])?.vec ?? { items: [] });
  if (c && items && items.length === c.dims.length && c.dims[0] === 1 && symEq(items[0]!, BATCH) && items.slice(1).every(isConst)) {
    // A constant row tiled N times (torch.arange(L).repeat(N, 1)): one row [1, ...] that broadcasts over the batch.
    const dims = [1, ...c.dims.slice(1).map((d, i) => d * items[i + 1]!.c)];
    const cs = strides(c.dims);
    return imp.setConst(node.output![0]!, constFrom(c.t, dims, (o) => o.reduce((acc, v, i) => acc + (v % c.dims[i]!) * cs[i]!, 0)), dims);
  }
  const repeats = intConsts(imp, node.input![1]);
  if (!repeats) imp.fail(node, "repeats must be constant");
  if (repeats[0] !== 1) imp.fail(node, `repeats[0] = ${repeats[0]} repeats the batch; rankfn keeps one row per candidate`);
  generalOut(imp, node, "tile", [operand(imp, node.input![0]!, node)], { repeats: repeats.slice(1) });
}

export function transposeGeneral(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64", "bool"], true);
  const rank = onnxRank(x);
  const perm = imp.intsAttr(node, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    imp.fail(node, `perm ${JSON.stringify(perm)} is not a permutation of the ${rank} axes of [${onnxShape(x).map(symStr).join(", ")}]`);
  }
  // The batch may move within the ONNX shape (attention works on [L, N, E]); rows stay batch-major.
  const t = transposed(x, perm);
  const out = node.output![0]!;
  const layout = isBatchFirst(t.layout) ? undefined : t.layout;
  if (t.storedPerm.every((p, i) => p === i)) return imp.set(out, { ...x, dims: t.dims, layout });
  const y = generalOut(imp, node, "transpose", [operand(imp, node.input![0]!, node)], { perm: [0, ...t.storedPerm.map((p) => p + 1)] });
  imp.set(out, { ...y, layout });
}

/** Reshape of a value whose batch is not first, or that moves the batch inside the shape (a free view when exact). */
export function reshapeGeneral(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, ["f32", "i32", "i64", "bool"], true);
  const target = intVec(imp, node.input![1]);
  const items = target && itemsOf(target.vec);
  if (!items) imp.fail(node, "the target shape must be computable when the model loads");
  const r = reshaped(x, items);
  if (typeof r === "string") imp.fail(node, `reshape to [${items.map(symStr).join(", ")}]: ${r}`);
  imp.set(node.output![0]!, { ...x, dims: r.dims, layout: isBatchFirst(r.layout) ? undefined : r.layout, parts: undefined });
}

export function concatGeneral(imp: Importer, node: OnnxNode): void {
  const ins = (node.input ?? []).filter(Boolean);
  if (ins.every((n) => imp.constant(n))) return concatConstants(imp, node, ins);
  for (const n of ins) if (imp.constant(n)) imp.fail(node, `input "${n}" is a constant: concatenating it with rows needs it expanded to the batch first`);
  const like = commonLayout(imp, ins, node);
  const axis = storedAxis(imp, node, imp.tensor(ins[0]!, node, anyDType, true), imp.intAttr(node, "axis", 1));
  keepLayout(imp, generalOut(imp, node, "concat_axis", ins.map((n) => operand(imp, n, node)), { axis }), node.output![0]!, like);
}

/** Concat of constants (exports without constant folding leave them) folds at load. */
function concatConstants(imp: Importer, node: OnnxNode, ins: string[]): void {
  const cs = ins.map((n) => imp.constant(n)!);
  const rank = cs[0]!.dims.length;
  const axis = imp.intAttr(node, "axis", 0) < 0 ? imp.intAttr(node, "axis", 0) + rank : imp.intAttr(node, "axis", 0);
  if (cs.some((c) => c.dims.length !== rank || c.t.dtype !== cs[0]!.t.dtype || c.dims.some((d, i) => i !== axis && d !== cs[0]!.dims[i]))) imp.fail(node, "the constants differ outside the concat axis");
  const dims = [...cs[0]!.dims];
  dims[axis] = cs.reduce((a, c) => a + c.dims[axis]!, 0);
  const outer = prod(dims.slice(0, axis));
  const inner = prod(dims.slice(axis + 1));
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const c of cs) {
      const chunk = c.dims[axis]! * inner;
      const data = c.t.data as ArrayLike<number | bigint>;
      for (let i = 0; i < chunk; i++) values.push(Number(data[o * chunk + i]!));
    }
  }
  const t = cs[0]!.t;
  const shape = dims.length ? dims : [1];
  const made = t.dtype === "f32" ? tensor("f32", shape, Float32Array.from(values)) : t.dtype === "bool" ? tensor("bool", shape, Uint8Array.from(values)) : t.dtype === "i32" ? tensor("i32", shape, Int32Array.from(values)) : tensor("i64", shape, BigInt64Array.from(values, BigInt));
  imp.setConst(node.output![0]!, made, dims);
}

export function split(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node, anyDType, true);
  const axis = storedAxis(imp, node, x, imp.intAttr(node, "axis", 0));
  const size = x.dims[axis - 1]!;
  const outs = node.output ?? [];
  let sizes = node.input?.[1] ? intConsts(imp, node.input[1]) : imp.intsAttr(node, "split");
  if (node.input?.[1] && !sizes) imp.fail(node, "split sizes must be constant");
  if (!sizes) {
    const parts = imp.intAttr(node, "num_outputs", outs.length);
    const each = Math.ceil(size / parts);
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, size - i * each)));
  }
  general(imp, "split", [operand(imp, node.input![0]!, node)], { axis, sizes }, node, ...outs).forEach((t, i) => keepLayout(imp, t, outs[i]!, x));
}

export function sliceGeneral(imp: Importer, node: OnnxNode): void {
  const [data, s, e, ax, st] = node.input ?? [];
  const starts = intConsts(imp, s);
  const ends = intConsts(imp, e);
  const axes = ax ? intConsts(imp, ax) : starts?.map((_, i) => i);
  const steps = st ? intConsts(imp, st) : starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps) imp.fail(node, "starts, ends, axes and steps must be constant");
  const c = imp.constant(data);
  if (c) return sliceConstant(imp, node, c, { starts, ends, axes, steps });
  const x = imp.tensor(data!, node, anyDType, true);
  const rank = onnxRank(x);
  const attrs = { axes: [] as number[], starts: [] as number[], counts: [] as number[], steps: [] as number[] };
  axes.forEach((onnxAxis, i) => {
    const step = steps[i]!;
    if ((onnxAxis < 0 ? onnxAxis + rank : onnxAxis) === layoutOf(x).axis) {
      // The whole batch (x[:, ...]) is no slice at all; anything else would drop rows.
      if (starts[i] === 0 && ends[i]! >= INT_MAX && step === 1) return;
      imp.fail(node, "slicing the batch axis is not supported: rankfn scores every row");
    }
    const a = storedAxis(imp, node, x, onnxAxis);
    const size = x.dims[a - 1]!;
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
  keepLayout(imp, generalOut(imp, node, "slice_nd", [operand(imp, data!, node)], attrs), node.output![0]!, x);
}

/** Slice of a constant (e.g. one of the q/k/v chunks of an attention's packed weight) folds at load. */
function sliceConstant(imp: Importer, node: OnnxNode, c: { t: Tensor; dims: number[] }, a: { starts: number[]; ends: number[]; axes: number[]; steps: number[] }): void {
  const rank = c.dims.length;
  const start = c.dims.map(() => 0);
  const step = c.dims.map(() => 1);
  const dims = [...c.dims];
  a.axes.forEach((axis, i) => {
    const ax = axis < 0 ? axis + rank : axis;
    const size = c.dims[ax]!;
    const st = a.steps[i]!;
    if (st === 0) imp.fail(node, "step must not be 0");
    const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v < 0 ? v + size : v));
    const s0 = st > 0 ? clamp(a.starts[i]!, 0, size) : clamp(a.starts[i]!, -1, size - 1);
    const e0 = st > 0 ? clamp(a.ends[i]!, 0, size) : clamp(a.ends[i]!, -1, size - 1);
    start[ax] = s0;
    step[ax] = st;
    dims[ax] = Math.max(0, Math.ceil((e0 - s0) / st));
  });
  const cs = strides(c.dims);
  imp.setConst(node.output![0]!, constFrom(c.t, dims, (o) => o.reduce((acc, v, k) => acc + (start[k]! + v * step[k]!) * cs[k]!, 0)), dims);
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
  const x = imp.tensor(data, node, anyDType, true);
  const l = layoutOf(x);
  if (!isBatchFirst(l) && ci.dims.length > 1) imp.fail(node, "gathering with a multi-dimensional index from a value whose batch is not first is not supported");
  const stored = storedAxis(imp, node, x, axis);
  const y = generalOut(imp, node, "gather_axis", [operand(imp, data, node), idx], { axis: stored, indexShape: ci.dims });
  if (isBatchFirst(l)) return;
  // A scalar index drops its axis: the batch moves one place left when that axis came before it.
  const a = axis < 0 ? axis + onnxRank(x) : axis;
  const moved = ci.dims.length === 0 && a < l.axis ? { ...l, axis: l.axis - 1 } : l;
  imp.set(node.output![0]!, { ...y, layout: isBatchFirst(moved) ? undefined : moved });
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
  const like = commonLayout(imp, [a, b], node);
  if (like) {
    // The batch may be A's row axis (m) when B is a constant: rows stay independent.
    const axis = layoutOf(like).axis;
    const rank = onnxRank(like);
    const aMoved = !imp.constant(a) && !isBatchFirst(layoutOf(imp.tensor(a, node, ["f32"], true)));
    if (axis === rank - 1 || (axis === rank - 2 && !(aMoved && imp.constant(b)))) imp.fail(node, "the batch is one of the contracted matrix axes");
  }
  // A constant operand is a matrix (or a stack of them), not an elementwise broadcast: it keeps its own shape.
  keepLayout(imp, generalOut(imp, node, "batch_matmul", [operand(imp, a, node), operand(imp, b, node)]), node.output![0]!, like);
}

/** Gemm the row-wise linear cannot take (A with its batch inside, e.g. attention's [L·N, E]): MatMul with αB(ᵀ), plus βC. */
export function gemmGeneral(imp: Importer, node: OnnxNode): void {
  const [a, b, c] = node.input ?? [];
  if (imp.intAttr(node, "transA", 0) !== 0) imp.fail(node, "transA=1 is not supported");
  const w = imp.constant(b);
  if (!w || w.dims.length !== 2 || w.t.dtype !== "f32") imp.fail(node, "B must be a 2-D float constant");
  const alpha = imp.floatAttr(node, "alpha", 1);
  const beta = imp.floatAttr(node, "beta", 1);
  const [r, k] = w.dims as [number, number];
  const transB = imp.intAttr(node, "transB", 0) === 1;
  const src = w.t.data as Float32Array;
  const [kk, n] = transB ? [k, r] : [r, k];
  const wt = new Float32Array(kk * n);
  for (let i = 0; i < kk; i++) for (let j = 0; j < n; j++) wt[i * n + j] = alpha * (transB ? src[j * k + i]! : src[i * n + j]!);
  const like = commonLayout(imp, [a!], node);
  const weight = imp.derived(b!, tensor("f32", [kk, n], wt));
  const product = generalOut(imp, c ? { ...node, output: [`${node.output![0]}:product`] } : node, "batch_matmul", [operand(imp, a!, node), weight]);
  if (!c) return void keepLayout(imp, product, node.output![0]!, like);
  const cc = imp.constant(c);
  if (!cc) imp.fail(node, "C must be a constant");
  const bias = `${c}:beta${imp.counter++}`;
  imp.setConst(bias, tensor("f32", cc.dims.length ? cc.dims : [1], Float32Array.from(cc.t.data as Float32Array, (x) => beta * x)), cc.dims);
  keepLayout(imp, generalOut(imp, node, "binary", [product.value, operand(imp, bias, node, like)], { op: "add" }), node.output![0]!, like);
}

/** Conv with 1×1 kernels (xDeepFM's CIN, channel mixing): per row, W [O, C] · x [C, spatial] + b. */
export function conv(imp: Importer, node: OnnxNode): void {
  const [xName, wName, bName] = node.input ?? [];
  const w = imp.constant(wName);
  if (!w || w.t.dtype !== "f32") imp.fail(node, "the weight must be a float constant");
  const ones = (name: string, fallback: number) => (imp.intsAttr(node, name) ?? [fallback]).every((v) => v === fallback);
  const pads = imp.intsAttr(node, "pads") ?? [0];
  if (w.dims.slice(2).some((d) => d !== 1) || !ones("strides", 1) || !ones("dilations", 1) || pads.some((p) => p !== 0) || imp.intAttr(node, "group", 1) !== 1) {
    imp.fail(node, "only 1×1 convolutions (kernel 1, stride 1, no padding, one group) are supported");
  }
  const x = imp.tensor(xName!, node);
  const [o, c] = w.dims as [number, number];
  if (x.dims[0] !== c) imp.fail(node, `the input has ${x.dims[0]} channels, the weight expects ${c}`);
  const spatial = x.dims.slice(1);
  const flat = shapedAs(imp, node, x, [c, prod(spatial)]);
  const weight = imp.derived(wName!, tensor("f32", [o, c], w.t.data as Float32Array));
  const sub = (suffix: string) => ({ ...node, output: [`${node.output![0]}:${suffix}`] });
  let y = generalOut(imp, bName ? sub("mixed") : node, "batch_matmul", [weight, flat]);
  if (bName) {
    const b = imp.constant(bName);
    if (!b) imp.fail(node, "the bias must be a constant");
    y = generalOut(imp, node, "binary", [y.value, imp.derived(bName, tensor("f32", [o, 1], b.t.data as Float32Array))], { op: "add" });
  }
  imp.set(node.output![0]!, { ...y, dims: [o, ...spatial] });
}

/** The rankfn value of x viewed with per-row dims `dims` (same elements). */
function shapedAs(imp: Importer, node: OnnxNode, x: TensorVal, dims: number[]): string {
  return operandOf(imp, { ...x, dims }, node);
}

const identity: Converter = (imp, node) => imp.set(node.output![0]!, imp.get(node.input![0]!, node));

export const tensorConverters: Record<string, Converter> = {
  Expand: expand,
  ConstantOfShape: constantOfShape,
  Tile: tile,
  Split: split,
  ScatterND: scatterNd,
  Dropout: identity,
  Conv: conv,
  GRU: gru,
};

/** General forms of ops the shape/pattern converters try first (used when their patterns do not apply). */
export const tensorFallbacks: Record<string, Converter> = {
  Transpose: transposeGeneral,
  Concat: concatGeneral,
  Slice: sliceGeneral,
  Gather: gatherGeneral,
  GatherElements: gatherElementsGeneral,
  MatMul: matmulGeneral,
  Reshape: reshapeGeneral,
  Gemm: gemmGeneral,
};

