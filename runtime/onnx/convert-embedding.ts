// Embedding lookups as exporters write them, in their ONNX meaning on the
// general ops: Gather(table, ids) is an unpooled lookup (embedding_sequence,
// one table row per id; a lone id per row is a gather), and the Loop PyTorch
// emits for nn.EmbeddingBag — ids [N, L] flattened to [N·L], offsets =
// range(0, N·L, L), one iteration per bag doing Slice -> Gather -> Reduce —
// is the lookup of the row's L ids and the reduction over them. Pooling them
// into one embedding_bag call is the compiler's fuse-lookup-pool pass.
import type { onnx } from "onnx-proto";
import type { Tensor } from "../tensor/tensor";
import { general } from "./general";
import type { Importer, OnnxNode } from "./importer";
import { type SymVec, isConst, symEq, sym } from "./symbolic";
import { ONNX, initializerTensor, num } from "./tensors";

/** Gather(table, ids): one table row per id ([N, ...ids, D]; ids [N] give [N, D]). */
export function tableGather(imp: Importer, node: OnnxNode, tableName: string, table: Tensor, out: string): void {
  const ids = imp.tensor(node.input![1]!, node, ["i32", "i64"]);
  const dim = table.shape[1]!;
  const rows = general(imp, "embedding_sequence", [ids.value, imp.weight(tableName, table)], {}, node, out)[0]!;
  imp.set(out, { ...rows, dims: [...ids.dims, dim] });
}

// ------------------------------------------------------------------ the EmbeddingBag Loop

/** Loop(M, cond) whose body pools one bag per iteration: Slice(indices, offsets[i], offsets[i+1]) -> Gather -> Reduce. */
export function embeddingBagLoop(imp: Importer, node: OnnxNode): void {
  const body = imp.attr(node, "body")?.g;
  if (!body) imp.fail(node, "a Loop needs a body graph");
  const why: (m: string) => never = (m) => imp.fail(node, `only the Loop PyTorch emits for nn.EmbeddingBag (fixed-size bags) is supported: ${m}`);
  if ((node.input ?? []).length !== 2 || (body.output ?? []).length !== 2 || (node.output ?? []).length !== 1) why("expected no loop-carried values and one scan output");
  const iter = body.input?.[0]?.name ?? "";
  const made = new Map<string, onnx.INodeProto>();
  for (const n of body.node ?? []) for (const o of n.output ?? []) made.set(o, n);
  const local = (name: string) => made.get(name);
  const bodyConsts = new Map((body.initializer ?? []).map((t) => [t.name ?? "", t]));
  /** Follow Identity/Unsqueeze/Squeeze/Reshape/Cast inside the body. */
  const through = (name: string): string => {
    let n = local(name);
    while (n && ["Identity", "Unsqueeze", "Squeeze", "Reshape", "Cast"].includes(n.opType ?? "")) {
      name = n.input![0]!;
      n = local(name);
    }
    return name;
  };
  const reduce = local(through(body.output![1]!.name!));
  if (!reduce || !["ReduceSum", "ReduceMean", "ReduceMax"].includes(reduce.opType ?? "")) why(`the bag is pooled by ${reduce?.opType ?? "nothing"} (supported: ReduceSum, ReduceMean, ReduceMax)`);
  const axes = bodyAxes(imp, reduce, local, bodyConsts);
  if (axes?.length !== 1 || axes[0] !== 0 || imp.intAttr(reduce, "keepdims", 1) !== 0) why("the pooling must reduce axis 0 with keepdims=0");
  let lookup = local(reduce.input![0]!);
  // nn.EmbeddingBag(per_sample_weights=...): Mul(Gather(table, ids slice), Unsqueeze(weights slice)).
  let sampleWeights: { slice: onnx.INodeProto; flat: string } | undefined;
  if (lookup?.opType === "Mul") {
    const [p, q] = lookup.input as [string, string];
    const [rowsName, weightsName] = local(p)?.opType === "Gather" ? [p, q] : [q, p];
    const slice = local(through(weightsName));
    if (!slice || slice.opType !== "Slice") why("per-sample weights must be a Slice of the flattened weights");
    sampleWeights = { slice, flat: slice.input![0]! };
    lookup = local(rowsName);
  }
  if (!lookup || lookup.opType !== "Gather") why(`the pooled value comes from ${lookup?.opType ?? "outside the body"}, not a Gather`);
  const table = imp.constant(lookup.input![0]!);
  if (!table || table.t.dtype !== "f32" || table.dims.length !== 2) why("the Gather must read a 2-D float table constant");
  const rows = local(lookup.input![1]!);
  if (!rows || rows.opType !== "Slice") why("the bag's ids must be a Slice of the indices");
  const [indices, startName, endName, axesName] = rows.input as string[];
  if (axesName && !["0"].includes(String(bodyInts(imp, axesName, local, bodyConsts)?.join()))) why("the ids slice must be over axis 0");
  const given = imp.vals.get(indices!);
  // Single-hot bags: ids [N, 1] reshaped to [-1] are one id per row, i.e. a per-row tensor of one id.
  const flat =
    given?.kind === "tensor" && given.dtype !== "f32" && given.dtype !== "bool" && given.dims.reduce((a, b) => a * b, 1) === 1
      ? { kind: "flatIds" as const, value: given.value, perRow: 1, dtype: given.dtype }
      : given;
  if (!flat || flat.kind !== "flatIds") why("the indices must be the 2-D ids input reshaped to one dimension");
  const starts = offsetsOf(imp, through(startName!), local, iter);
  const ends = offsetsOf(imp, through(endName!), local, iter);
  const L = flat.perRow;
  const progression = (v: SymVec | undefined, first: number) =>
    v && "arange" in v && v.arange.step === L && symEq(v.arange.start, sym(first)) && (symEq(v.arange.count, sym(0, 1)) || symEq(v.arange.count, { c: 1, n: 1 }));
  if (!progression(starts, 0) || !progression(ends, L)) {
    why(`offsets must be range(0, N·${L}, ${L}) computed from the ids' shape (a batch-fixed offsets constant would break other batch sizes)`);
  }
  const trip = node.input?.[0] ? imp.vals.get(node.input[0]) : undefined;
  if (trip && !(trip.kind === "sym" && "items" in trip.vec && trip.vec.items.length === 1 && symEq(trip.vec.items[0]!, sym(0, 1)))) why("the trip count must be the number of rows");
  if (sampleWeights) return weightedBag(imp, node, { ids: flat.value, L, table: lookup.input![0]!, reduce: reduce.opType!, rowsSlice: rows, ...sampleWeights });
  // The bag's rows [N, L, D] looked up, then pooled over the L ids (fuse-lookup-pool makes sum/mean one embedding_bag).
  const dim = table.dims[1]!;
  const looked = imp.temp("embedding_sequence", [flat.value, imp.weight(lookup.input![0]!, table.t)], L * dim, {}, "bag_rows");
  const view = imp.temp("reshape", [looked], L * dim, { shape: [L, dim] }, "bag_rows");
  const op = reduce.opType === "ReduceSum" ? "sum" : reduce.opType === "ReduceMean" ? "mean" : "max";
  imp.emit("reduce", [view], node.output![0]!, [dim], { op, axes: [1], keepdims: false }, node);
}

/**
 * A bag with per-sample weights: the rows [N, L, D] looked up, scaled by the weights [N, L, 1]
 * and summed over the ids. The weights' slice must take the same offsets as the ids'.
 */
function weightedBag(imp: Importer, node: OnnxNode, b: { ids: string; L: number; table: string; reduce: string; rowsSlice: onnx.INodeProto; slice: onnx.INodeProto; flat: string }): void {
  if (b.reduce !== "ReduceSum") imp.fail(node, "per-sample weights need sum pooling");
  if (b.slice.input![1] !== b.rowsSlice.input![1] || b.slice.input![2] !== b.rowsSlice.input![2]) imp.fail(node, "the per-sample weights are not sliced like the ids");
  const w = imp.vals.get(b.flat);
  // The weights [N, L] reshaped to [N·L]: a per-row value of L weights whose batch is the outer factor.
  const perRow = w?.kind === "tensor" && w.dtype === "f32" && w.dims.reduce((x, y) => x * y, 1) === b.L && (!w.layout || (w.layout.axis === 0 && w.layout.outer === 1));
  if (!perRow) imp.fail(node, "the per-sample weights must be a float input [N, L] flattened like the ids");
  const table = imp.constant(b.table)!.t;
  const dim = table.shape[1]!;
  const rows = imp.temp("embedding_sequence", [b.ids, imp.weight(b.table, table)], b.L * dim, {}, "bag_rows");
  const view = imp.temp("reshape", [rows], b.L * dim, { shape: [b.L, dim] }, "bag_rows");
  const weights = imp.temp("reshape", [w.value], b.L, { shape: [b.L, 1] }, "bag_weights");
  const scaled = imp.temp("binary", [view, weights], b.L * dim, { op: "mul" }, "bag_rows");
  imp.emit("reduce", [scaled], node.output![0]!, [dim], { op: "sum", axes: [1], keepdims: false }, node);
}

/** Integers of a body value: a Constant inside the body or a constant of the outer graph. */
function bodyInts(imp: Importer, name: string, local: (n: string) => onnx.INodeProto | undefined, consts: Map<string, onnx.ITensorProto>): number[] | undefined {
  const n = local(name);
  const fromTensor = (t: onnx.ITensorProto | undefined) => {
    if (!t || (t.dataType !== ONNX.INT64 && t.dataType !== ONNX.INT32)) return undefined;
    return Array.from(initializerTensor(t, imp.modelDir).data as ArrayLike<number | bigint>, Number);
  };
  if (n?.opType === "Constant") {
    const ints = n.attribute?.find((a) => a.name === "value_ints")?.ints;
    return ints ? ints.map(num) : fromTensor(n.attribute?.find((a) => a.name === "value")?.t ?? undefined);
  }
  if (consts.has(name)) return fromTensor(consts.get(name));
  const c = imp.constant(name);
  return c && c.t.dtype !== "f32" ? Array.from(c.t.data as ArrayLike<number | bigint>, Number) : undefined;
}

function bodyAxes(imp: Importer, reduce: onnx.INodeProto, local: (n: string) => onnx.INodeProto | undefined, consts: Map<string, onnx.ITensorProto>): number[] | undefined {
  const fromAttr = reduce.attribute?.find((a) => a.name === "axes")?.ints;
  if (fromAttr?.length) return fromAttr.map(num);
  return reduce.input?.[1] ? bodyInts(imp, reduce.input[1], local, consts) : undefined;
}

/** Gather(offsets, iteration) in the body -> the outer offsets vector (symbolic). */
function offsetsOf(imp: Importer, name: string, local: (n: string) => onnx.INodeProto | undefined, iter: string): SymVec | undefined {
  const g = local(name);
  if (!g || g.opType !== "Gather" || g.input?.[1] !== iter) return undefined;
  const v = imp.vals.get(g.input[0]!);
  if (v?.kind === "sym") return v.vec;
  if (v?.kind === "const" && v.t.dtype !== "f32") {
    const items = Array.from(v.t.data as ArrayLike<number | bigint>, (x) => sym(Number(x)));
    return items.every((s) => isConst(s)) ? { items } : undefined;
  }
  return undefined;
}
