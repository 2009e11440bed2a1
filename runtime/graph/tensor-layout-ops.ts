// General tensor ops with ONNX semantics, data-movement half: reshape,
// transpose, expand, tile, concat, split, slice, gather (constant indices
// shared by every row), gather_elements (per-row indices) and scatter_nd on
// activations of any dtype. Shapes are per row and every attribute that
// names an axis counts the batch as axis 0; none of these may move it.
import { z } from "zod";
import { activation, axisAttr, dtypeOf, failNode, indexDTypes, tensorDTypes } from "./op-inputs";
import type { OpDef, OpInput } from "./ops";
import type { Node } from "./schema";
import { broadcastShapes, count } from "./tensor-shapes";

const dims = z.array(z.number().int().nonnegative()).max(7);
const axis = z.number().int();

/** Same elements, new per-row shape (free: the output shares the input's storage). */
const reshape: OpDef<{ shape: number[] }> = {
  attrs: z.object({ shape: dims }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    if (count(a.shape) !== count(x.shape)) failNode(node, `cannot reshape rows of [${x.shape.join(", ")}] (${count(x.shape)} elements) to [${a.shape.join(", ")}]`);
    return [{ dtype: x.dtype, shape: a.shape }];
  },
};

/** perm in full rank; perm[0] must be 0 (the batch stays first). */
const transpose: OpDef<{ perm: number[] }> = {
  attrs: z.object({ perm: z.array(z.number().int().nonnegative()) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const rank = x.shape.length + 1;
    if (a.perm.length !== rank || [...a.perm].sort((p, q) => p - q).some((p, i) => p !== i)) failNode(node, `perm ${JSON.stringify(a.perm)} is not a permutation of ${rank} axes`);
    if (a.perm[0] !== 0) failNode(node, `perm ${JSON.stringify(a.perm)} moves the batch axis; rankfn keeps the batch first`);
    return [{ dtype: x.dtype, shape: a.perm.slice(1).map((p) => x.shape[p - 1]!) }];
  },
};

/** ONNX Expand to a per-row target shape (numpy broadcasting both ways). */
const expand: OpDef<{ shape: number[] }> = {
  attrs: z.object({ shape: dims }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const shape = broadcastShapes([x.shape, a.shape]);
    if (!shape) failNode(node, `rows of [${x.shape.join(", ")}] do not broadcast to [${a.shape.join(", ")}]`);
    return [{ dtype: x.dtype, shape }];
  },
};

/** ONNX Tile with per-row repeats (the batch is repeated once). */
const tile: OpDef<{ repeats: number[] }> = {
  attrs: z.object({ repeats: z.array(z.number().int().positive()) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    if (a.repeats.length !== x.shape.length) failNode(node, `${a.repeats.length} repeats for rows of rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d * a.repeats[i]!) }];
  },
};

const concatAxis: OpDef<{ axis: number }> = {
  attrs: z.object({ axis }).strict(),
  infer: (inputs, a, node) => {
    if (inputs.length < 1) failNode(node, "needs at least one input");
    const xs = inputs.map((_, i) => activation(node, inputs, i));
    const first = xs[0]!;
    const r = axisAttr(node, a.axis, first.shape.length);
    for (const [i, x] of xs.entries()) {
      if (x.dtype !== first.dtype) failNode(node, `input ${i} has dtype ${x.dtype}, input 0 has ${first.dtype}`);
      if (x.shape.length !== first.shape.length || x.shape.some((d, j) => j !== r && d !== first.shape[j])) {
        failNode(node, `input ${i} [N, ${x.shape.join(", ")}] differs from input 0 [N, ${first.shape.join(", ")}] outside axis ${a.axis}`);
      }
    }
    const shape = [...first.shape];
    shape[r] = xs.reduce((acc, x) => acc + x.shape[r]!, 0);
    return [{ dtype: first.dtype, shape }];
  },
};

const split: OpDef<{ axis: number; sizes: number[] }> = {
  attrs: z.object({ axis, sizes: z.array(z.number().int().nonnegative()).min(1) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const r = axisAttr(node, a.axis, x.shape.length);
    const total = a.sizes.reduce((p, q) => p + q, 0);
    if (total !== x.shape[r]) failNode(node, `sizes ${JSON.stringify(a.sizes)} add up to ${total}, the axis has ${x.shape[r]}`);
    return a.sizes.map((size) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === r ? size : d)) }));
  },
};

/** A resolved ONNX Slice: per axis, start (already clamped), count and step. */
const sliceNd: OpDef<{ axes: number[]; starts: number[]; counts: number[]; steps: number[] }> = {
  attrs: z.object({ axes: z.array(axis), starts: z.array(z.number().int()), counts: z.array(z.number().int().nonnegative()), steps: z.array(z.number().int()) }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const shape = [...x.shape];
    if (a.starts.length !== a.axes.length || a.counts.length !== a.axes.length || a.steps.length !== a.axes.length) failNode(node, "axes, starts, counts and steps differ in length");
    a.axes.forEach((ax, i) => {
      const r = axisAttr(node, ax, x.shape.length);
      const { starts, counts, steps } = a;
      const last = starts[i]! + (counts[i]! - 1) * steps[i]!;
      if (steps[i] === 0 || (counts[i]! > 0 && (starts[i]! < 0 || starts[i]! >= x.shape[r]! || last < 0 || last >= x.shape[r]!))) failNode(node, `slice of axis ${ax} (start ${starts[i]}, ${counts[i]} elements, step ${steps[i]}) leaves its ${x.shape[r]} elements`);
      shape[r] = counts[i]!;
    });
    return [{ dtype: x.dtype, shape }];
  },
};

/** ONNX Gather along a feature axis with constant indices (a weight of `indexShape`, [] for a scalar index). */
const gatherAxis: OpDef<{ axis: number; indexShape: number[] }> = {
  attrs: z.object({ axis, indexShape: dims }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const r = axisAttr(node, a.axis, x.shape.length);
    const idx = inputs[1];
    if (!idx || idx.kind !== "weight" || !indexDTypes.includes(idx.spec.dtype)) failNode(node, "indices must be an i32/i64 weight (per-row indices use gather_elements)");
    if (count(idx.spec.shape) !== count(a.indexShape)) failNode(node, `indexShape [${a.indexShape.join(", ")}] does not match the ${count(idx.spec.shape)} indices`);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, r), ...a.indexShape, ...x.shape.slice(r + 1)] }];
  },
};

/** ONNX GatherElements: per-row indices of the data's rank; out[.., j, ..] = x[.., idx[.., j, ..], ..]. */
const gatherElementsNd: OpDef<{ axis: number }> = {
  attrs: z.object({ axis }).strict(),
  infer: (inputs, a, node) => {
    const x = activation(node, inputs, 0);
    const idx = indexOperand(node, inputs, 1, x.shape.length);
    const r = axisAttr(node, a.axis, x.shape.length);
    if (idx.some((d, i) => i !== r && d !== x.shape[i])) failNode(node, `indices [N, ${idx.join(", ")}] differ from data [N, ${x.shape.join(", ")}] outside axis ${a.axis}`);
    return [{ dtype: x.dtype, shape: idx }];
  },
};

function indexOperand(node: Node, inputs: OpInput[], i: number, rank: number): number[] {
  const idx = activation(node, inputs, i, indexDTypes);
  if (idx.shape.length !== rank) failNode(node, `indices have rank ${idx.shape.length + 1}, data has ${rank + 1}`);
  return idx.shape;
}

/** ONNX ScatterND over each row: data [..], indices [.., depth] and updates per row. */
const scatterNd: OpDef<{ reduction: "none" | "add" | "mul" | "max" | "min" }> = {
  attrs: z.object({ reduction: z.enum(["none", "add", "mul", "max", "min"]).default("none") }).strict(),
  infer: (inputs, _a, node) => {
    const x = activation(node, inputs, 0);
    const idx = activation(node, inputs, 1, indexDTypes);
    const depth = idx.shape.at(-1);
    if (depth === undefined || depth > x.shape.length) failNode(node, `indices [N, ${idx.shape.join(", ")}] must end in an index depth ≤ ${x.shape.length} (the per-row rank)`);
    if (dtypeOf(node, inputs, 2) !== x.dtype) failNode(node, "updates must have the data's dtype");
    const upd = activation(node, inputs, 2, tensorDTypes);
    const want = [...idx.shape.slice(0, -1), ...x.shape.slice(depth)];
    if (want.join() !== upd.shape.join()) failNode(node, `updates are [N, ${upd.shape.join(", ")}], expected [N, ${want.join(", ")}]`);
    return [x];
  },
};

export const tensorLayoutOps: Record<string, OpDef<any>> = {
  reshape,
  transpose,
  expand,
  tile,
  concat_axis: concatAxis,
  split,
  slice_nd: sliceNd,
  gather_axis: gatherAxis,
  gather_elements_nd: gatherElementsNd,
  scatter_nd: scatterNd,
};
