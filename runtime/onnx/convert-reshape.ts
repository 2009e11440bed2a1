// Reshape-like ONNX ops (Reshape, Flatten, Squeeze, Unsqueeze): of per-row
// tensors they are views with new dims (the batch stays first, or keeps its
// place inside the shape: runtime/onnx/batch-layout.ts); of constants and
// shape values they fold; ids [N, L] flattened to [N·L] are PyTorch's
// EmbeddingBag input (convert-embedding.ts).
import type { Tensor } from "../tensor/tensor";
import { onnxShape, reshaped } from "./batch-layout";
import { type Converter, axesOf, axisOf, intConsts, intVec } from "./convert-shape";
import { materialize } from "./general";
import type { Importer, OnnxNode } from "./importer";
import { BATCH, type Sym, isConst, itemsOf, lengthOf, sym, symEq, symMul, symStr } from "./symbolic";
import type { TensorVal, Val } from "./values";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** Input 0 as a batch-first tensor (a value whose batch moved inside its shape is reshaped with Reshape, not here). */
function batchFirstTensor(imp: Importer, node: OnnxNode): TensorVal {
  const t = materialize(imp, node.input![0]!, node);
  if (t.layout) imp.fail(node, `the input holds the batch at axis ${t.layout.axis}; ${node.opType} of such values is not supported (use Reshape)`);
  return t;
}

export function setAlias(imp: Importer, out: string, x: TensorVal, dims: number[]): void {
  imp.set(out, { ...x, dims, parts: prod(dims) === prod(x.dims) && dims[0] === x.dims[0] ? x.parts : undefined });
}

// ------------------------------------------------------------------ reshapes

/** Resolve a Reshape target (0 copies the input dim, -1 is inferred) for a per-row tensor. */
function reshapeTensor(imp: Importer, node: OnnxNode, x: TensorVal, target: Sym[], out: string): void {
  const width = prod(x.dims);
  const allowZero = imp.intAttr(node, "allowzero", 0) === 1;
  const t = target.map((s, i) => (!allowZero && isConst(s) && s.c === 0 ? (i === 0 ? BATCH : sym(x.dims[i - 1] ?? 0)) : s));
  const rest = t.slice(1);
  const restConst = rest.every(isConst);
  if (t.length >= 1 && (symEq(t[0]!, BATCH) || (isConst(t[0]!) && t[0]!.c === -1 && restConst && prod(rest.map((s) => s.c)) === width)) && restConst) {
    const dims = rest.map((s) => s.c);
    const known = prod(dims.filter((d) => d !== -1));
    const holes = dims.filter((d) => d === -1).length;
    if (holes > 1 || (holes === 1 && width % known !== 0) || (holes === 0 && known !== width)) {
      imp.fail(node, `cannot reshape rows of [${x.dims.join(", ")}] to [N, ${dims.join(", ")}]`);
    }
    return setAlias(imp, out, x, dims.map((d) => (d === -1 ? width / known : d)));
  }
  const flat = t.length === 1 && ((isConst(t[0]!) && t[0]!.c === -1) || symEq(t[0]!, sym(0, width)));
  if (flat && x.dtype !== "f32") return imp.set(out, { kind: "flatIds", value: x.value, perRow: width, dtype: x.dtype });
  imp.fail(node, `reshape to [${t.map(symStr).join(", ")}] mixes the batch axis with features; rankfn keeps the batch first`);
}

function reshape(imp: Importer, node: OnnxNode): void {
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  if (v.kind === "sym" || v.kind === "const") return reshapeConst(imp, node, v, out);
  const target = intVec(imp, node.input![1]);
  const items = target && itemsOf(target.vec);
  if (!items) imp.fail(node, "the target shape must be computable when the model loads (constants and shape arithmetic)");
  if (v.kind === "tensor" && v.layout) imp.fail(node, "the batch is not first; the layout-aware reshape takes it");
  if (v.kind === "tensor") return reshapeTensor(imp, node, v, items, out);
  reshapeTensor(imp, node, materialize(imp, node.input![0]!, node), items, out);
}

/** Reshape/Flatten/Squeeze/Unsqueeze of a constant or an integer vector: same values, new dims. */
function reshapeConst(imp: Importer, node: OnnxNode, v: Extract<Val, { kind: "sym" | "const" }>, out: string, dims?: number[]): void {
  if (v.kind === "sym") {
    const len = lengthOf(v.vec);
    const scalar = dims ? dims.length === 0 : node.opType === "Squeeze" && (isConst(len) && len.c === 1);
    return imp.set(out, { kind: "sym", vec: v.vec, scalar });
  }
  let newDims = dims;
  if (!newDims) {
    const target = intConsts(imp, node.input![1]);
    if (!target) imp.fail(node, "the target shape of a constant must be constant");
    const count = prod(v.dims);
    const known = prod(target.map((d, i) => (d === 0 ? v.dims[i]! : d)).filter((d) => d !== -1));
    newDims = target.map((d, i) => (d === 0 ? v.dims[i]! : d === -1 ? count / known : d));
  }
  imp.setConst(out, { ...v.t, shape: newDims.length ? newDims : [1] } as Tensor, newDims);
}

function flatten(imp: Importer, node: OnnxNode): void {
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  const axis = imp.intAttr(node, "axis", 1);
  if (v.kind === "const") {
    const a = axis < 0 ? axis + v.dims.length : axis;
    return reshapeConst(imp, node, v, out, [prod(v.dims.slice(0, a)), prod(v.dims.slice(a))]);
  }
  const t = materialize(imp, node.input![0]!, node);
  if (t.layout) {
    // The batch inside the shape ([F, F, N] flattened to [F·F, N]): a view when the batch stays one factor of one axis.
    const shape = onnxShape(t);
    const a = axis < 0 ? axis + shape.length : axis;
    const size = (dims: Sym[]) => dims.reduce<Sym>((acc, d) => symMul(acc, d)!, sym(1));
    return movedReshape(imp, node, t, [size(shape.slice(0, a)), size(shape.slice(a))], out);
  }
  const a = axis < 0 ? axis + t.dims.length + 1 : axis;
  if (a !== 1) imp.fail(node, `only Flatten(axis=1) keeps the batch first (got axis ${axis})`);
  setAlias(imp, out, t, [prod(t.dims)]);
}

function squeeze(imp: Importer, node: OnnxNode): void {
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  const axes = axesOf(imp, node);
  if (v.kind === "sym") return reshapeConst(imp, node, v, out, axes || isConst(lengthOf(v.vec)) ? [] : undefined);
  if (v.kind === "const") {
    const rank = v.dims.length;
    const drop = new Set((axes ?? v.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + rank : a)));
    return reshapeConst(imp, node, v, out, v.dims.filter((_, i) => !drop.has(i)));
  }
  const m = materialize(imp, node.input![0]!, node);
  if (m.layout) {
    const shape = onnxShape(m);
    const drop = new Set((axes ?? shape.flatMap((d, i) => (isConst(d) && d.c === 1 ? [i] : []))).map((a) => (a < 0 ? a + shape.length : a)));
    return movedReshape(imp, node, m, shape.filter((_, i) => !drop.has(i)), out);
  }
  return squeezeTensor(imp, node, batchFirstTensor(imp, node), axes, out);
}

/** Squeeze/Unsqueeze of a value whose batch is not first: a reshape that keeps the batch where it is. */
function movedReshape(imp: Importer, node: OnnxNode, t: TensorVal, target: Sym[], out: string): void {
  const r = reshaped(t, target);
  if (typeof r === "string") imp.fail(node, r);
  imp.set(out, { ...t, dims: r.dims, layout: r.layout.axis === 0 && r.layout.outer === 1 && r.layout.inner === 1 ? undefined : r.layout, parts: undefined });
}

function squeezeTensor(imp: Importer, node: OnnxNode, v: TensorVal, axes: number[] | undefined, out: string): void {
  const rank = v.dims.length + 1;
  const drop = new Set((axes ?? v.dims.flatMap((d, i) => (d === 1 ? [i + 1] : []))).map((a) => axisOf(imp, node, a, rank)));
  for (const a of drop) if (v.dims[a - 1] !== 1) imp.fail(node, `axis ${a} has size ${v.dims[a - 1]}, not 1`);
  setAlias(imp, out, v, v.dims.filter((_, i) => !drop.has(i + 1)));
}

function unsqueeze(imp: Importer, node: OnnxNode): void {
  const v = imp.get(node.input![0]!, node);
  const out = node.output![0]!;
  const axes = axesOf(imp, node);
  if (!axes) imp.fail(node, "Unsqueeze needs axes");
  if (v.kind === "sym") return imp.set(out, { kind: "sym", vec: v.vec, scalar: false });
  if (v.kind === "const") {
    const rank = v.dims.length + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    const dims: number[] = [];
    for (let i = 0, j = 0; i < rank; i++) dims.push(at.has(i) ? 1 : v.dims[j++]!);
    return reshapeConst(imp, node, v, out, dims);
  }
  const m = materialize(imp, node.input![0]!, node);
  if (m.layout) {
    const shape = onnxShape(m);
    const full = shape.length + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + full : a)));
    const target: Sym[] = [];
    for (let i = 0, j = 0; i < full; i++) target.push(at.has(i) ? sym(1) : shape[j++]!);
    return movedReshape(imp, node, m, target, out);
  }
  const t = batchFirstTensor(imp, node);
  const rank = t.dims.length + 1 + axes.length;
  const at = new Set(axes.map((a) => axisOf(imp, node, a, rank)));
  const dims: number[] = [];
  for (let i = 1, j = 0; i < rank; i++) dims.push(at.has(i) ? 1 : t.dims[j++]!);
  setAlias(imp, out, t, dims);
}

export const reshapeConverters: Record<string, Converter> = {
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
};
