// The batch-layout algebra the importer uses for values whose ONNX shape does
// not have the batch first (runtime/onnx/batch-layout.ts): which transposes are
// free, which reshapes keep the batch one factor of one axis, and where a
// constant's dims land in the stored row. Each case is checked against an
// explicit model: the flat ONNX index of every element of one batch row.
import { expect, test } from "bun:test";
import { onnxShape, reshaped, storedConstDims, transposed } from "../../runtime/onnx/batch-layout";
import { BATCH, sym } from "../../runtime/onnx/symbolic";
import type { TensorVal } from "../../runtime/onnx/values";

const t = (dims: number[], layout?: TensorVal["layout"]): TensorVal => ({ kind: "tensor", value: "x", dims, dtype: "f32", layout });

test("a transpose that only moves the batch is free; one that reorders the rest is a stored transpose", () => {
  // [N, L, E] -> [L, N, E] (nn.MultiheadAttention's first transpose): nothing moves in a row.
  const seqFirst = transposed(t([4, 6]), [1, 0, 2]);
  expect(seqFirst).toEqual({ storedPerm: [0, 1], layout: { axis: 1, outer: 1, inner: 1 }, dims: [4, 6] });
  expect(onnxShape(t(seqFirst.dims, seqFirst.layout))).toEqual([sym(4), BATCH, sym(6)]);
  // [L, N·H, d] -> [N·H, L, d]: the heads move in front of the sequence inside each row.
  const heads = transposed(t([4, 2, 3], { axis: 1, outer: 1, inner: 2 }), [1, 0, 2]);
  expect(heads).toEqual({ storedPerm: [1, 0, 2], layout: { axis: 0, outer: 1, inner: 2 }, dims: [2, 4, 3] });
});

test("reshapes keep the batch one factor of one axis, at the same place in the flat order, or are refused", () => {
  // [L, N, E] -> [L, N·H, d] and [L·N, E]: the batch's step in the flat order is E either way.
  const l = { axis: 1, outer: 1, inner: 1 };
  expect(reshaped(t([4, 6], l), [sym(4), sym(0, 2), sym(3)])).toEqual({ layout: { axis: 1, outer: 1, inner: 2 }, dims: [4, 2, 3] });
  expect(reshaped(t([4, 6], l), [sym(-1), sym(6)])).toEqual({ layout: { axis: 0, outer: 4, inner: 1 }, dims: [4, 6] });
  // And back: [L·N, E] -> [L, N, E].
  expect(reshaped(t([4, 6], { axis: 0, outer: 4, inner: 1 }), [sym(4), sym(-1), sym(6)])).toEqual({ layout: { axis: 1, outer: 1, inner: 1 }, dims: [4, 6] });
  // Batch-first [N, 6] -> [N, 2, 3] is the ordinary case.
  expect(reshaped(t([6]), [BATCH, sym(2), sym(3)])).toEqual({ layout: { axis: 0, outer: 1, inner: 1 }, dims: [2, 3] });
  // Splitting the batch's step across axes, or losing the batch, is refused with the reason.
  expect(reshaped(t([4, 6], l), [sym(4), sym(-1), sym(4)])).toMatch(/split across axes/);
  expect(reshaped(t([6]), [sym(2), sym(3)])).toBe("the target shape has no batch dimension");
});

/**
 * Row n of a value as stored: the flat ONNX indices of its elements, in the ONNX order of the
 * other axes (the model the layout describes). `dims` are the ONNX dims with the batch axis' own
 * size taken as outer·N·inner.
 */
function storedRow(onnxDims: number[], l: { axis: number; outer: number; inner: number }, N: number, n: number): number[] {
  const full = onnxDims.map((d, i) => (i === l.axis ? l.outer * N * l.inner : d));
  const count = full.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < count; flat++) {
    // The index along the batch axis, and its batch digit.
    const after = full.slice(l.axis + 1).reduce((a, b) => a * b, 1);
    const along = Math.floor(flat / after) % full[l.axis]!;
    if (Math.floor(along / l.inner) % N === n) out.push(flat);
  }
  return out;
}

test("an accepted reshape leaves every stored row as it was (it is a view), for several batch sizes", () => {
  const cases: { dims: number[]; layout: { axis: number; outer: number; inner: number }; target: (N: number) => number[] }[] = [
    { dims: [4, 0, 6], layout: { axis: 1, outer: 1, inner: 1 }, target: (N) => [4, N * 2, 3] }, // [L, N, E] -> [L, N·H, d]
    { dims: [4, 0, 6], layout: { axis: 1, outer: 1, inner: 1 }, target: (N) => [4 * N, 6] }, // -> [L·N, E]
    { dims: [0, 4, 3], layout: { axis: 0, outer: 1, inner: 2 }, target: (N) => [N, 2, 4, 3] }, // [N·H, L, d] -> [N, H, L, d]
  ];
  for (const c of cases) {
    const stored = c.dims.filter((_, i) => i !== c.layout.axis);
    const x = t([...stored.slice(0, c.layout.axis), ...(c.layout.outer > 1 ? [c.layout.outer] : []), ...(c.layout.inner > 1 ? [c.layout.inner] : []), ...stored.slice(c.layout.axis)], c.layout);
    const N0 = 3;
    const target = c.target(N0).map((d, i) => (d % N0 === 0 && c.target(5)[i] !== d ? sym(0, d / N0) : sym(d)));
    const r = reshaped(x, target);
    if (typeof r === "string") throw new Error(r);
    const newDims = c.target(N0).map((d, i) => (i === r.layout.axis ? 0 : d));
    for (const N of [1, 2, 5]) {
      for (let n = 0; n < N; n++) expect(storedRow(newDims, r.layout, N, n)).toEqual(storedRow(c.dims, c.layout, N, n));
    }
  }
});

test("constants broadcast against a moved value drop the batch axis (size 1) and keep the rest in stored order", () => {
  const l = { axis: 1, outer: 1, inner: 1 }; // [L, N, E]
  expect(storedConstDims([6], l, 3)).toEqual([6]);
  expect(storedConstDims([4, 1, 6], l, 3)).toEqual([4, 6]);
  expect(storedConstDims([4, 5, 6], l, 3)).toBeUndefined();
  // [N·H, L, L] scores: a [1, L, L] mask keeps its two trailing axes, the batch axis gets the heads' 1.
  expect(storedConstDims([1, 5, 5], { axis: 0, outer: 1, inner: 2 }, 3)).toEqual([1, 5, 5]);
});
