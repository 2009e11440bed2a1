// Parity cases of the general tensor kernels: every op x dtype over ranks 0..5,
// odd sizes, zero-sized dims, broadcast (0-stride) operands, permuted, padded
// and reversed (negative-stride) views, against tests/kernels/tensor-reference.ts.
import * as k from "../../../runtime/ffi";
import type { NdArray, NdDType } from "../../../runtime/ffi";
import { Rng } from "../../../runtime/tensor/random";
import { type ParityCase, tolerance } from "../parity";
import * as ref from "../tensor-reference";
import { axisCases } from "./tensor-axis";

type Layout = "contiguous" | "permuted" | "padded" | "reversed";

/** Deterministic values of a dtype: f32 in [-3, 3) with exact ties, ints in [lo, hi], bool 0/1. */
function values(dtype: NdDType, n: number, rng: Rng, lo = -20, hi = 20): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (dtype === "bool") return rng.int(2);
    if (dtype !== "f32") return lo + rng.int(hi - lo + 1);
    return i % 7 === 3 ? Math.round(rng.uniform(-6, 6)) / 2 : rng.uniform(-3, 3);
  });
}

function fill(dtype: NdDType, n: number, vals: number[]): NdArray["data"] {
  if (dtype === "i64") return BigInt64Array.from(vals, (v) => BigInt(v));
  if (dtype === "f32") return Float32Array.from(vals);
  if (dtype === "i32") return Int32Array.from(vals);
  return Uint8Array.from(vals);
}

/** An NdArray with the given logical values laid out as asked: the layouts the kernels must handle. */
export function makeNd(dtype: NdDType, shape: number[], vals: number[], layout: Layout = "contiguous"): NdArray {
  const n = k.numelOf(shape);
  if (layout === "contiguous" || shape.length === 0 || n === 0) return { dtype, shape, data: fill(dtype, n, vals) } as NdArray;
  if (layout === "permuted") {
    // Stored with the dims reversed (a transpose): strides of the reversed contiguous layout.
    const rev = [...shape].reverse();
    const cs = k.contiguous(rev).reverse();
    const store = new Array<number>(n);
    const lc = k.contiguous(shape);
    for (let f = 0; f < n; f++) {
      let off = 0;
      for (let d = 0; d < shape.length; d++) off += (Math.floor(f / lc[d]!) % shape[d]!) * cs[d]!;
      store[off] = vals[f]!;
    }
    return { dtype, shape, strides: cs, data: fill(dtype, n, store) } as NdArray;
  }
  // padded: every row 3 elements wider; reversed: additionally dim 0 walks backwards.
  const padded = [...shape];
  padded[padded.length - 1]! += 3;
  const ps = k.contiguous(padded);
  const total = k.numelOf(padded);
  const store = new Array<number>(total).fill(0);
  const lc = k.contiguous(shape);
  const reversed = layout === "reversed";
  for (let f = 0; f < n; f++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) {
      const i = Math.floor(f / lc[d]!) % shape[d]!;
      off += (reversed && d === 0 ? shape[0]! - 1 - i : i) * ps[d]!;
    }
    store[off] = vals[f]!;
  }
  const strides = ps.slice();
  if (reversed) strides[0] = -ps[0]!;
  return { dtype, shape, strides, offset: reversed ? (shape[0]! - 1) * ps[0]! : 0, data: fill(dtype, total, store) } as NdArray;
}

const tolOf = (dtype: NdDType) => (dtype === "f32" ? tolerance.f32 : 0);
const shapes: number[][] = [[], [1], [7], [3, 5], [2, 3, 4], [2, 1, 3, 5], [2, 3, 1, 2, 3], [0, 3], [33, 17], [4, 1031], [3, 9000]];
const layouts: Layout[] = ["contiguous", "permuted", "padded", "reversed"];
const nd = (t: NdArray) => ref.dense(t);

function unaryCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const byDtype: [NdDType, readonly k.UnaryOp[]][] = [
    ["f32", k.unaryOps.filter((o) => o !== "not")],
    ["i32", ["neg", "abs", "sign", "clip", "relu"]],
    ["i64", ["neg", "abs", "sign", "clip", "relu"]],
    ["bool", ["not"]],
  ];
  for (const [dtype, ops] of byDtype) {
    ops.forEach((op, oi) => {
      shapes.forEach((shape, si) => {
        const rng = new Rng(1000 + oi * 50 + si);
        const layout = layouts[(oi + si) % 4]!;
        const xv = values(dtype, k.numelOf(shape), rng);
        if (op === "isnan" && xv.length > 2) xv[1] = NaN;
        const x = makeNd(dtype, shape, xv, layout);
        const [alpha, beta] = op === "clip" ? [-1.4, 2.6] : op === "leaky_relu" ? [0.1, 0] : op === "hardsigmoid" ? [0.2, 0.5] : [0, 0];
        cases.push({
          op: `unary ${op}`, dtype, label: `[${shape}] ${layout}`, tol: op === "isnan" || dtype !== "f32" ? 0 : tolerance.f32,
          run: () => [nd(k.unaryNd({ op, x, alpha, beta }))],
          expected: () => [ref.dense(x).map((v) => ref.unaryRef(op, v, dtype !== "f32", alpha, beta))],
        });
      });
    });
  }
  return cases;
}

const broadcastPairs: [number[], number[]][] = [[[3, 5], [3, 5]], [[3, 5], [5]], [[3, 5], [3, 1]], [[2, 3, 4], [1, 3, 1]], [[], [4, 3]], [[5, 1, 4], [1, 6, 1]], [[0, 3], [3]], [[2, 2, 1, 3, 2], [2, 1, 3, 1]], [[7, 2000], [2000]], [[33, 17], [33, 17]]];

function binaryCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const byDtype: [NdDType, readonly k.BinaryNdOp[]][] = [
    ["f32", k.binaryNdOps.filter((o) => !["and", "or", "xor"].includes(o))],
    ["i32", k.binaryNdOps.filter((o) => !["and", "or", "xor"].includes(o))],
    ["i64", k.binaryNdOps.filter((o) => !["and", "or", "xor"].includes(o))],
    ["bool", ["eq", "and", "or", "xor"]],
  ];
  for (const [dtype, ops] of byDtype) {
    ops.forEach((op, oi) => {
      broadcastPairs.forEach(([sa, sb], pi) => {
        const rng = new Rng(5000 + oi * 40 + pi);
        const isInt = dtype === "i32" || dtype === "i64";
        const av = values(dtype, k.numelOf(sa), rng, op === "pow" ? -4 : -20, op === "pow" ? 4 : 20);
        // Integer divisors are never 0 (that is an error, tested in bad-input); integer exponents stay small.
        let bv = values(dtype, k.numelOf(sb), rng, op === "pow" ? -1 : -9, op === "pow" ? 5 : 9);
        if (isInt && ["div", "mod", "fmod"].includes(op)) bv = bv.map((v) => (v === 0 ? 3 : v));
        if (dtype === "f32" && op === "pow") bv = bv.map((v, i) => (i % 3 === 0 ? Math.round(v) : v));
        const a = makeNd(dtype, sa, av, layouts[pi % 4]);
        const b = makeNd(dtype, sb, bv, layouts[(pi + 1) % 4]);
        const shape = k.broadcastShapes([sa, sb], op);
        cases.push({
          op: `binary ${op}`, dtype, label: `[${sa}] op [${sb}]`, tol: ["eq", "lt", "le", "gt", "ge"].includes(op) ? 0 : tolOf(dtype),
          run: () => [nd(k.binaryNd({ op, a, b }))],
          expected: () => {
            const x = ref.broadcastDense(a, shape);
            const y = ref.broadcastDense(b, shape);
            return [x.map((v, i) => ref.binaryRef(op, v, y[i]!, isInt))];
          },
        });
      });
    });
  }
  return cases;
}

function whereCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const triples: [number[], number[], number[]][] = [[[3, 5], [3, 5], [3, 5]], [[3, 1], [5], [3, 5]], [[2, 1, 4], [3, 1], []], [[0, 2], [2], [2]], [[4, 3000], [3000], [4, 1]]];
  for (const dtype of ["f32", "i32", "i64", "bool"] as const) {
    triples.forEach(([sc, sa, sb], ti) => {
      const rng = new Rng(7000 + ti);
      const cond = makeNd("bool", sc, values("bool", k.numelOf(sc), rng), layouts[ti % 4]);
      const a = makeNd(dtype, sa, values(dtype, k.numelOf(sa), rng), layouts[(ti + 1) % 4]);
      const b = makeNd(dtype, sb, values(dtype, k.numelOf(sb), rng), layouts[(ti + 2) % 4]);
      const shape = k.broadcastShapes([sc, sa, sb], "where");
      cases.push({
        op: "where", dtype, label: `[${sc}] ? [${sa}] : [${sb}]`, tol: 0,
        run: () => [nd(k.whereNd({ cond, a, b }))],
        expected: () => {
          const c = ref.broadcastDense(cond, shape);
          const x = ref.broadcastDense(a, shape);
          const y = ref.broadcastDense(b, shape);
          return [c.map((v, i) => (v ? x[i]! : y[i]!))];
        },
      });
    });
  }
  return cases;
}

function castCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const dts = ["f32", "i32", "i64", "bool"] as const;
  for (const from of dts) {
    for (const to of dts) {
      [[], [5], [3, 7], [2, 3, 4], [37, 45], [2, 0, 3], [2, 3, 2, 5, 3]].forEach((shape, si) => {
        const rng = new Rng(9000 + si);
        const xv = values(from, k.numelOf(shape), rng).map((v) => (from === "f32" ? v * 17 : v));
        const x = makeNd(from, shape, xv, layouts[si % 4]);
        const yLayout = layouts[(si + 1) % 4]!;
        cases.push({
          op: from === to ? "copy" : "cast", dtype: from, label: `${from} -> ${to} [${shape}] x ${layouts[si % 4]}, y ${yLayout}`, tol: to === "f32" ? tolerance.f32 : 0,
          run: () => {
            const y = makeNd(to, shape, new Array(k.numelOf(shape)).fill(0), yLayout);
            k.castNd({ x, y });
            return [nd(y)];
          },
          expected: () => [ref.dense(x).map((v) => ref.castRef(v, to))],
        });
      });
    }
  }
  // The strided copies behind Transpose, Expand, Slice and Concat.
  const rng = new Rng(9500);
  const base = makeNd("f32", [6, 40, 33], values("f32", 6 * 40 * 33, rng));
  const views: [string, NdArray][] = [
    ["transpose (2,0,1)", { ...base, shape: [33, 6, 40], strides: [1, 1320, 33] }],
    ["transpose (0,2,1)", { ...base, shape: [6, 33, 40], strides: [1320, 1, 33] }],
    ["expand [6,1,33] -> [6,40,33]", { ...base, shape: [6, 40, 33], strides: [1320, 0, 1] }],
    ["slice step 2, reversed", { ...base, shape: [3, 20, 33], strides: [2640, -66, 1], offset: 39 * 33 }],
    ["scalar broadcast", { ...base, shape: [5, 7], strides: [0, 0], offset: 17 }],
  ];
  for (const [label, x] of views) {
    cases.push({ op: "copy", dtype: "f32", label, tol: 0, run: () => [nd(k.castNd({ x }))], expected: () => [ref.dense(x)] });
  }
  cases.push({
    op: "copy", dtype: "f32", label: "concat: into a column block of a wider output", tol: 0,
    run: () => {
      const y = k.ndArray("f32", [6, 50]);
      k.castNd({ x: { ...base, shape: [6, 33], strides: [1320, 1] }, y: { ...y, shape: [6, 33], strides: [50, 1], offset: 10 } });
      return [Array.from(y.data)];
    },
    expected: () => {
      const src = ref.dense({ ...base, shape: [6, 33], strides: [1320, 1] });
      return [Array.from({ length: 300 }, (_, f) => (f % 50 >= 10 && f % 50 < 43 ? src[Math.floor(f / 50) * 33 + (f % 50) - 10]! : 0))];
    },
  });
  return cases;
}

/** Every parity case of the general tensor kernels (elementwise and copies here, axis ops in tensor-axis.ts). */
export function tensorCases(): ParityCase[] {
  return [...unaryCases(), ...binaryCases(), ...whereCases(), ...castCases(), ...axisCases()];
}
