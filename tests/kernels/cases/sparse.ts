// Parity cases of the sparse kernels: embedding bags over every table dtype,
// id dtype and pooling mode (empty bags, strided outputs, many tables in one
// call), and the MoE row gather / scatter-add.
import * as k from "../../../runtime/ffi";
import { dequantizeRowsU4, dequantizeRowsU8, fromBf16, fromF16, quantizeRowsU4, quantizeRowsU8, toBf16, toF16 } from "../../../runtime/tensor/quantize";
import { Rng } from "../../../runtime/tensor/random";
import { type Tensor, tensor } from "../../../runtime/tensor/tensor";
import * as ref from "../reference";
import { type ParityCase, tolerance } from "../parity";

type TableDType = "f32" | "f16" | "bf16" | "u8q" | "u4q";

/** A table in `dtype` plus the fp32 values every path must compute from. */
export function makeTable(dtype: TableDType, rows: number, dim: number, rng: Rng): { table: Tensor; values: Float32Array } {
  const raw = rng.floats(rows * dim);
  switch (dtype) {
    case "f32": return { table: tensor("f32", [rows, dim], raw), values: raw };
    case "f16": { const b = toF16(raw); return { table: tensor("f16", [rows, dim], b), values: fromF16(b) }; }
    case "bf16": { const b = toBf16(raw); return { table: tensor("bf16", [rows, dim], b), values: fromBf16(b) }; }
    case "u8q": { const q = quantizeRowsU8(raw, rows, dim); return { table: tensor("u8q", [rows, dim], q), values: dequantizeRowsU8(q, rows, dim) }; }
    // Odd dims leave the last byte's high nibble unused.
    case "u4q": { const q = quantizeRowsU4(raw, rows, dim); return { table: tensor("u4q", [rows, dim], q), values: dequantizeRowsU4(q, rows, dim) }; }
  }
}

/** Bags with the given sizes (0 = empty bag) of random ids. */
export function makeBags(sizes: number[], rows: number, idType: "i32" | "i64", rng: Rng): { ids: Tensor; offsets: Tensor; idValues: number[] } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const idValues = Array.from({ length: total }, () => rng.int(rows));
  const ids = idType === "i32" ? tensor("i32", [total], Int32Array.from(idValues)) : tensor("i64", [total], BigInt64Array.from(idValues, BigInt));
  const offsets = new BigInt64Array(sizes.length + 1);
  sizes.forEach((s, i) => (offsets[i + 1] = offsets[i]! + BigInt(s)));
  return { ids, offsets: tensor("i64", [sizes.length + 1], offsets), idValues };
}

function bagCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const dims = [1, 3, 17, 128, 130];
  const bagSizes = [3, 0, 1, 7, 2, 0, 40, 1];
  for (const dtype of ["f32", "f16", "bf16", "u8q", "u4q"] as const) {
    dims.forEach((dim, di) => {
      const rng = new Rng(di * 17 + dtype.length);
      const rows = 50 + di;
      const { table, values } = makeTable(dtype, rows, dim, rng);
      for (const idType of ["i32", "i64"] as const) {
        for (const mode of ["sum", "mean"] as const) {
          for (const weighted of [false, true]) {
            const { ids, offsets, idValues } = makeBags(bagSizes, rows, idType, rng);
            const weights = weighted ? tensor("f32", [idValues.length], rng.floats(idValues.length)) : undefined;
            cases.push({
              op: "embedding_bag",
              dtype,
              label: `dim=${dim} ids=${idType} ${mode}${weighted ? " weighted" : ""} (empty bags included)`,
              tol: tolerance.table,
              run: () => [k.embeddingBag({ table, ids, offsets, weights, mode }).data as Float32Array],
              expected: () => [ref.embeddingBagRef(values, dim, idValues, offsets.data as BigInt64Array, (weights?.data as Float32Array) ?? null, mode)],
            });
          }
        }
      }
      // Plain gather (one id per bag) into a column slice of a wider buffer.
      const { ids, offsets, idValues } = makeBags(Array(9).fill(1), rows, "i32", rng);
      const ld = dim + 5;
      cases.push({
        op: "embedding_bag",
        dtype,
        label: `dim=${dim} gather into a strided slice`,
        tol: tolerance.table,
        run: () => {
          const buf = new Float32Array(9 * ld).fill(7);
          k.embeddingBag({ table, ids, offsets, mode: "gather", out: { dtype: "f32", shape: [9, dim], strides: [ld, 1], data: buf.subarray(2) } });
          return [buf];
        },
        expected: () => {
          const want = new Float64Array(9 * ld).fill(7);
          const got = ref.embeddingBagRef(values, dim, idValues, offsets.data as BigInt64Array, null, "sum");
          for (let b = 0; b < 9; b++) for (let c = 0; c < dim; c++) want[b * ld + 2 + c] = got[b * dim + c]!;
          return [want];
        },
      });
    });
  }
  // Every table of a model in one call, writing one concatenated buffer.
  const rng = new Rng(99);
  const specs = [["f32", 8, 30], ["u8q", 16, 500], ["f16", 3, 7], ["bf16", 130, 64], ["u4q", 33, 70], ["f32", 128, 1000]] as const;
  const numBags = 11;
  const width = specs.reduce((a, [, dim]) => a + dim, 0);
  const tables = specs.map(([dtype, dim, rows], t) => {
    const tb = makeTable(dtype, rows, dim, rng);
    const sizes = Array.from({ length: numBags }, (_, b) => (b + t) % 4);
    return { ...tb, dim, ...makeBags(sizes, rows, t % 2 ? "i64" : "i32", rng), mode: (t % 2 ? "mean" : "sum") as "sum" | "mean" };
  });
  cases.push({
    op: "embedding_bags",
    dtype: "f32",
    label: `${specs.length} mixed-dtype tables into one [${numBags}, ${width}] buffer`,
    tol: tolerance.table,
    run: () => {
      const out = new Float32Array(numBags * width);
      let col = 0;
      k.embeddingBags(
        tables.map((t) => {
          const o: Tensor = { dtype: "f32", shape: [numBags, t.dim], strides: [width, 1], data: out.subarray(col) };
          col += t.dim;
          return { table: t.table, ids: t.ids, offsets: t.offsets, mode: t.mode, out: o };
        }),
      );
      return [out];
    },
    expected: () => {
      const want = new Float64Array(numBags * width);
      let col = 0;
      for (const t of tables) {
        const got = ref.embeddingBagRef(t.values, t.dim, t.idValues, t.offsets.data as BigInt64Array, null, t.mode);
        for (let b = 0; b < numBags; b++) for (let c = 0; c < t.dim; c++) want[b * width + col + c] = got[b * t.dim + c]!;
        col += t.dim;
      }
      return [want];
    },
  });
  return cases;
}

function moeCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const d of [1, 3, 17, 130]) {
    const rng = new Rng(d);
    const srcRows = 12;
    const src = tensor("f32", [srcRows, d], rng.floats(srcRows * d));
    const idx = Int32Array.from({ length: 20 }, () => rng.int(srcRows));
    const weights = tensor("f32", [20], rng.floats(20));
    for (const weighted of [false, true]) {
      const w = weighted ? weights : undefined;
      cases.push({
        op: "gather_rows",
        dtype: "f32",
        label: `d=${d} n=20${weighted ? " weighted" : ""}`,
        tol: tolerance.f32,
        run: () => [k.gatherRows({ src, idx: tensor("i32", [20], idx), weights: w }).data as Float32Array],
        expected: () => [ref.gatherRowsRef(src.data as Float32Array, d, idx, (w?.data as Float32Array) ?? null)],
      });
      // Combine 20 rows back into 5 (repeated indices accumulate).
      const rows = tensor("f32", [20, d], rng.floats(20 * d));
      const into = Int32Array.from({ length: 20 }, (_, i) => (i * 7) % 5);
      const dst0 = rng.floats(5 * d);
      cases.push({
        op: "scatter_add_rows",
        dtype: "f32",
        label: `d=${d} 20 -> 5 rows${weighted ? " weighted" : ""}`,
        tol: tolerance.f32,
        run: () => [k.scatterAddRows({ src: rows, idx: tensor("i32", [20], into), weights: w, dst: tensor("f32", [5, d], dst0.slice()) }).data as Float32Array],
        expected: () => [ref.scatterAddRowsRef(rows.data as Float32Array, d, into, (w?.data as Float32Array) ?? null, dst0)],
      });
    }
  }
  return cases;
}

export function sparseCases(): ParityCase[] {
  return [...bagCases(), ...moeCases()];
}
