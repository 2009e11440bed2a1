// Converters for the arithmetic ops: GEMMs, elementwise (with constants
// broadcast along rows), activations, norms,
// reductions, Where with a constant condition, TopK and GatherElements.
import { type Tensor, tensor } from "../tensor/tensor";
import { type Converter, axesOf, axisOf, intConsts, intVec, setInts } from "./convert-shape";
import type { Importer, OnnxNode } from "./importer";
import { type Sym, elementwise, symAdd, symDiv, symMul, symSub } from "./symbolic";
import type { TensorVal } from "./values";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** A constant broadcast (numpy rules) over rows of `dims`: one value per column, or undefined if it varies by row. */
export function rowConstant(c: { t: Tensor; dims: number[] }, dims: number[]): Float32Array | undefined {
  const rank = dims.length + 1;
  if (c.dims.length > rank) return undefined;
  const cd = [...new Array(rank - c.dims.length).fill(1), ...c.dims];
  if (cd[0] !== 1 || cd.slice(1).some((d, i) => d !== 1 && d !== dims[i])) return undefined;
  const src = Array.from(c.t.data as ArrayLike<number | bigint>, Number);
  const width = prod(dims);
  const out = new Float32Array(width);
  const cStrides = cd.slice(1).map((d, i) => (d === 1 ? 0 : prod(cd.slice(i + 2))));
  const idx = new Array(dims.length).fill(0);
  for (let o = 0; o < width; o++) {
    let s = 0;
    for (let k = 0; k < dims.length; k++) s += idx[k]! * cStrides[k]!;
    out[o] = src[s]!;
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

function rowWeight(imp: Importer, node: OnnxNode, name: string, dims: number[], map = (x: number) => x): string {
  const c = imp.constant(name)!;
  const row = rowConstant(c, dims);
  if (!row) imp.fail(node, `constant "${name}" [${c.dims.join(", ")}] does not broadcast over rows of [N, ${dims.join(", ")}]`);
  return imp.derived(name, tensor("f32", [row.length], row.map(map)));
}

// ------------------------------------------------------------------ GEMMs

function matmul(imp: Importer, node: OnnxNode): void {
  const [a, b] = node.input as [string, string];
  const out = node.output![0]!;
  const w = imp.constant(b);
  const bv = imp.get(b, node);
  if (w) {
    const x = imp.tensor(a, node);
    if (w.dims.length !== 2 || w.t.dtype !== "f32") imp.fail(node, "the weight must be a 2-D float constant [k, n]");
    if (x.dims.length > 1 && prod(x.dims.slice(0, -1)) !== 1) imp.fail(node, `MatMul of rows [N, ${x.dims.join(", ")}] with a weight applies it per slot; only [N, k] inputs are supported`);
    if (x.dims.at(-1) !== w.dims[0]) imp.fail(node, `inner dimensions differ: ${x.dims.at(-1)} and ${w.dims[0]}`);
    return imp.emit("matmul", [x.value, imp.weight(b, w.t)], out, [...x.dims.slice(0, -1), w.dims[1]!], {}, node);
  }
  // A product of two activations is the general batched MatMul (converters.ts falls back to it).
  imp.fail(node, `the second operand is ${bv.kind === "tensor" ? "an activation" : "not a constant weight"}`);
}

function gemm(imp: Importer, node: OnnxNode): void {
  const [a, b, c] = node.input ?? [];
  if (imp.intAttr(node, "transA", 0) !== 0) imp.fail(node, "transA=1 is not supported");
  const w = imp.constant(b);
  if (!w || w.dims.length !== 2 || w.t.dtype !== "f32") imp.fail(node, "B must be a 2-D float constant");
  const alpha = imp.floatAttr(node, "alpha", 1);
  const beta = imp.floatAttr(node, "beta", 1);
  const transB = imp.intAttr(node, "transB", 0) === 1;
  const [r, cdim] = w.dims as [number, number];
  const n = transB ? r : cdim;
  const k = transB ? cdim : r;
  const src = w.t.data as Float32Array;
  const x = imp.tensor(a!, node);
  if (x.dims.length !== 1 || x.dims[0] !== k) imp.fail(node, `A has rows of [${x.dims.join(", ")}], B expects ${k}`);
  let weight: string;
  if (transB && alpha === 1) weight = imp.weight(b!, w.t);
  else {
    const wt = new Float32Array(n * k);
    for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) wt[j * k + l] = alpha * (transB ? src[j * k + l]! : src[l * n + j]!);
    weight = imp.derived(b!, tensor("f32", [n, k], wt));
  }
  const inputs = [x.value, weight];
  if (c) {
    if (!imp.constant(c)) imp.fail(node, "C must be a constant");
    inputs.push(rowWeight(imp, node, c, [n], (v) => beta * v));
  }
  imp.fired("Gemm -> linear");
  imp.emit("linear", inputs, node.output![0]!, [n], {}, node);
}

// ------------------------------------------------------------------ elementwise

const symOps: Record<string, (a: Sym, b: Sym) => Sym | undefined> = { Add: symAdd, Sub: symSub, Mul: symMul, Div: symDiv };

function binary(imp: Importer, node: OnnxNode): void {
  let [a, b] = node.input as [string, string];
  const out = node.output![0]!;
  const type = node.opType!;
  const op = type.toLowerCase();
  const ia = intVec(imp, a);
  const ib = intVec(imp, b);
  if (ia && ib) {
    const vec = elementwise(ia.vec, ib.vec, symOps[type]!);
    if (!vec) imp.fail(node, "this shape arithmetic cannot be computed when the model loads");
    return setInts(imp, out, vec, ia.scalar && ib.scalar);
  }
  const ca = imp.constant(a);
  const cb = imp.constant(b);
  if (ca && cb) imp.fail(node, "arithmetic between two float constants is not supported (fold it in the exporter)");
  if (ca) {
    const x = imp.tensor(b, node);
    if (type === "Add" || type === "Mul") [a, b] = [b, a];
    else if (type === "Sub") {
      // c − x = (−1)·x + c
      const neg = imp.temp("mul", [x.value, imp.derived(`${a}.neg`, tensor("f32", [prod(x.dims)], new Float32Array(prod(x.dims)).fill(-1)))], prod(x.dims));
      return imp.emit("add", [neg, rowWeight(imp, node, a, x.dims)], out, x.dims, {}, node);
    } else imp.fail(node, "dividing a constant by a tensor is not supported");
  }
  const x = imp.tensor(a, node);
  if (imp.constant(b)) return imp.emit(op, [x.value, rowWeight(imp, node, b, x.dims)], out, x.dims, {}, node);
  const y = imp.tensor(b, node);
  if (x.dims.join() === y.dims.join()) return imp.emit(op, [x.value, y.value], out, x.dims, {}, node);
  // Broadcasting between two activations is the general elementwise op (converters.ts falls back to it).
  imp.fail(node, `operands of [N, ${x.dims.join(", ")}] and [N, ${y.dims.join(", ")}] do not have the same shape`);
}

function unary(imp: Importer, node: OnnxNode): void {
  if (node.opType === "Gelu" && imp.stringAttr(node, "approximate", "none") !== "none") imp.fail(node, 'only approximate="none" (erf) is supported');
  const x = imp.tensor(node.input![0]!, node);
  imp.emit(node.opType!.toLowerCase(), [x.value], node.output![0]!, x.dims, {}, node);
}

function softmax(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node);
  const axis = axisOf(imp, node, imp.intAttr(node, "axis", -1), x.dims.length + 1);
  if (axis !== x.dims.length || prod(x.dims.slice(0, -1)) !== 1) imp.fail(node, `softmax over axis ${imp.intAttr(node, "axis", -1)} of [N, ${x.dims.join(", ")}]: only the last axis of [N, n] is supported`);
  imp.emit("softmax", [x.value], node.output![0]!, x.dims, {}, node);
}

function layerNorm(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node);
  const axis = axisOf(imp, node, imp.intAttr(node, "axis", -1), x.dims.length + 1);
  if (axis !== x.dims.length || prod(x.dims.slice(0, -1)) !== 1) imp.fail(node, "only a layer norm over the last axis of [N, n] is supported");
  const params = (node.input ?? []).slice(1, 3).filter(Boolean).map((w) => {
    if (!imp.constant(w)) imp.fail(node, `"${w}" must be a constant`);
    return rowWeight(imp, node, w, x.dims);
  });
  imp.emit("layer_norm", [x.value, ...params], node.output![0]!, x.dims, { eps: imp.floatAttr(node, "epsilon", 1e-5) }, node);
}

function batchNorm(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node);
  if (x.dims.length !== 1) imp.fail(node, "only a batch norm of [N, C] is supported");
  const params = (node.input ?? []).slice(1, 5).map((w) => {
    const c = imp.constant(w);
    if (!c || c.t.dtype !== "f32") imp.fail(node, `"${w}" must be a float constant`);
    return imp.weight(w, c.t);
  });
  imp.emit("batch_norm", [x.value, ...params], node.output![0]!, x.dims, { eps: imp.floatAttr(node, "epsilon", 1e-5) }, node);
}

// ------------------------------------------------------------------ reductions, selection


/** Where(cond, a, b) with a constant condition: a·m + b·(1 − m). */
function where(imp: Importer, node: OnnxNode): void {
  const [cond, a, b] = node.input as [string, string, string];
  const out = node.output![0]!;
  const c = imp.constant(cond);
  if (!c) imp.fail(node, "only a constant condition is supported (a per-row condition needs comparison ops rankfn does not import)");
  const shape = [imp.vals.get(a), imp.vals.get(b)].find((v) => v?.kind === "tensor") as TensorVal | undefined;
  if (!shape) imp.fail(node, "at least one branch must be a per-row tensor");
  const mask = rowConstant({ t: { ...c.t, dtype: "f32", data: Float32Array.from(c.t.data as ArrayLike<number | bigint>, Number) } as Tensor, dims: c.dims }, shape.dims);
  if (!mask) imp.fail(node, `the condition [${c.dims.join(", ")}] does not broadcast over rows of [N, ${shape.dims.join(", ")}]`);
  const width = mask.length;
  const inverse = mask.map((m) => (m ? 0 : 1));
  const m = mask.map((x) => (x ? 1 : 0));
  const ka = imp.constant(a);
  const kb = imp.constant(b);
  if (ka || kb) {
    // One branch constant: t·m_t + (constant restricted to the other positions).
    const [t, tm, k, km] = ka ? [b, inverse, a, m] : [a, m, b, inverse];
    const masked = imp.temp("mul", [imp.tensor(t, node).value, imp.derived(`${out}.mask`, tensor("f32", [width], tm))], width, {}, "where");
    const row = rowConstant(imp.constant(k)!, shape.dims);
    if (!row) imp.fail(node, `constant "${k}" does not broadcast over rows`);
    return imp.emit("add", [masked, imp.derived(`${out}.const`, tensor("f32", [width], row.map((r, i) => r * km[i]!)))], out, shape.dims, {}, node);
  }
  const ta = imp.tensor(a, node);
  const tb = imp.tensor(b, node);
  if (ta.dims.join() !== tb.dims.join()) imp.fail(node, "the branches must have the same shape");
  const pa = imp.temp("mul", [ta.value, imp.derived(`${out}.mask`, tensor("f32", [width], m))], width, {}, "where");
  const pb = imp.temp("mul", [tb.value, imp.derived(`${out}.inverse`, tensor("f32", [width], inverse))], width, {}, "where");
  imp.emit("add", [pa, pb], out, shape.dims, {}, node);
}

function topK(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node);
  const k = intConsts(imp, node.input![1]);
  if (!k || k.length !== 1) imp.fail(node, "K must be a constant");
  const axis = axisOf(imp, node, imp.intAttr(node, "axis", -1), x.dims.length + 1);
  if (axis !== x.dims.length || x.dims.length !== 1) imp.fail(node, "only TopK over the last axis of [N, n] is supported");
  if (imp.intAttr(node, "largest", 1) !== 1) imp.fail(node, "only largest=1 is supported");
  if (!(k[0]! >= 1 && k[0]! <= x.dims[0]!)) imp.fail(node, `K=${k[0]} is outside [1, ${x.dims[0]}]`);
  const [values = "", indices = ""] = node.output ?? [];
  // One node computes both (ONNX names an unused output "" or leaves it off).
  imp.emitOutputs("top_k", [x.value], [{ name: values, dims: [k[0]!], dtype: "f32" }, { name: indices, dims: [k[0]!], dtype: "i32" }], { k: k[0]! }, node);
}

function gatherElements(imp: Importer, node: OnnxNode): void {
  const x = imp.tensor(node.input![0]!, node);
  const idx = imp.tensor(node.input![1]!, node, ["i32", "i64"]);
  const axis = axisOf(imp, node, imp.intAttr(node, "axis", 0), x.dims.length + 1);
  if (x.dims.length !== 1 || idx.dims.length !== 1 || axis !== 1) imp.fail(node, "only GatherElements over axis 1 of [N, n] data and [N, k] indices is supported");
  imp.emit("gather_elements", [x.value, idx.value], node.output![0]!, idx.dims, {}, node);
}

export const denseConverters: Record<string, Converter> = {
  MatMul: matmul,
  Gemm: gemm,
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  Relu: unary,
  Sigmoid: unary,
  Tanh: unary,
  Gelu: unary,
  Softmax: softmax,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  Where: where,
  TopK: topK,
  GatherElements: gatherElements,
};
