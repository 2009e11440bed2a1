// Shape rules of the general tensor ops: numpy broadcasting of per-row shapes
// (a weight operand has no batch axis and broadcasts over rows), axis
// normalisation in full rank (axis 0 is the batch, which no op may move or
// reduce), and the [outer, n, inner] view the axis kernels take.
import type { WeightSpec } from "./schema";

/** Elements of a shape. */
export const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * The per-row shape a weight contributes to broadcasting: a weight of full rank
 * keeps its batch dimension only when it is 1; undefined when it would vary by row.
 */
export function weightRowShape(spec: WeightSpec, fullRank: number): number[] | undefined {
  if (spec.shape.length < fullRank) return spec.shape;
  if (spec.shape.length > fullRank) return undefined;
  return spec.shape[0] === 1 ? spec.shape.slice(1) : undefined;
}

/** Numpy broadcasting of per-row shapes; undefined when two dims differ and neither is 1. */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      const d = s[i]!;
      if (out[at] === 1) out[at] = d;
      else if (d !== 1 && d !== out[at]) return undefined;
    }
  }
  return out;
}

/**
 * Element strides of a contiguous per-row operand of `shape` broadcast to `out`
 * (0 along broadcast axes), for the per-row axes only.
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const at = out.length - shape.length + i;
    strides[at] = shape[i] === 1 && out[at] !== 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

/** Contiguous element strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
}

/**
 * A full-rank axis (0 = batch, negative from the end) as a per-row axis index,
 * or a message why not (out of range, or the batch axis).
 */
export function rowAxis(axis: number, rowRank: number): number | string {
  const full = rowRank + 1;
  const a = axis < 0 ? axis + full : axis;
  if (a < 0 || a >= full) return `axis ${axis} is out of range for rank ${full}`;
  if (a === 0) return `axis ${axis} holds the batch; rankfn scores rows independently, so no op may reduce or move it`;
  return a - 1;
}

/** [outer, n, inner] around per-row axis `a` of one row (the kernel's outer also counts rows). */
export function aroundAxis(shape: readonly number[], a: number): { outer: number; n: number; inner: number } {
  return { outer: count(shape.slice(0, a)), n: shape[a]!, inner: count(shape.slice(a + 1)) };
}
