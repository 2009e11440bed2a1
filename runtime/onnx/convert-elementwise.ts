// Elementwise ONNX ops on the general tensor ops, with ONNX semantics: numpy
// broadcasting between activations and constants, integer and bool
// arithmetic (ids computed on), comparisons and logic, Where with a runtime
// condition, Clip, Pow and Cast. Shape arithmetic (integers known when the
// model loads) still folds symbolically (convert-shape.ts).
import type { BinaryNdOp, UnaryOp } from "../ffi/tensor-op-codes";
import { tensor } from "../tensor/tensor";
import { type Converter, intVec, setInts } from "./convert-shape";
import { commonLayout, generalOut, keepLayout, operand, operandDType } from "./general";
import type { Importer, OnnxNode } from "./importer";
import { type Sym, elementwise, symAdd, symDiv, symMul, symSub } from "./symbolic";
import { foldConstants } from "./fold-elementwise";
import { ONNX } from "./tensors";

const binaryOps: Record<string, BinaryNdOp> = {
  Add: "add", Sub: "sub", Mul: "mul", Div: "div", Pow: "pow", Max: "max", Min: "min",
  Equal: "eq", Less: "lt", LessOrEqual: "le", Greater: "gt", GreaterOrEqual: "ge", And: "and", Or: "or", Xor: "xor",
};

const symOps: Record<string, (a: Sym, b: Sym) => Sym | undefined> = { Add: symAdd, Sub: symSub, Mul: symMul, Div: symDiv };

/** A binary op (Max/Min take any number of inputs: folded left to right). */
export function binaryGeneral(imp: Importer, node: OnnxNode): void {
  const type = node.opType!;
  const ins = (node.input ?? []).filter(Boolean);
  if (ins.length === 2 && symOps[type]) {
    const [ia, ib] = ins.map((n) => intVec(imp, n));
    const vec = ia && ib ? elementwise(ia.vec, ib.vec, symOps[type]!) : undefined;
    if (vec) return setInts(imp, node.output![0]!, vec, ia!.scalar && ib!.scalar);
  }
  if (ins.every((n) => imp.constant(n))) return foldOrFail(imp, node, ins);
  if (type === "Mod") return modulo(imp, node, ins);
  const op = binaryOps[type];
  if (!op) imp.fail(node, `no general form of ${type}`);
  if (ins.length === 1) return imp.set(node.output![0]!, imp.get(ins[0]!, node));
  const like = commonLayout(imp, ins, node);
  let acc = operand(imp, ins[0]!, node, like);
  for (let i = 1; i < ins.length; i++) {
    const last = i === ins.length - 1;
    const b = operand(imp, ins[i]!, node, like);
    const t = last ? generalOut(imp, node, "binary", [acc, b], { op }) : generalOut(imp, { ...node, output: [`${node.output![0]}:partial${i}`] }, "binary", [acc, b], { op });
    if (last) keepLayout(imp, t, node.output![0]!, like);
    acc = t.value;
  }
}

function foldOrFail(imp: Importer, node: OnnxNode, ins: string[]): void {
  const folded = foldConstants(node.opType!, ins.map((n) => imp.constant(n)!));
  if (!folded) imp.fail(node, "this operation on constants cannot be folded when the model loads");
  imp.setConst(node.output![0]!, folded.t, folded.dims);
}

function modulo(imp: Importer, node: OnnxNode, ins: string[]): void {
  const fmod = imp.intAttr(node, "fmod", 0) === 1;
  const like = commonLayout(imp, ins, node);
  keepLayout(imp, generalOut(imp, node, "binary", ins.map((n) => operand(imp, n, node, like)), { op: fmod ? "fmod" : "mod" }), node.output![0]!, like);
}

const unaryOps: Record<string, UnaryOp> = {
  Neg: "neg", Abs: "abs", Sqrt: "sqrt", Exp: "exp", Log: "log", Erf: "erf", Relu: "relu", Sigmoid: "sigmoid", Tanh: "tanh",
  Not: "not", Reciprocal: "reciprocal", Floor: "floor", Ceil: "ceil", Sign: "sign", Sin: "sin", Cos: "cos", Round: "round",
  IsNaN: "isnan", Softplus: "softplus", Gelu: "gelu",
};

export function unaryGeneral(imp: Importer, node: OnnxNode): void {
  const type = node.opType!;
  if (imp.constant(node.input![0]!)) return foldOrFail(imp, node, [node.input![0]!]);
  const x = operand(imp, node.input![0]!, node);
  const like = commonLayout(imp, [node.input![0]!], node);
  const emit = (attrs: Record<string, unknown>) => void keepLayout(imp, generalOut(imp, node, "unary", [x], attrs), node.output![0]!, like);
  if (type === "Gelu" && imp.stringAttr(node, "approximate", "none") !== "none") imp.fail(node, 'only approximate="none" (erf) is supported');
  if (type === "LeakyRelu") return emit({ op: "leaky_relu", alpha: imp.floatAttr(node, "alpha", 0.01) });
  if (type === "HardSigmoid") return emit({ op: "hardsigmoid", alpha: imp.floatAttr(node, "alpha", 0.2), beta: imp.floatAttr(node, "beta", 0.5) });
  const op = unaryOps[type];
  if (!op) imp.fail(node, `no general form of ${type}`);
  emit({ op });
}

const F32_MAX = 3.4028234663852886e38;

/** Clip(x, min, max) with constant bounds (absent: unbounded). */
export function clip(imp: Importer, node: OnnxNode): void {
  const bound = (i: number, fallback: number) => {
    const name = node.input?.[i];
    if (!name) return fallback;
    const c = imp.constant(name);
    if (!c || c.t.data.length !== 1) imp.fail(node, `bound "${name}" must be a scalar constant`);
    return Number(c.t.data[0]!);
  };
  const x = operand(imp, node.input![0]!, node);
  const like = commonLayout(imp, [node.input![0]!], node);
  keepLayout(imp, generalOut(imp, node, "unary", [x], { op: "clip", alpha: bound(1, -F32_MAX), beta: bound(2, F32_MAX) }), node.output![0]!, like);
}

export function whereGeneral(imp: Importer, node: OnnxNode): void {
  const [c, a, b] = node.input as [string, string, string];
  if ([c, a, b].every((n) => imp.constant(n))) return foldOrFail(imp, node, [c, a, b]);
  const like = commonLayout(imp, [c, a, b], node);
  keepLayout(imp, generalOut(imp, node, "where", [operand(imp, c, node, like), operand(imp, a, node, like), operand(imp, b, node, like)]), node.output![0]!, like);
}

const castTo: Record<number, "f32" | "i32" | "i64" | "bool"> = { [ONNX.FLOAT]: "f32", [ONNX.INT32]: "i32", [ONNX.INT64]: "i64", [ONNX.BOOL]: "bool" };

/** Cast of an activation (a constant or shape value is cast when the model loads: convert-shape.ts). */
export function castGeneral(imp: Importer, node: OnnxNode): void {
  const to = castTo[imp.intAttr(node, "to", 0)];
  if (!to) imp.fail(node, `cast to type ${imp.intAttr(node, "to", 0)} is not supported (float, int32, int64, bool)`);
  const name = node.input![0]!;
  const c = imp.constant(name);
  if (c) {
    const data = Array.from(c.t.data as ArrayLike<number | bigint>, Number);
    // An empty shape vector is stored with shape [1] and no data.
    const shape = data.length === c.t.shape.reduce((a, b) => a * b, 1) ? c.t.shape : [data.length];
    const t =
      to === "f32" ? tensor("f32", shape, Float32Array.from(data))
      : to === "bool" ? tensor("bool", shape, Uint8Array.from(data, (x) => (x ? 1 : 0)))
      : to === "i32" ? tensor("i32", shape, Int32Array.from(data, Math.trunc))
      : tensor("i64", shape, BigInt64Array.from(data, (x) => BigInt(Math.trunc(x))));
    return imp.setConst(node.output![0]!, t, c.dims);
  }
  if (operandDType(imp, name, node) === to) return imp.set(node.output![0]!, imp.get(name, node));
  keepLayout(imp, generalOut(imp, node, "cast", [operand(imp, name, node)], { to }), node.output![0]!, commonLayout(imp, [name], node));
}

/** PRelu(x, slope) = x < 0 ? slope·x : x (slope broadcast from the right). */
function prelu(imp: Importer, node: OnnxNode): void {
  const [xName, slopeName] = node.input as [string, string];
  const c = imp.constant(slopeName);
  if (c && c.t.dtype === "f32" && c.t.data.length === 1 && !imp.constant(xName)) {
    // nn.PReLU() (one slope): leaky_relu with that slope, one elementwise pass instead of lt/mul/where.
    const like = commonLayout(imp, [xName], node);
    const y = generalOut(imp, node, "unary", [operand(imp, xName, node)], { op: "leaky_relu", alpha: (c.t.data as Float32Array)[0]! });
    return void keepLayout(imp, y, node.output![0]!, like);
  }
  const x = operand(imp, xName, node);
  const slope = operand(imp, slopeName, node);
  const zero = imp.derived(`${node.output![0]}.zero`, tensor("f32", [1], new Float32Array(1)));
  const sub = (suffix: string) => ({ ...node, output: [`${node.output![0]}:${suffix}`] });
  const negative = generalOut(imp, sub("negative"), "binary", [x, zero], { op: "lt" });
  const scaled = generalOut(imp, sub("scaled"), "binary", [x, slope], { op: "mul" });
  generalOut(imp, node, "where", [negative.value, scaled.value, x]);
}

/** Trilu of a constant (a causal mask) folds when the model loads. */
function trilu(imp: Importer, node: OnnxNode): void {
  const c = imp.constant(node.input![0]);
  if (!c || c.dims.length < 2) imp.fail(node, "only Trilu of a constant matrix (e.g. a causal mask) is supported");
  const k = node.input?.[1] ? Number(imp.constant(node.input[1])?.t.data[0] ?? 0) : 0;
  const upper = imp.intAttr(node, "upper", 1) === 1;
  const [rows, cols] = c.dims.slice(-2) as [number, number];
  const data = (c.t.data as ArrayLike<number | bigint>);
  const out = Array.from(data, Number);
  for (let e = 0; e < out.length; e++) {
    const i = Math.floor(e / cols) % rows;
    const j = e % cols;
    const keep = upper ? j - i >= Number(k) : j - i <= Number(k);
    if (!keep) out[e] = 0;
  }
  const t = c.t.dtype === "f32" ? tensor("f32", c.t.shape, Float32Array.from(out)) : c.t.dtype === "bool" ? tensor("bool", c.t.shape, Uint8Array.from(out)) : c.t.dtype === "i32" ? tensor("i32", c.t.shape, Int32Array.from(out)) : tensor("i64", c.t.shape, BigInt64Array.from(out, BigInt));
  imp.setConst(node.output![0]!, t, c.dims);
}

export const elementwiseConverters: Record<string, Converter> = {
  ...Object.fromEntries(Object.keys(binaryOps).map((op) => [op, binaryGeneral])),
  Mod: binaryGeneral,
  ...Object.fromEntries(Object.keys(unaryOps).map((op) => [op, unaryGeneral])),
  LeakyRelu: unaryGeneral,
  HardSigmoid: unaryGeneral,
  Clip: clip,
  PRelu: prelu,
  Trilu: trilu,
  Where: whereGeneral,
  Cast: castGeneral,
};
