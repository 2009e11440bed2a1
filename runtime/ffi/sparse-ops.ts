// Typed wrappers of the sparse kernels: embedding bags (one table or many in one
// call) and the MoE row gather / scatter-add. Ids are range-checked in C, which
// names the table, its row count and the offending id.
import { ptr } from "bun:ffi";
import { TensorError } from "../errors";
import { type TypedArray, dtypes } from "../tensor/dtype";
import { type Tensor, matrixView, validateTensor, vectorData } from "../tensor/tensor";
import { type PoolMode, enumCode, poolModes } from "./activations";
import type { Stream } from "./device";
import { outputMatrix } from "./dense-ops";
import { check, native } from "./native";

export interface BagArgs {
  /** [rows, dim] of f32 / f16 / bf16 / u8q / u4q. */
  table: Tensor;
  /** i32 or i64 [num_ids]. */
  ids: Tensor;
  /** i64 [num_bags + 1]: bag b holds ids[offsets[b] .. offsets[b+1]). */
  offsets: Tensor;
  /** Optional f32 [num_ids] per-id weights. */
  weights?: Tensor;
  mode?: PoolMode;
  /** f32 [num_bags, dim], possibly a column slice of a wider buffer. */
  out?: Tensor;
}

interface CheckedBag {
  table: Tensor;
  rows: number;
  dim: number;
  ids: Tensor;
  numIds: number;
  offsets: BigInt64Array;
  numBags: number;
  weights: Float32Array | null;
  mode: number;
  out: Tensor<"f32">;
  outData: Float32Array;
  ldo: number;
}

const tableDTypes = new Set(["f32", "f16", "bf16", "u8q", "u4q"]);

function checkBag(args: BagArgs, name: string): CheckedBag {
  validateTensor(args.table, `${name} table`);
  const { table } = args;
  if (!tableDTypes.has(table.dtype)) throw new TensorError(`${name} table: dtype must be f32, f16, bf16, u8q or u4q, got ${table.dtype}`, "bad_dtype");
  if (table.shape.length !== 2 || table.strides !== undefined) throw new TensorError(`${name} table: expected a contiguous [rows, dim] tensor, got shape [${table.shape.join(", ")}]`, "bad_shape");
  const [rows, dim] = table.shape as [number, number];
  validateTensor(args.ids, `${name} ids`);
  if (args.ids.dtype !== "i32" && args.ids.dtype !== "i64") throw new TensorError(`${name} ids: dtype must be i32 or i64, got ${args.ids.dtype}`, "bad_dtype");
  const numIds = vectorData(args.ids, `${name} ids`, args.ids.dtype).length;
  const offsets = vectorData(args.offsets, `${name} offsets`, "i64") as BigInt64Array;
  const numBags = offsets.length - 1;
  if (numBags < 0) throw new TensorError(`${name} offsets: needs num_bags + 1 >= 1 entries`, "bad_shape");
  if (offsets[0] !== 0n || offsets[numBags] !== BigInt(numIds)) {
    throw new TensorError(`${name} offsets: must start at 0 and end at the number of ids (${numIds}), got ${offsets[0]}..${offsets[numBags]}`, "bad_offsets");
  }
  const weights = args.weights ? (vectorData(args.weights, `${name} weights`, "f32", numIds) as Float32Array) : null;
  const mode = enumCode(poolModes, args.mode ?? "sum", `${name} mode`);
  const o = outputMatrix(args.out, numBags, dim, `${name} out`);
  return { table, rows, dim, ids: args.ids, numIds, offsets, numBags, weights, mode, out: o.t, outData: o.m.data as Float32Array, ldo: o.m.ld };
}

/** Pooled embedding lookup in one table (sum / mean / gather), into a possibly strided output. */
export function embeddingBag(args: BagArgs & { stream?: Stream }): Tensor<"f32"> {
  const b = checkBag(args, "embeddingBag");
  check(
    native().rf_embedding_bag(
      args.stream?.handle ?? null, b.table.data, dtypes[b.table.dtype].code, b.rows, b.dim, b.ids.data, dtypes[b.ids.dtype].code,
      b.numIds, b.offsets, b.numBags, b.weights, b.mode, b.outData, b.ldo,
    ),
    "rf_embedding_bag",
  );
  return b.out;
}

const DESCRIPTOR_BYTES = 88;

/**
 * All tables of a model in one native call (parallel over tables × bags).
 * Every table must have the same number of bags; outputs are usually column
 * slices of one concatenated buffer.
 */
export function embeddingBags(tables: BagArgs[], stream?: Stream): Tensor<"f32">[] {
  if (tables.length === 0) return [];
  const checked = tables.map((t, i) => checkBag(t, `embeddingBags[${i}]`));
  const numBags = checked[0]!.numBags;
  const descriptorBytes = new Uint8Array(DESCRIPTOR_BYTES * checked.length);
  const descriptors = new DataView(descriptorBytes.buffer);
  // Pointers are taken right before the call and the arrays stay referenced by
  // `checked` until it returns, so the addresses cannot go stale.
  checked.forEach((b, i) => {
    if (b.numBags !== numBags) throw new TensorError(`embeddingBags[${i}]: has ${b.numBags} bags, table 0 has ${numBags}`, "bad_shape");
    const at = i * DESCRIPTOR_BYTES;
    const setPtr = (slot: number, a: TypedArray | null) => descriptors.setBigUint64(at + slot * 8, a && a.byteLength > 0 ? BigInt(ptr(a)) : 0n, true);
    setPtr(0, b.table.data);
    setPtr(1, b.ids.data);
    setPtr(2, b.offsets);
    setPtr(3, b.weights);
    setPtr(4, b.outData);
    descriptors.setBigInt64(at + 40, BigInt(b.rows), true);
    descriptors.setBigInt64(at + 48, BigInt(b.dim), true);
    descriptors.setBigInt64(at + 56, BigInt(b.numIds), true);
    descriptors.setBigInt64(at + 64, BigInt(b.ldo), true);
    descriptors.setInt32(at + 72, dtypes[b.table.dtype].code, true);
    descriptors.setInt32(at + 76, dtypes[b.ids.dtype].code, true);
    descriptors.setInt32(at + 80, b.mode, true);
  });
  check(native().rf_embedding_bags(stream?.handle ?? null, checked.length, descriptorBytes, numBags), "rf_embedding_bags");
  return checked.map((b) => b.out);
}

/** dst[i] = weights[i] * src[idx[i]] (MoE dispatch). */
export function gatherRows({ src, idx, weights, dst, stream }: { src: Tensor; idx: Tensor; weights?: Tensor; dst?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const sm = matrixView(src, "gatherRows src");
  const ix = vectorData(idx, "gatherRows idx", "i32");
  const w = weights ? vectorData(weights, "gatherRows weights", "f32", ix.length) : null;
  const o = outputMatrix(dst, ix.length, sm.cols, "gatherRows dst");
  check(native().rf_gather_rows(stream?.handle ?? null, ix.length, sm.cols, sm.data, sm.ld, sm.rows, ix, w, o.m.data, o.m.ld), "rf_gather_rows");
  return o.t;
}

/** dst[idx[i]] += weights[i] * src[i] (MoE combine); dst is updated in place. */
export function scatterAddRows({ src, idx, weights, dst, stream }: { src: Tensor; idx: Tensor; weights?: Tensor; dst: Tensor; stream?: Stream }): Tensor<"f32"> {
  const sm = matrixView(src, "scatterAddRows src");
  const ix = vectorData(idx, "scatterAddRows idx", "i32", sm.rows);
  const w = weights ? vectorData(weights, "scatterAddRows weights", "f32", sm.rows) : null;
  const dm = matrixView(dst, "scatterAddRows dst");
  if (dm.cols !== sm.cols) throw new TensorError(`scatterAddRows dst: has ${dm.cols} columns, src has ${sm.cols}`, "bad_shape");
  check(native().rf_scatter_add_rows(stream?.handle ?? null, sm.rows, sm.cols, sm.data, sm.ld, ix, w, dm.data, dm.ld, dm.rows), "rf_scatter_add_rows");
  return dst as Tensor<"f32">;
}
