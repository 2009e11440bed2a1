// Values whose ONNX shape does not have the batch first. Exporters move the
// batch inside attention (nn.MultiheadAttention works on [L, N, E] and
// [N·H, L, d]): rankfn still stores every value batch-major, one contiguous
// row per candidate, and remembers where the batch sits in the ONNX shape.
// The ONNX axis `axis` has size outer·N·inner; the stored row is the ONNX
// shape without that axis, with `outer` and `inner` (when > 1) in its place.
// Transposes and reshapes that keep N one factor of one axis stay exact
// (most are free views); an op along the batch axis itself is refused.
import type { Importer, OnnxNode } from "./importer";
import { BATCH, type Sym, isConst, sym } from "./symbolic";
import type { BatchLayout, TensorVal } from "./values";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

export const batchFirst: BatchLayout = { axis: 0, outer: 1, inner: 1 };
export const layoutOf = (t: TensorVal): BatchLayout => t.layout ?? batchFirst;
export const isBatchFirst = (l: BatchLayout): boolean => l.axis === 0 && l.outer === 1 && l.inner === 1;
const extra = (l: BatchLayout) => (l.outer > 1 ? 1 : 0) + (l.inner > 1 ? 1 : 0);

/** The ONNX rank of a value. */
export function onnxRank(t: TensorVal): number {
  return t.dims.length + 1 - extra(layoutOf(t));
}

/** The ONNX shape of a value (the batch axis symbolic). */
export function onnxShape(t: TensorVal): Sym[] {
  const l = layoutOf(t);
  const k = extra(l);
  const before = t.dims.slice(0, l.axis);
  const after = t.dims.slice(l.axis + k);
  const batch = isBatchFirst(l) ? BATCH : sym(0, l.outer * l.inner);
  return [...before.map((d) => sym(d)), batch, ...after.map((d) => sym(d))];
}

/** The stored (IR, full-rank) axis of ONNX axis `axis` of `t`; the batch axis is refused. */
export function storedAxis(imp: Importer, node: OnnxNode, t: TensorVal, axis: number): number {
  const l = layoutOf(t);
  const rank = onnxRank(t);
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) imp.fail(node, `axis ${axis} is out of range for rank ${rank}`);
  if (a === l.axis) imp.fail(node, `axis ${axis} holds the batch; rankfn scores rows independently, so no op may reduce or move it`);
  if (isBatchFirst(l)) return a;
  return a < l.axis ? a + 1 : a + extra(l);
}

/** The stored axes (row axes, 0-based) of the ONNX axes in order, the batch axis expanded to its outer/inner axes. */
function storedOrder(t: TensorVal): number[][] {
  const l = layoutOf(t);
  const k = extra(l);
  const rank = onnxRank(t);
  return Array.from({ length: rank }, (_, a) => {
    if (a === l.axis) return Array.from({ length: k }, (_, i) => l.axis + i);
    return [a < l.axis ? a : a - 1 + k];
  });
}

/** Transpose by an ONNX perm: the stored permutation (identity = a free view) and the new value's layout and dims. */
export function transposed(t: TensorVal, perm: number[]): { storedPerm: number[]; layout: BatchLayout; dims: number[] } {
  const l = layoutOf(t);
  const order = storedOrder(t);
  const storedPerm = perm.flatMap((a) => order[a]!);
  return { storedPerm, layout: { ...l, axis: perm.indexOf(l.axis) }, dims: storedPerm.map((p) => t.dims[p]!) };
}

/**
 * Reshape to an ONNX target (0 and -1 resolved here): the batch must stay one factor of one
 * axis, at the same place in the flat element order. The stored row is unchanged (a view);
 * returns the new layout and stored dims, or a reason.
 */
export function reshaped(t: TensorVal, target: Sym[]): { layout: BatchLayout; dims: number[] } | string {
  const l = layoutOf(t);
  const shape = onnxShape(t);
  const elements = prod(t.dims);
  // Elements between consecutive batch indices in the flat ONNX order.
  const step = l.inner * prod(shape.slice(l.axis + 1).map((s) => s.c));
  const resolved = target.map((s, i) => (isConst(s) && s.c === 0 ? shape[i] ?? s : s));
  const hole = (s: Sym) => isConst(s) && s.c === -1;
  const batchAt = resolved.findIndex((s) => s.n !== 0);
  const holeAt = resolved.findIndex(hole);
  if (batchAt >= 0 && holeAt >= 0) {
    // [-1, N]: the batch axis is the one naming N, and the -1 takes what is left of the row.
    const known = resolved[batchAt]!.n * prod(resolved.filter((s, i) => i !== batchAt && i !== holeAt).map((s) => s.c));
    if (known <= 0 || elements % known !== 0) return "the element count does not match";
    resolved[holeAt] = sym(elements / known);
  }
  const at = batchAt >= 0 ? batchAt : holeAt;
  if (at < 0) return "the target shape has no batch dimension";
  if (resolved.some((s, i) => i !== at && (!isConst(s) || s.c < 0))) return "only one dimension of the target may hold the batch";
  const right = prod(resolved.slice(at + 1).map((s) => s.c));
  const left = prod(resolved.slice(0, at).map((s) => s.c));
  if (step % right !== 0) return `the batch would be split across axes (it steps by ${step} elements, the axes after it hold ${right})`;
  const inner = step / right;
  const outer = elements / (left * inner * right);
  if (!Number.isInteger(outer) || outer < 1) return "the element count does not match";
  const s = resolved[at]!;
  if (!(isConst(s) && s.c === -1) && !(s.c === 0 && s.n === outer * inner)) return `dimension ${at} must be ${outer * inner}·N`;
  const layout = { axis: at, outer, inner };
  const dims = [...resolved.slice(0, at).map((x) => x.c), ...(outer > 1 ? [outer] : []), ...(inner > 1 ? [inner] : []), ...resolved.slice(at + 1).map((x) => x.c)];
  return { layout, dims };
}

/**
 * A constant's stored shape against a value of layout `l` and ONNX rank `rank`: its
 * (right-aligned) dims with the batch axis dropped (it must be 1 there) and 1s for outer/inner.
 */
export function storedConstDims(dims: number[], l: BatchLayout, rank: number): number[] | undefined {
  if (isBatchFirst(l) || dims.length <= rank - l.axis - 1) return dims;
  const full = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  if (full[l.axis] !== 1) return undefined;
  return [...full.slice(0, l.axis), ...new Array<number>(extra(l)).fill(1), ...full.slice(l.axis + 1)];
}
