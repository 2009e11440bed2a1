// Parity cases of the axis ops of the general tensor kernels: reduce, softmax,
// batched matmul, gather / gather-elements / scatter-nd (negative indices),
// cumsum and top-k, over first / middle / last axes and odd sizes.
import * as k from "../../../runtime/ffi";
import type { NdArray } from "../../../runtime/ffi";
import { Rng } from "../../../runtime/tensor/random";
import { type ParityCase, tolerance } from "../parity";
import * as ref from "../tensor-reference";

const nums = (t: NdArray) => ref.dense(t);
const floats = (n: number, rng: Rng, lo = -3, hi = 3) => Array.from(rng.floats(n, lo, hi));
const ints = (n: number, rng: Rng, lo: number, hi: number) => Array.from({ length: n }, () => lo + rng.int(hi - lo + 1));
function nd(dtype: "f32" | "i32" | "i64" | "bool", shape: number[], v: number[]): NdArray {
  const data = dtype === "i64" ? BigInt64Array.from(v, (x) => BigInt(x)) : dtype === "f32" ? Float32Array.from(v) : dtype === "i32" ? Int32Array.from(v) : Uint8Array.from(v);
  return { dtype, shape, data } as NdArray;
}

const axisShapes: [number[], number][] = [[[7], 0], [[3, 5], 1], [[3, 5], 0], [[2, 3, 4], 1], [[4, 33, 17], 2], [[5, 2, 1, 3, 2], 3], [[2, 0, 3], 2], [[2, 3, 0], 1], [[3, 4100], 1], [[1100, 3], 0], [[2, 600, 7], 1]];

function reduceCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of ["f32", "i32", "i64"] as const) {
    const ops = dtype === "f32" ? k.reduceOps : (["sum", "max", "min", "prod", "argmax", "argmin"] as const);
    for (const op of ops) {
      axisShapes.forEach(([shape, axis], si) => {
        const n = shape[axis]!;
        if (n === 0 && ["mean", "max", "min", "argmax", "argmin"].includes(op)) return;
        const count = k.numelOf(shape);
        if (op === "prod" && count > 200) return;
        const rng = new Rng(11000 + si);
        const positive = op === "log_sum" || op === "prod";
        const v = dtype === "f32" ? floats(count, rng, positive ? 0.5 : -3, positive ? 1.5 : 3).map((x, i) => (i % 5 === 2 ? Math.round(x) : x)) : ints(count, rng, op === "prod" ? -2 : -50, op === "prod" ? 2 : 50);
        const x = nd(dtype, shape, v);
        const [outer, len, inner] = k.splitAtAxis(shape, axis);
        cases.push({
          op: `reduce ${op}`, dtype, label: `[${shape}] axis ${axis}`, tol: dtype === "f32" && !op.startsWith("arg") ? tolerance.f32 : 0,
          run: () => [nums(k.reduceAxis({ op, x, axis }))],
          expected: () => [ref.reduceRef(op, v.map(Math.fround), outer, len, inner)],
        });
      });
    }
  }
  for (const log of [false, true]) {
    axisShapes.forEach(([shape, axis], si) => {
      const rng = new Rng(12000 + si);
      const v = floats(k.numelOf(shape), rng, -8, 8);
      const x = nd("f32", shape, v);
      const [outer, len, inner] = k.splitAtAxis(shape, axis);
      cases.push({
        op: log ? "log_softmax axis" : "softmax axis", dtype: "f32", label: `[${shape}] axis ${axis}`, tol: tolerance.f32,
        run: () => [nums(k.softmaxAxis({ x, axis, log }))],
        expected: () => [ref.softmaxRef(v.map(Math.fround), outer, len, inner, log)],
      });
    });
  }
  return cases;
}

/** A logical [.., rows, cols] f32 matrix stored transposed (column-major in its last two dims). */
function transposedView(shape: number[], v: number[]): NdArray {
  const r = shape.length;
  const rows = shape[r - 2]!;
  const cols = shape[r - 1]!;
  const batch = k.numelOf(shape.slice(0, -2));
  const store = new Float32Array(v.length);
  for (let p = 0; p < batch; p++) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) store[p * rows * cols + j * rows + i] = v[p * rows * cols + i * cols + j]!;
  const strides = k.contiguous(shape);
  strides[r - 2] = 1;
  strides[r - 1] = rows;
  return { dtype: "f32", shape, strides, data: store };
}

function matmulCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const dims: [number[], number[]][] = [[[1, 1], [1, 1]], [[3, 5], [5, 7]], [[2, 9, 17], [2, 17, 33]], [[4, 1, 64], [4, 64, 20]], [[3, 2, 13, 8], [3, 2, 8, 19]], [[5, 7, 3], [3, 18]], [[6, 4], [2, 4, 37]], [[2, 3, 0], [2, 0, 5]], [[0, 3, 4], [0, 4, 2]], [[2, 70, 45], [2, 45, 50]]];
  dims.forEach(([sa, sb], di) => {
    for (const variant of ["plain", "b transposed", "a transposed, beta"] as const) {
      const rng = new Rng(13000 + di * 3);
      const av = floats(k.numelOf(sa), rng);
      const bv = floats(k.numelOf(sb), rng);
      const a = variant === "a transposed, beta" ? transposedView(sa, av) : nd("f32", sa, av);
      const b = variant === "b transposed" ? transposedView(sb, bv) : nd("f32", sb, bv);
      const m = sa.at(-2)!;
      const kk = sa.at(-1)!;
      const n = sb.at(-1)!;
      const batchShape = sa.length >= sb.length ? sa.slice(0, -2) : sb.slice(0, -2);
      const batch = k.numelOf(batchShape);
      const beta = variant === "a transposed, beta" ? 0.5 : 0;
      const y0 = floats(batch * m * n, rng);
      cases.push({
        op: "matmul batched", dtype: "f32", label: `[${sa}] x [${sb}] ${variant}`, tol: tolerance.f32,
        run: () => {
          const y = beta ? nd("f32", [...batchShape, m, n], y0) : undefined;
          return [nums(k.matmulBatched({ a, b, y, beta }))];
        },
        expected: () => [ref.matmulRef(av.map(Math.fround), k.numelOf(sa.slice(0, -2)), bv.map(Math.fround), k.numelOf(sb.slice(0, -2)), batch, m, n, kk, beta, y0.map(Math.fround))],
      });
    }
  });
  return cases;
}

function indexCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of ["f32", "i32", "i64", "bool"] as const) {
    for (const idxType of ["i32", "i64"] as const) {
      axisShapes.forEach(([shape, axis], si) => {
        const rng = new Rng(14000 + si);
        const count = k.numelOf(shape);
        const v = dtype === "f32" ? floats(count, rng) : dtype === "bool" ? ints(count, rng, 0, 1) : ints(count, rng, -99, 99);
        const x = nd(dtype, shape, v);
        const [outer, len, inner] = k.splitAtAxis(shape, axis);
        const idxShape = si % 2 ? [2, 3] : [5];
        const idx = len === 0 ? [] : ints(k.numelOf(idxShape), rng, -len, len - 1);
        const gatherShape = len === 0 ? [0] : idxShape;
        const indices = nd(idxType, gatherShape, idx);
        cases.push({
          op: "gather axis", dtype, label: `[${shape}] axis ${axis} ${idxType} idx [${gatherShape}]`, tol: 0,
          run: () => [nums(k.gatherAxis({ x, axis, indices }))],
          expected: () => [ref.gatherRef(v.map((t) => (dtype === "f32" ? Math.fround(t) : t)), outer, len, inner, idx, false, idx.length)],
        });
        if (len > 0) {
          // GatherElements with an axis of 3 outputs per input row.
          const eShape = shape.map((d, i) => (i === axis ? 3 : d));
          const eIdx = ints(k.numelOf(eShape), rng, -len, len - 1);
          const eIndices = nd(idxType, eShape, eIdx);
          cases.push({
            op: "gather elements", dtype, label: `[${shape}] axis ${axis} ${idxType}`, tol: 0,
            run: () => [nums(k.gatherElements({ x, axis, indices: eIndices }))],
            expected: () => [ref.gatherElementsRef(v.map((t) => (dtype === "f32" ? Math.fround(t) : t)), outer, len, 3, inner, eIdx)],
          });
        }
      });
      // idx_per_outer = 1 (a per-row index tensor), through the raw symbol.
      const rng = new Rng(14500);
      const xv = dtype === "f32" ? floats(4 * 9 * 3, rng) : ints(4 * 9 * 3, rng, 0, 1);
      const idxv = ints(4 * 5, rng, -9, 8);
      cases.push({
        op: "gather axis", dtype, label: `idx_per_outer ${idxType}`, tol: 0,
        run: () => {
          const y = k.ndArray(dtype, [4, 5, 3]);
          const xt = nd(dtype, [4, 9, 3], xv);
          const it = nd(idxType, [20], idxv);
          k.check(k.loadLibrary().symbols.rf_gather_axis(null, k.ndDTypes[dtype], 4, 9, 3, xt.data, it.data, k.ndDTypes[idxType], 5, 1, y.data), "rf_gather_axis");
          return [nums(y)];
        },
        expected: () => [ref.gatherRef(xv.map((t) => (dtype === "f32" ? Math.fround(t) : t)), 4, 9, 3, idxv, true, 5)],
      });
    }
  }
  for (const dtype of ["f32", "i32", "i64"] as const) {
    for (const reduction of k.scatterReductions) {
      const configs: [number[], number, number][] = [[[9], 1, 6], [[4, 5], 1, 7], [[4, 5], 2, 9], [[3, 4, 6], 2, 5], [[3, 4, 6], 3, 30], [[2, 3, 2, 4, 3], 2, 4], [[5, 0], 1, 3]];
      configs.forEach(([shape, depth, updatesCount], ci) => {
        const rng = new Rng(15000 + ci);
        const data = dtype === "f32" ? floats(k.numelOf(shape), rng) : ints(k.numelOf(shape), rng, -9, 9);
        const idx: number[] = [];
        for (let u = 0; u < updatesCount; u++) for (let d = 0; d < depth; d++) idx.push(-shape[d]! + rng.int(2 * shape[d]!));
        const sliceShape = shape.slice(depth);
        const upd = dtype === "f32" ? floats(updatesCount * k.numelOf(sliceShape), rng) : ints(updatesCount * k.numelOf(sliceShape), rng, -3, 3);
        const idxType = ci % 2 ? "i32" : "i64";
        cases.push({
          op: `scatter nd ${reduction}`, dtype, label: `[${shape}] depth ${depth} x${updatesCount} (duplicates) ${idxType}`, tol: dtype === "f32" ? tolerance.f32 : 0,
          run: () => [nums(k.scatterNd({ data: nd(dtype, shape, data), indices: nd(idxType, [updatesCount, depth], idx), updates: nd(dtype, [updatesCount, ...sliceShape], upd), reduction }))],
          expected: () => [ref.scatterNdRef(data.map(Math.fround), shape, idx, depth, upd.map(Math.fround), reduction)],
        });
      });
    }
    for (const exclusive of [false, true]) {
      for (const reverse of [false, true]) {
        axisShapes.forEach(([shape, axis], si) => {
          const rng = new Rng(16000 + si);
          const v = dtype === "f32" ? floats(k.numelOf(shape), rng) : ints(k.numelOf(shape), rng, -99, 99);
          const [outer, len, inner] = k.splitAtAxis(shape, axis);
          cases.push({
            op: "cumsum axis", dtype, label: `[${shape}] axis ${axis}${exclusive ? " exclusive" : ""}${reverse ? " reverse" : ""}`, tol: dtype === "f32" ? tolerance.f32 : 0,
            run: () => [nums(k.cumsumAxis({ x: nd(dtype, shape, v), axis, exclusive, reverse }))],
            expected: () => [ref.cumsumRef(v.map(Math.fround), outer, len, inner, exclusive, reverse)],
          });
        });
      }
    }
  }
  for (const largest of [true, false]) {
    axisShapes.forEach(([shape, axis], si) => {
      const n = shape[axis]!;
      for (const kk of [...new Set([0, 1, Math.min(3, n), n, Math.min(n, 70)])]) {
        const rng = new Rng(17000 + si);
        // Rounded values make ties; a few NaNs rank above every number.
        const v = floats(k.numelOf(shape), rng).map((t, i) => (i % 11 === 4 ? NaN : Math.round(t * 4) / 4));
        const [outer, len, inner] = k.splitAtAxis(shape, axis);
        cases.push({
          op: "topk axis", dtype: "f32", label: `[${shape}] axis ${axis} k ${kk} ${largest ? "largest" : "smallest"}`, tol: 0,
          run: () => {
            const r = k.topkAxis({ x: nd("f32", shape, v), axis, k: kk, largest });
            return [nums(r.values), nums(r.indices)];
          },
          expected: () => {
            const r = ref.topkRef(v, outer, len, inner, kk, largest);
            return [r.values, r.indices];
          },
        });
      }
    });
  }
  return cases;
}

/** Every axis-op case. */
export function axisCases(): ParityCase[] {
  return [...reduceCases(), ...matmulCases(), ...indexCases()];
}
