// Bad input never reaches C unchecked and never crashes: wrong shapes and
// dtypes are TensorErrors from the TypeScript side; out-of-range ids and bad
// raw arguments come back from C as error statuses with actionable messages.
import { describe, expect, test } from "bun:test";
import * as k from "../../runtime/ffi";
import { KernelError, TensorError } from "../../runtime/errors";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";

const f32 = (shape: number[], fill = 0.5) => tensor("f32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill));
const offsets = (...v: number[]) => tensor("i64", [v.length], BigInt64Array.from(v, BigInt));
const w34 = k.PackedWeight.pack(f32([3, 4]));

function expectKernelError(f: () => unknown, code: string, message: RegExp | string) {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error("expected a KernelError");
}

/** After any rejected call the library still computes correctly. */
function expectStillHealthy() {
  const a = tensor("f32", [1, 2], new Float32Array([2, 3]));
  expect(Array.from(k.binary({ op: "mul", a, b: a }).data as Float32Array)).toEqual([4, 9]);
}

describe("tensors", () => {
  test("data must cover the shape, with the storage type of the dtype", () => {
    expect(() => tensor("f32", [2, 3], new Float32Array(5))).toThrow("tensor: shape [2, 3] (f32) needs 6 elements, data has 5");
    expect(() => tensor("f32", [2], new Int32Array(2) as never)).toThrow("tensor: dtype f32 needs a Float32Array, got Int32Array");
    expect(() => tensor("f9" as "f32", [1])).toThrow('tensor: unknown dtype "f9"');
    expect(() => tensor("f32", [-1])).toThrow("tensor: shape must be an array of non-negative integers");
    const strided: Tensor = { dtype: "f32", shape: [3, 4], strides: [5, 1], data: new Float32Array(13) };
    expect(() => k.softmax({ x: strided })).toThrow("softmax x: shape [3, 4] with strides [5, 1] reaches element 13, data has 13");
  });
});

describe("gemm", () => {
  test("shapes and dtypes are checked before the call", () => {
    expect(() => k.gemm({ x: f32([2, 5]), w: w34 })).toThrow("gemm x: has 5 columns, the weight expects k = 4");
    expect(() => k.gemm({ x: tensor("i32", [2, 4]), w: w34 })).toThrow("gemm x: expected dtype f32, got i32");
    expect(() => k.gemm({ x: f32([2, 4]), w: w34, bias: f32([4]) })).toThrow("gemm bias: expected 3 elements, got 4");
    expect(() => k.gemm({ x: f32([2, 4]), w: w34, residual: f32([2, 4]) })).toThrow("gemm residual: expected shape [2, 3], got [2, 4]");
    expect(() => k.gemm({ x: f32([2, 4]), w: w34, y: f32([3, 3]) })).toThrow("gemm y: expected shape [2, 3], got [3, 3]");
    expect(() => k.gemm({ x: f32([2, 4]), w: w34, act: "swish" as k.Activation })).toThrow('gemm act: unknown value "swish"');
  });
  test("weights are validated when packed", () => {
    expect(() => k.PackedWeight.pack(tensor("i8", [2, 2]))).toThrow("weight: i8 weights need per-channel scales (f32 [2])");
    expect(() => k.PackedWeight.pack(f32([2, 2]), f32([2]))).toThrow("weight: scales are only for i8 weights, not f32");
    expect(() => k.PackedWeight.pack(tensor("i32", [2, 2]))).toThrow("weight: dtype must be f32, bf16 or i8, got i32");
    expect(() => k.PackedWeight.pack(tensor("i8", [2, 2]), f32([3]))).toThrow("weight scales: expected 2 elements, got 3");
  });
  test("activation groups: int8 only, bounds from 0 to k, inner bounds on k-quads", () => {
    const i8 = k.PackedWeight.pack(tensor("i8", [3, 10]), f32([3]));
    expectKernelError(() => w34.setActivationGroups([0, 4]), "invalid_argument", "rf_weight_set_act_groups: activation groups are for RF_I8 weights, got dtype 0");
    expectKernelError(() => i8.setActivationGroups([0, 8]), "invalid_argument", "rf_weight_set_act_groups: bounds must run from 0 to k = 10, got 0 .. 8");
    expectKernelError(() => i8.setActivationGroups([0, 6, 10]), "invalid_argument", "rf_weight_set_act_groups: inner bound bounds[1] = 6 is not a multiple of 4");
    expectKernelError(() => i8.setActivationGroups([0, 8, 8, 10]), "invalid_argument", "rf_weight_set_act_groups: bounds[2] = 8 is not above bounds[1] = 8");
    expectKernelError(() => w34.setActivationBits(16), "invalid_argument", "rf_weight_set_act_bits: activation bits are for RF_I8 weights, got dtype 0");
    expectKernelError(() => i8.setActivationBits(12 as 16), "invalid_argument", "rf_weight_set_act_bits: bits = 12 must be 8 or 16");
    expect(() => i8.setActivationGroups([0])).toThrow("weight activation groups: need at least [0, k], got 1 bounds");
    i8.setActivationGroups([0, 8, 10]);
    i8.setActivationGroups([0, 10]);
    i8.dispose();
    expectStillHealthy();
  });
  test("the C entry points reject bad raw arguments with a status", () => {
    const sym = k.loadLibrary().symbols;
    const x = new Float32Array(8);
    const y = new Float32Array(6);
    expectKernelError(() => k.check(sym.rf_gemm(null, -1, x, 4, w34.handle, null, 0, null, 0, y, 3), "rf_gemm"), "invalid_argument", /rf_gemm/);
    expectKernelError(() => k.check(sym.rf_gemm(null, 2, null, 4, w34.handle, null, 0, null, 0, y, 3), "rf_gemm"), "invalid_argument", /rf_gemm/);
    expectKernelError(() => k.check(sym.rf_gemm(null, 2, x, 2, w34.handle, null, 0, null, 0, y, 3), "rf_gemm"), "invalid_argument", /rf_gemm/);
    expectKernelError(() => k.check(sym.rf_gemm(null, 2, x, 4, null, null, 0, null, 0, y, 3), "rf_gemm"), "invalid_argument", /rf_gemm/);
    expectKernelError(() => k.check(sym.rf_gemm(null, 2, x, 4, w34.handle, null, 42, null, 0, y, 3), "rf_gemm"), "invalid_argument", /rf_gemm/);
    expectKernelError(() => k.check(sym.rf_weight_pack(0, 9, 2, 2, x, null, new BigUint64Array(1)), "rf_weight_pack"), "invalid_argument", /rf_weight_pack/);
    expectKernelError(() => k.check(sym.rf_weight_pack(0, 0, -2, 2, x, null, new BigUint64Array(1)), "rf_weight_pack"), "invalid_argument", /rf_weight_pack/);
    expectStillHealthy();
  });
});

describe("cross layer", () => {
  test("weight shapes must match the feature width", () => {
    const x = f32([2, 4]);
    expect(() => k.crossLayer({ x0: x, x, w: w34 })).toThrow("cross: full rank needs W [4, 4], got [3, 4]");
    const v = k.PackedWeight.pack(f32([2, 4]));
    expect(() => k.crossLayer({ x0: x, x, w: v, u: w34 })).toThrow("cross: low rank needs V [r, 4] and U [4, r], got V [2, 4] and U [3, 4]");
    expect(() => k.crossLayer({ x0: f32([3, 4]), x, w: v })).toThrow("cross x0: expected shape [2, 4], got [3, 4]");
    v.dispose();
  });
});

describe("embedding bags", () => {
  const table = f32([10, 4]);
  test("an id outside the table is an error naming the row count and the id, for i32 and i64 ids", () => {
    const ids32 = tensor("i32", [3], new Int32Array([1, 10, 2]));
    expectKernelError(() => k.embeddingBag({ table, ids: ids32, offsets: offsets(0, 3) }), "out_of_range", /10 rows[\s\S]*\b10\b|\b10\b[\s\S]*10 rows/);
    const ids64 = tensor("i64", [2], new BigInt64Array([-1n, 2n]));
    expectKernelError(() => k.embeddingBag({ table, ids: ids64, offsets: offsets(0, 2) }), "out_of_range", /-1/);
    const huge = tensor("i64", [1], new BigInt64Array([1n << 40n]));
    expectKernelError(() => k.embeddingBag({ table, ids: huge, offsets: offsets(0, 1) }), "out_of_range", /1099511627776/);
    expectStillHealthy();
  });
  test("the multi-table call names the table holding the bad id", () => {
    const ok = { table, ids: tensor("i32", [1], new Int32Array([3])), offsets: offsets(0, 1) };
    const bad = { table, ids: tensor("i32", [1], new Int32Array([77])), offsets: offsets(0, 1) };
    expectKernelError(() => k.embeddingBags([ok, ok, bad]), "out_of_range", /table 2/);
    expect(() => k.embeddingBags([ok, { ...ok, ids: tensor("i32", [2], new Int32Array([1, 2])), offsets: offsets(0, 1, 2) }])).toThrow("embeddingBags[1]: has 2 bags, table 0 has 1");
  });
  test("offsets, dtypes, weights and outputs are checked", () => {
    const ids = tensor("i32", [3], new Int32Array([1, 2, 3]));
    expect(() => k.embeddingBag({ table, ids, offsets: offsets(1, 3) })).toThrow("embeddingBag offsets: must start at 0 and end at the number of ids (3), got 1..3");
    expect(() => k.embeddingBag({ table, ids, offsets: offsets(0, 2) })).toThrow("embeddingBag offsets: must start at 0 and end at the number of ids (3)");
    expectKernelError(() => k.embeddingBag({ table, ids, offsets: offsets(0, 3, 1, 3) }), "invalid_argument", /offsets/);
    expectKernelError(() => k.embeddingBag({ table, ids, offsets: offsets(0, 2, 3), mode: "gather" }), "invalid_argument", /RF_POOL_GATHER needs one id per bag, bag 0 holds 2/);
    expect(() => k.embeddingBag({ table: tensor("i32", [10, 4]), ids, offsets: offsets(0, 3) })).toThrow("embeddingBag table: dtype must be f32, f16, bf16, u8q or u4q, got i32");
    expect(() => k.embeddingBag({ table, ids: f32([3]), offsets: offsets(0, 3) })).toThrow("embeddingBag ids: dtype must be i32 or i64, got f32");
    expect(() => k.embeddingBag({ table, ids, offsets: offsets(0, 3), weights: f32([2]) })).toThrow("embeddingBag weights: expected 3 elements, got 2");
    expect(() => k.embeddingBag({ table, ids, offsets: offsets(0, 3), out: f32([1, 5]) })).toThrow("embeddingBag out: expected shape [1, 4], got [1, 5]");
    expect(() => k.embeddingBag({ table, ids, offsets: offsets(0, 3), mode: "max" as k.PoolMode })).toThrow('embeddingBag mode: unknown value "max"');
  });
  test("raw calls with impossible sizes are rejected by C", () => {
    const sym = k.loadLibrary().symbols;
    const out = new Float32Array(4);
    const ids = new Int32Array([1]);
    const off = new BigInt64Array([0n, 1n]);
    expectKernelError(() => k.check(sym.rf_embedding_bag(null, table.data, 0, -5, 4, ids, 5, 1, off, 1, null, 0, out, 4), "rf_embedding_bag"), "invalid_argument", /rf_embedding_bag/);
    expectKernelError(() => k.check(sym.rf_embedding_bag(null, table.data, 0, 10, 4, ids, 5, 1, off, 1, null, 0, out, 2), "rf_embedding_bag"), "invalid_argument", /rf_embedding_bag/);
    expectKernelError(() => k.check(sym.rf_embedding_bag(null, table.data, 17, 10, 4, ids, 5, 1, off, 1, null, 0, out, 4), "rf_embedding_bag"), "invalid_argument", /rf_embedding_bag/);
    expectKernelError(() => k.check(sym.rf_embedding_bag(null, table.data, 0, 10, 4, ids, 0, 1, off, 1, null, 0, out, 4), "rf_embedding_bag"), "invalid_argument", /rf_embedding_bag/);
    expectKernelError(() => k.check(sym.rf_embedding_bags(null, 2, null, 1), "rf_embedding_bags"), "invalid_argument", /rf_embedding_bags/);
    expectStillHealthy();
  });
});

describe("row ops", () => {
  test("interaction, norms, softmax and top-k check their shapes", () => {
    expect(() => k.dotInteraction({ x: f32([2, 10]), f: 3, d: 4 })).toThrow("interaction x: expected 3 × 4 = 12 columns, got 10");
    expect(() => k.layerNorm({ x: f32([2, 4]), gamma: f32([3]) })).toThrow("layerNorm gamma: expected 4 elements, got 3");
    expect(() => k.rmsNorm({ x: f32([2, 4]), eps: NaN })).toThrow("rmsNorm: eps must be a finite number >= 0, got NaN");
    expect(() => k.softmax({ x: f32([2, 4]), y: f32([2, 3]) })).toThrow("softmax y: expected shape [2, 4], got [2, 3]");
    expect(() => k.topk({ x: f32([2, 4]), k: 0 })).toThrow("topk: k must be an integer in [1, 4], got 0");
    expect(() => k.topk({ x: f32([2, 4]), k: 5 })).toThrow("topk: k must be an integer in [1, 4], got 5");
    const sym = k.loadLibrary().symbols;
    const x = new Float32Array(8);
    expectKernelError(() => k.check(sym.rf_topk(null, 2, 4, 9, x, 4, x, new Int32Array(8), 9), "rf_topk"), "invalid_argument", /rf_topk/);
    expectKernelError(() => k.check(sym.rf_softmax(null, 2, 4, x, 3, x, 4), "rf_softmax"), "invalid_argument", /rf_softmax/);
    expectKernelError(() => k.check(sym.rf_layer_norm(null, 2, -4, x, 4, null, null, 1e-5, x, 4), "rf_layer_norm"), "invalid_argument", /rf_layer_norm/);
    expectKernelError(() => k.check(sym.rf_dot_interaction(null, 2, 3, 4, x, 4, 0, 0, x, 3), "rf_dot_interaction"), "invalid_argument", /rf_dot_interaction/);
    expectStillHealthy();
  });
  test("gather and scatter-add refuse indices outside their tables", () => {
    const src = f32([4, 3]);
    expectKernelError(() => k.gatherRows({ src, idx: tensor("i32", [2], new Int32Array([0, 4])) }), "out_of_range", /4/);
    expectKernelError(() => k.scatterAddRows({ src, idx: tensor("i32", [4], new Int32Array([0, 1, -2, 1])), dst: f32([2, 3]) }), "out_of_range", /-2/);
    expect(() => k.gatherRows({ src, idx: f32([2]) })).toThrow("gatherRows idx: expected dtype i32, got f32");
    expect(() => k.scatterAddRows({ src, idx: tensor("i32", [4]), dst: f32([2, 5]) })).toThrow("scatterAddRows dst: has 5 columns, src has 3");
    expectStillHealthy();
  });
  test("target attention checks shapes and refuses requests outside its keys", () => {
    const base = { q: f32([2, 4]), keys: f32([1, 12]), mask: f32([1, 3]), requestOfRow: tensor("i32", [2]), qp: f32([2, 5]), kp: f32([3, 5]), wqk: f32([5, 4]), w2: f32([5]), b2: 0 };
    expect(Array.from(k.targetAttention(base).data).every(Number.isFinite)).toBe(true);
    expect(() => k.targetAttention({ ...base, keys: f32([1, 10]) })).toThrow("attention keys: expected T × d = 12 columns, got 10");
    expect(() => k.targetAttention({ ...base, kp: f32([2, 5]) })).toThrow("attention kp: expected shape [3, 5], got [2, 5]");
    expect(() => k.targetAttention({ ...base, wqk: f32([5, 3]) })).toThrow("attention wqk: expected a contiguous [5, 4] tensor");
    expectKernelError(() => k.targetAttention({ ...base, requestOfRow: tensor("i32", [2], new Int32Array([0, 1])) }), "out_of_range", "request_of_row[1] = 1 is outside [0, 1)");
    expectStillHealthy();
  });
  test("elementwise ops check broadcasting and enums", () => {
    expect(() => k.binary({ op: "add", a: f32([3, 4]), b: f32([2, 4]) })).toThrow("add: b has shape [2, 4], expected [3, 4] or [1, 4]");
    expect(() => k.binary({ op: "pow" as k.BinaryOp, a: f32([1, 4]), b: f32([1, 4]) })).toThrow('binary op: unknown value "pow"');
    expect(() => k.activation({ act: "elu" as k.Activation, x: f32([1, 4]) })).toThrow('activation: unknown value "elu"');
  });
});

describe("general tensor kernels", () => {
  const nd = <D extends "f32" | "i32" | "i64" | "bool">(dtype: D, shape: number[], v: number[]) => k.ndArray(dtype, shape, (dtype === "i64" ? BigInt64Array.from(v, BigInt) : dtype === "f32" ? Float32Array.from(v) : dtype === "i32" ? Int32Array.from(v) : Uint8Array.from(v)) as never);
  const x23 = nd("f32", [2, 3], [1, 2, 3, 4, 5, 6]);

  test("indices outside their axis are out_of_range errors naming the index, its position and the bound", () => {
    expectKernelError(() => k.gatherAxis({ x: x23, axis: 1, indices: nd("i64", [3], [0, -3, 3]) }), "out_of_range", "rf_gather_axis: idx[2] = 3 is outside [-3, 3)");
    expectKernelError(() => k.gatherAxis({ x: x23, axis: 0, indices: nd("i32", [1], [-3]) }), "out_of_range", "idx[0] = -3 is outside [-2, 2)");
    expectKernelError(() => k.gatherElements({ x: x23, axis: 1, indices: nd("i32", [2, 1], [1, 7]) }), "out_of_range", "rf_gather_elements: idx[1] = 7 is outside [-3, 3)");
    expectKernelError(() => k.scatterNd({ data: x23, indices: nd("i64", [2, 2], [1, 2, 0, -4]), updates: nd("f32", [2], [9, 9]) }), "out_of_range", "rf_scatter_nd: idx[1][1] = -4 is outside [-3, 3) (data_shape[1])");
    expectStillHealthy();
  });

  test("value preconditions: integer division by zero, float -> int casts of NaN or out of range", () => {
    const a = nd("i32", [3], [4, 5, 6]);
    expectKernelError(() => k.binaryNd({ op: "div", a, b: nd("i32", [3], [1, 0, 2]) }), "invalid_argument", "rf_binary_nd: integer division by zero");
    expectKernelError(() => k.binaryNd({ op: "mod", a: nd("i64", [1], [3]), b: nd("i64", [1], [0]) }), "invalid_argument", /division by zero/);
    expectKernelError(() => k.castNd({ x: nd("f32", [2], [1, NaN]), dtype: "i32" }), "out_of_range", "rf_cast_nd: f32 value nan does not fit i32");
    expectKernelError(() => k.castNd({ x: nd("f32", [1], [3e9]), dtype: "i32" }), "out_of_range", /3e\+09 does not fit i32/);
    expect(Array.from(k.castNd({ x: nd("f32", [3], [3e9, -2.7, 2.7]), dtype: "i64" }).data as BigInt64Array)).toEqual([3000000000n, -2n, 2n]);
    // INT_MIN / -1 wraps instead of trapping.
    expect(Array.from(k.binaryNd({ op: "div", a: nd("i32", [1], [-2147483648]), b: nd("i32", [1], [-1]) }).data as Int32Array)).toEqual([-2147483648]);
    expectStillHealthy();
  });

  test("shapes, axes, dtypes and views are checked before the call", () => {
    expect(() => k.binaryNd({ op: "add", a: x23, b: nd("f32", [2], [1, 2]) })).toThrow("add: shapes [2, 3], [2] do not broadcast");
    expect(() => k.binaryNd({ op: "add", a: x23, b: nd("i32", [3], [1, 2, 3]) })).toThrow("add b: expected dtype f32, got i32");
    expect(() => k.binaryNd({ op: "and", a: x23, b: x23 })).toThrow("and: does not support dtype f32");
    expect(() => k.unaryNd({ op: "exp", x: nd("i32", [1], [1]) })).toThrow("exp: does not support dtype i32");
    expect(() => k.unaryNd({ op: "cube" as k.UnaryOp, x: x23 })).toThrow('unaryNd op: unknown value "cube"');
    expect(() => k.reduceAxis({ op: "sum", x: x23, axis: 2 })).toThrow("reduce sum: axis 2 is outside [-2, 2)");
    expect(() => k.reduceAxis({ op: "l2", x: nd("i64", [2], [1, 2]), axis: 0 })).toThrow("reduce l2: does not support dtype i64");
    expect(() => k.softmaxAxis({ x: { ...x23, strides: [1, 2] }, axis: 0 })).toThrow("softmax x: must be contiguous");
    expect(() => k.castNd({ x: { ...x23, strides: [3, -1] } })).toThrow("cast x: shape [2, 3] with strides [3, -1] and offset 0 reaches elements -2..3, data has 6");
    expect(() => k.castNd({ x: { ...x23, shape: [1, 2, 3, 1, 1, 1, 1, 1, 1] } })).toThrow("cast x: rank 9 exceeds 8");
    expect(() => k.matmulBatched({ a: x23, b: x23 })).toThrow("matmul: a is [.., 2, 3] but b is [.., 2, 3]");
    expect(() => k.topkAxis({ x: x23, axis: 1, k: 4 })).toThrow("topkAxis: k must be an integer in [0, 3], got 4");
    expect(() => k.gatherElements({ x: x23, axis: 1, indices: nd("i32", [1, 1], [0]) })).toThrow("gatherElements: indices [1, 1] must match x [2, 3] except along axis 1");
    expect(() => k.scatterNd({ data: x23, indices: nd("i32", [1, 1], [0]), updates: nd("f32", [2], [1, 2]) })).toThrow("scatterNd: updates must have shape [1, 3], got [2]");
  });

  test("the C entry points reject bad raw arguments with a status", () => {
    const sym = k.loadLibrary().symbols;
    const shape = BigInt64Array.from([2n, 3n]);
    const st = BigInt64Array.from([3n, 1n]);
    const y = new Float32Array(6);
    const call = (f: () => number, op: string) => () => k.check(f(), op);
    expectKernelError(call(() => sym.rf_unary_nd(null, 0, 0, 9, shape, x23.data, st, 0, 0, y, st), "rf_unary_nd"), "invalid_argument", "rf_unary_nd: rank = 9 must be in [0, 8]");
    expectKernelError(call(() => sym.rf_unary_nd(null, 0, 0, 2, BigInt64Array.from([2n, -3n]), x23.data, st, 0, 0, y, st), "rf_unary_nd"), "invalid_argument", "shape[1] = -3 is negative");
    expectKernelError(call(() => sym.rf_unary_nd(null, 99, 0, 2, shape, x23.data, st, 0, 0, y, st), "rf_unary_nd"), "invalid_argument", "rf_unary_nd: unknown op 99");
    expectKernelError(call(() => sym.rf_unary_nd(null, 9, 0, 2, shape, x23.data, st, 0, 0, y, st), "rf_unary_nd"), "unsupported", "op 9 does not support dtype f32");
    expectKernelError(call(() => sym.rf_binary_nd(null, 0, 0, 2, shape, x23.data, st, x23.data, null, y, st), "rf_binary_nd"), "invalid_argument", "rf_binary_nd: b_strides is NULL");
    expectKernelError(call(() => sym.rf_binary_nd(null, 0, 3, 2, shape, x23.data, st, x23.data, st, y, st), "rf_binary_nd"), "unsupported", "rf_binary_nd: dtype 3 is not f32, i32, i64 or bool");
    expectKernelError(call(() => sym.rf_where_nd(null, 0, 2, shape, null, st, x23.data, st, x23.data, st, y, st), "rf_where_nd"), "invalid_argument", "rf_where_nd: cond is NULL");
    expectKernelError(call(() => sym.rf_cast_nd(null, 2, shape, x23.data, 1, st, y, 0, st), "rf_cast_nd"), "unsupported", "x_dtype 1");
    expectKernelError(call(() => sym.rf_reduce(null, 2, 0, 2, 0, 3, x23.data, y), "rf_reduce"), "invalid_argument", "rf_reduce: op 2 over an empty axis (n = 0) has no value");
    expectKernelError(call(() => sym.rf_reduce(null, 6, 5, 2, 3, 1, x23.data, y), "rf_reduce"), "unsupported", "rf_reduce: op 6 does not support dtype i32");
    expectKernelError(call(() => sym.rf_softmax_axis(null, 2, 2, 3, 1, x23.data, y), "rf_softmax_axis"), "invalid_argument", "log_softmax = 2 must be 0 or 1");
    expectKernelError(call(() => sym.rf_matmul_batched(null, 1, 2, 3, -1, x23.data, 0, 3, 1, x23.data, 0, 3, 1, 0, y, 0, 3), "rf_matmul_batched"), "invalid_argument", /negative shape/);
    expectKernelError(call(() => sym.rf_matmul_batched(null, 1, 2, 3, 3, x23.data, 0, 3, 1, x23.data, 0, 3, 1, 0, y, 0, 1), "rf_matmul_batched"), "invalid_argument", "sy_m = 1 makes rows of 3 values overlap");
    expectKernelError(call(() => sym.rf_gather_axis(null, 0, 2, 3, 1, x23.data, new Int32Array(2), 0, 2, 0, y), "rf_gather_axis"), "unsupported", "idx_dtype 0 must be i32 or i64");
    expectKernelError(call(() => sym.rf_scatter_nd(null, 0, 7, 2, shape, new Int32Array(2), 5, 1, 2, x23.data, y), "rf_scatter_nd"), "invalid_argument", "reduction = 7 must be 0..4");
    expectKernelError(call(() => sym.rf_scatter_nd(null, 0, 0, 2, shape, new Int32Array(3), 5, 1, 3, x23.data, y), "rf_scatter_nd"), "invalid_argument", "index_depth = 3 must be in [1, data_rank = 2]");
    expectKernelError(call(() => sym.rf_cumsum_axis(null, 7, 2, 3, 1, 0, 0, x23.data, y), "rf_cumsum_axis"), "unsupported", "dtype bool is not f32, i32 or i64");
    expectKernelError(call(() => sym.rf_topk_axis(null, 2, 3, 1, 4, 1, x23.data, y, new BigInt64Array(8)), "rf_topk_axis"), "invalid_argument", "k = 4 must be in [0, n = 3]");
    // Zero-sized shapes are valid no-ops, even with NULL data.
    k.check(sym.rf_unary_nd(null, 0, 0, 2, BigInt64Array.from([0n, 3n]), null, st, 0, 0, null, st), "rf_unary_nd");
    k.check(sym.rf_reduce(null, 0, 0, 0, 4, 3, null, null), "rf_reduce");
    expectStillHealthy();
  });
});

describe("sequence kernels", () => {
  const base = { q: f32([5, 8]), k: f32([7, 8]), v: f32([7, 6]), qOffsets: offsets(0, 2, 5), kvOffsets: offsets(0, 3, 7), heads: 2 };
  test("jagged attention checks offsets, heads, candidates and the bias before C", () => {
    expect(Array.from(k.seqAttention(base).data).every(Number.isFinite)).toBe(true);
    expect(() => k.seqAttention({ ...base, heads: 3 })).toThrow("seqAttention q: 8 columns do not split into 3 heads");
    expect(() => k.seqAttention({ ...base, qOffsets: offsets(0, 3, 2) })).toThrow("seqAttention qOffsets: decreases at 2 (3 -> 2)");
    expect(() => k.seqAttention({ ...base, kvOffsets: offsets(0, 3, 9) })).toThrow("seqAttention kvOffsets: ends at 9, past the 7 rows given");
    expect(() => k.seqAttention({ ...base, kvOffsets: offsets(0, 7) })).toThrow("seqAttention kvOffsets: expected 3 elements, got 2");
    expect(() => k.seqAttention({ ...base, v: f32([6, 6]) })).toThrow("seqAttention v: has 6 rows, k has 7");
    expect(() => k.seqAttention({ ...base, mask: "falcon" })).toThrow("seqAttention numCandidates: required with the falcon mask");
    expect(() => k.seqAttention({ ...base, mask: "falcon", numCandidates: offsets(1, 5) })).toThrow("seqAttention numCandidates[1] = 5 is outside [0, 4] (the item's kv length)");
    expect(() => k.seqAttention({ ...base, mask: "diagonal" as k.SeqMask })).toThrow('seqAttention mask: unknown value "diagonal"');
    expect(() => k.seqAttention({ ...base, rab: { table: f32([3, 4]) } })).toThrow("seqAttention rab table: expected a contiguous [2, numBuckets >= 1] tensor, got [3, 4]");
    expect(() => k.seqAttention({ ...base, rab: { table: f32([2, 4]), qPos: offsets(1, 2, 3, 4, 5) } })).toThrow("seqAttention rab: give both qPos and kvPos or neither");
    expect(() => k.hstuAttention({ ...base, normLen: -1 })).toThrow("hstuAttention normLen: must be an integer >= 0, got -1");
    expectStillHealthy();
  });
  test("the attention entry points reject bad raw offsets and candidate counts with a status", () => {
    const sym = k.loadLibrary().symbols;
    const x = new Float32Array(64);
    const bad = BigInt64Array.from([0n, 3n, 2n]);
    const ok = BigInt64Array.from([0n, 2n, 4n]);
    expectKernelError(() => k.check(sym.rf_seq_attention(null, 2, 1, 4, 4, x, 4, bad, x, 4, x, 4, ok, 0, null, 1, null, 0, null, null, x, 4), "rf_seq_attention"), "invalid_argument", "q_offsets decreases at 2 (3 -> 2)");
    expectKernelError(() => k.check(sym.rf_seq_attention(null, 2, 1, 4, 4, x, 4, ok, x, 4, x, 4, ok, 2, BigInt64Array.from([1n, 3n]), 1, null, 0, null, null, x, 4), "rf_seq_attention"), "out_of_range", "num_candidates[1] = 3 is outside [0, 2]");
    expectKernelError(() => k.check(sym.rf_hstu_attention(null, 2, 1, 4, 4, x, 3, ok, x, 4, x, 4, ok, 0, null, 1, null, 0, null, null, 0, x, 4), "rf_hstu_attention"), "invalid_argument", /leading dimensions too small/);
    expectKernelError(() => k.check(sym.rf_seq_attention(null, 2, 1, 4, 4, x, 4, ok, x, 4, x, 4, ok, 7, null, 1, null, 0, null, null, x, 4), "rf_seq_attention"), "invalid_argument", "unknown mask 7");
    expectKernelError(() => k.check(sym.rf_token_mix(null, 1, 2, 6, 4, x, 12, x.subarray(32), 12), "rf_token_mix"), "invalid_argument", /must be >= 1 and divide the token dim D = 6/);
    expectStillHealthy();
  });
  test("norm gate, token mix and grouped GEMM check shapes", () => {
    expect(() => k.normGate({ x: f32([2, 4]), u: f32([2, 3]) })).toThrow("normGate u: expected shape [2, 4], got [2, 3]");
    expect(() => k.tokenMix({ x: f32([2, 12]), tokens: 5, heads: 2 })).toThrow("tokenMix tokens: 5 does not divide the 12 columns");
    expect(() => k.tokenMix({ x: f32([2, 12]), tokens: 3, heads: 3 })).toThrow("tokenMix heads: 3 does not divide the token dim 4");
    const w45 = k.PackedWeight.pack(f32([4, 5]));
    expect(() => k.groupedGemm({ x: f32([2, 7]), w: [w34, w34] })).toThrow("groupedGemm x: expected 2 groups × k = 4 = 8 columns, got 7");
    expect(() => k.groupedGemm({ x: f32([2, 8]), w: [w34, w45] })).toThrow("groupedGemm w[1]: is [4, 5], w[0] is [3, 4]");
    expect(() => k.groupedGemm({ x: f32([2, 8]), w: [w34, w34], bias: f32([3]) })).toThrow("groupedGemm bias: expected 6 elements, got 3");
    expect(Array.from(k.groupedGemm({ x: f32([2, 8]), w: [w34, w34], act: "relu" }).data)).toEqual(new Array(12).fill(0.5 * 0.5 * 4));
    w45.dispose();
    expectStillHealthy();
  });
});
