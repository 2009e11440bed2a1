// The DLRM dot interaction as exporters write it: T = concat(x, embs) viewed as
// [N, F, D]; Z = bmm(T, Tᵀ) [N, F, F]; then the strictly lower (or, with self
// interaction, the lower) triangle of Z, gathered either from Z flattened per
// row ([N, F·F] -> Gather(axis 1)) or in PyTorch's advanced-indexing form
// (Transpose to [F, F, N] -> Flatten to [F·F, N] -> Gather(axis 0) ->
// Transpose back). The whole chain becomes one dot_interaction kernel.
import { tensor } from "../tensor/tensor";
import type { Importer, OnnxNode } from "./importer";
import { BATCH, type Sym, isConst, sym, symEq } from "./symbolic";
import type { TensorVal, Val } from "./values";

type Pairwise = Extract<Val, { kind: "pairwise" }>;

/** MatMul(T, Transpose(T)) with T [N, F, D]. */
export function startPairwise(imp: Importer, node: OnnxNode, t: TensorVal, tt: Extract<Val, { kind: "transposed" }>, out: string): void {
  if (tt.of.value !== t.value || t.dims.length !== 2) imp.fail(node, "a product of two per-row matrices is supported only as bmm(T, Tᵀ) of the same T [N, F, D] (the DLRM interaction)");
  imp.set(out, { kind: "pairwise", x: t.value, f: t.dims[0]!, d: t.dims[1]!, stage: "nff" });
}

export function pairwiseShape(v: Pairwise): Sym[] {
  const { f } = v;
  switch (v.stage) {
    case "nff": return [BATCH, sym(f), sym(f)];
    case "nf2": return [BATCH, sym(f * f)];
    case "ffn": return [sym(f), sym(f), BATCH];
    case "pn": return [sym(v.pairs?.length ?? f * f), BATCH];
  }
}

export function pairwiseTranspose(imp: Importer, node: OnnxNode, v: Pairwise, perm: number[] | undefined, out: string): void {
  const p = perm?.join();
  if (v.stage === "nff" && p === "1,2,0") return imp.set(out, { ...v, stage: "ffn" });
  if (v.stage === "nff" && p === "0,2,1") return imp.set(out, v); // Z is symmetric
  if (v.stage === "pn" && v.pairs && (p === "1,0" || p === undefined)) return finish(imp, node, v, v.pairs, out);
  imp.fail(node, `transpose ${p} of the pairwise product bmm(T, Tᵀ) is not part of a supported DLRM interaction`);
}

/** Reshape/Flatten along the interaction chain; false when this reshape is not part of it (the product is then materialised). */
export function pairwiseReshape(imp: Importer, node: OnnxNode, v: Pairwise, target: Sym[] | undefined, out: string, flattenAxis?: number): boolean {
  const ff = v.f * v.f;
  const is = (s: Sym | undefined, c: number) => s !== undefined && isConst(s) && s.c === c;
  const batchOrHole = (s: Sym | undefined) => s !== undefined && (symEq(s, BATCH) || is(s, -1) || is(s, 0));
  if (v.stage === "nff" && ((flattenAxis === 1) || (target?.length === 2 && batchOrHole(target[0]) && (is(target[1], ff) || (is(target[1], -1) && !is(target[0], -1)))))) {
    imp.set(out, { ...v, stage: "nf2" });
    return true;
  }
  if (v.stage === "ffn" && (flattenAxis === 2 || (target?.length === 2 && (is(target[0], ff) || is(target[0], -1)) && (symEq(target[1]!, BATCH) || is(target[1], -1))))) {
    imp.set(out, { ...v, stage: "pn" });
    return true;
  }
  if (v.stage === "pn" && v.pairs && target?.length === 2 && (is(target[0], v.pairs.length) || is(target[0], -1)) && (symEq(target[1]!, BATCH) || is(target[1], -1) || is(target[1], 0))) {
    imp.set(out, v);
    return true;
  }
  if (v.stage !== "nff" && v.stage !== "nf2") imp.fail(node, "this reshape of the pairwise product bmm(T, Tᵀ) is not part of a supported DLRM interaction");
  return false;
}

/** Gather of the triangle: axis 1 of [N, F·F], or axis 0 of [F·F, N]. */
export function pairwiseGather(imp: Importer, node: OnnxNode, v: Pairwise, out: string): void {
  const axis = imp.intAttr(node, "axis", 0);
  const c = imp.constant(node.input![1]);
  if (!c || c.t.dtype === "f32" || c.dims.length !== 1) imp.fail(node, "the interaction's triangle must be gathered with a constant 1-D index list");
  const idx = Array.from(c.t.data as ArrayLike<number | bigint>, Number);
  if (v.stage === "nf2" && (axis === 1 || axis === -1)) return finish(imp, node, v, idx, out);
  if (v.stage === "pn" && !v.pairs && axis === 0) return imp.set(out, { ...v, pairs: idx });
  imp.fail(node, `gather over axis ${axis} of the pairwise product is not part of a supported DLRM interaction`);
}

/**
 * The gathered positions as pairs of the kernel's triangle: Z is symmetric, so (i, j) and
 * (j, i) are one pair; any order of the whole triangle works (TorchRec gathers the upper
 * triangle row by row, DLRM the lower one) — the kernel's output columns are permuted to it.
 */
function finish(imp: Importer, node: OnnxNode, v: Pairwise, idx: number[], out: string): void {
  const { f, d } = v;
  const pairs = idx.map((p) => [Math.floor(p / f), p % f] as const);
  const self = pairs.some(([i, j]) => i === j);
  // Kernel order: rows i ascending, j < i (j ≤ i with self interaction).
  const column = ([i, j]: readonly [number, number]) => {
    const [hi, lo] = i >= j ? [i, j] : [j, i];
    return self ? (hi * (hi + 1)) / 2 + lo : (hi * (hi - 1)) / 2 + lo;
  };
  const count = self ? (f * (f + 1)) / 2 : (f * (f - 1)) / 2;
  const columns = pairs.map(column);
  if (idx.some((p) => p < 0 || p >= f * f) || columns.length !== count || new Set(columns).size !== count) {
    imp.fail(node, `the gathered pairs are not the ${f}×${f} triangle (each pair i ≠ j once${self ? ", plus the diagonal" : ""}, in any order); rankfn's dot_interaction computes exactly that`);
  }
  const ordered = columns.every((c, k) => c === k);
  imp.fired(`bmm(T, Tᵀ) + triangular gather -> dot_interaction(f=${f}, d=${d}${self ? ", self" : ""})${ordered ? "" : " with its columns permuted to the gathered order"}`);
  if (ordered) return imp.emit("dot_interaction", [v.x], out, [idx.length], { f, d, self }, node);
  const dots = imp.temp("dot_interaction", [v.x], count, { f, d, self }, "interaction");
  const perm = imp.derived(`${out}.pairs`, tensor("i64", [count], BigInt64Array.from(columns, BigInt)));
  imp.emit("gather_axis", [dots, perm], out, [count], { axis: 1, indexShape: [count] }, node);
}
