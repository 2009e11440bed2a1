// Constant folding at load for elementwise ONNX ops whose operands are all
// constants (exporters leave e.g. Equal(Constant, Constant) or Not of a
// constant mask behind even with do_constant_folding). Numpy broadcasting,
// ONNX dtype rules: comparisons give bool, the rest keep the operands' dtype.
import type { DType } from "../tensor/dtype";
import { type Tensor, tensor } from "../tensor/tensor";

type Const = { t: Tensor; dims: number[] };

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

const binary: Record<string, (a: number, b: number, int: boolean) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, int) => (int ? Math.trunc(a / b) : a / b),
  Pow: (a, b) => a ** b,
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Equal: (a, b) => Number(a === b),
  Less: (a, b) => Number(a < b),
  LessOrEqual: (a, b) => Number(a <= b),
  Greater: (a, b) => Number(a > b),
  GreaterOrEqual: (a, b) => Number(a >= b),
  And: (a, b) => Number(!!a && !!b),
  Or: (a, b) => Number(!!a || !!b),
  Xor: (a, b) => Number(!!a !== !!b),
};
const comparisons = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"]);

const unary: Record<string, (x: number) => number> = {
  Not: (x) => Number(!x),
  Neg: (x) => -x,
  Abs: Math.abs,
  Sqrt: Math.sqrt,
  Exp: Math.exp,
  Log: Math.log,
  Reciprocal: (x) => 1 / x,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Sign: Math.sign,
};

function make(dtype: DType, dims: number[], values: number[]): Const {
  const shape = dims.length ? dims : [1];
  const t =
    dtype === "f32" ? tensor("f32", shape, Float32Array.from(values))
    : dtype === "bool" ? tensor("bool", shape, Uint8Array.from(values))
    : dtype === "i32" ? tensor("i32", shape, Int32Array.from(values))
    : tensor("i64", shape, BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))));
  return { t, dims };
}

/** Fold op over constants, or undefined when the op is not foldable here or shapes do not broadcast. */
export function foldConstants(op: string, ins: Const[]): Const | undefined {
  if (ins.length === 1 && unary[op]) {
    const c = ins[0]!;
    return make(c.t.dtype, c.dims, Array.from(c.t.data as ArrayLike<number | bigint>, (x) => unary[op]!(Number(x))));
  }
  if (op === "Where" && ins.length === 3) return whereOf(ins[0]!, ins[1]!, ins[2]!);
  const f = binary[op];
  if (!f || ins.length !== 2) return undefined;
  const [a, b] = ins as [Const, Const];
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const da = pad(a.dims);
  const db = pad(b.dims);
  const out = da.map((x, i) => (x === 1 ? db[i]! : x));
  if (da.some((x, i) => x !== 1 && db[i] !== 1 && x !== db[i])) return undefined;
  const sa = da.map((x, i) => (x === 1 ? 0 : prod(da.slice(i + 1))));
  const sb = db.map((x, i) => (x === 1 ? 0 : prod(db.slice(i + 1))));
  const va = Array.from(a.t.data as ArrayLike<number | bigint>, Number);
  const vb = Array.from(b.t.data as ArrayLike<number | bigint>, Number);
  const int = a.t.dtype !== "f32";
  const n = prod(out);
  const values = new Array<number>(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      ia += idx[k]! * sa[k]!;
      ib += idx[k]! * sb[k]!;
    }
    values[o] = f(va[ia]!, vb[ib]!, int);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < out[k]!) break;
      idx[k] = 0;
    }
  }
  return make(comparisons.has(op) ? "bool" : a.t.dtype, out, values);
}

/** Where over constants: numpy broadcasting of all three, then each element picked (never multiplied: 0·(−inf) is NaN). */
function whereOf(c: Const, a: Const, b: Const): Const | undefined {
  const rank = Math.max(c.dims.length, a.dims.length, b.dims.length);
  const pad = (d: number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const all = [pad(c.dims), pad(a.dims), pad(b.dims)];
  const out = all[0]!.map((_, i) => Math.max(...all.map((d) => d[i]!)));
  if (all.some((d) => d.some((x, i) => x !== 1 && x !== out[i]))) return undefined;
  const strides = all.map((d) => d.map((x, i) => (x === 1 ? 0 : prod(d.slice(i + 1)))));
  const vals = [c, a, b].map((k) => Array.from(k.t.data as ArrayLike<number | bigint>, Number));
  const n = prod(out);
  const values = new Array<number>(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    const at = strides.map((s) => s.reduce((acc, st, k) => acc + st * idx[k]!, 0));
    values[o] = vals[0]![at[0]!] ? vals[1]![at[1]!]! : vals[2]![at[2]!]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < out[k]!) break;
      idx[k] = 0;
    }
  }
  return make(a.t.dtype, out, values);
}
