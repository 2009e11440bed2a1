// Calling the kernel library directly: a fused GEMM layer, three embedding
// tables pooled into one concatenated feature buffer, the DLRM interaction,
// and top-k. `bun examples/kernels.ts`
import * as k from "../runtime/ffi";
import { quantizeRowsU8, toF16 } from "../runtime/tensor/quantize";
import { Rng } from "../runtime/tensor/random";
import { columnSlice, tensor } from "../runtime/tensor/tensor";

const rng = new Rng(1);
const batch = 4;
const dim = 8;

// A dense layer y = relu(x·Wᵀ + b): W is packed once (fp32 here; bf16 and int8 work the same way).
using w = k.PackedWeight.pack(tensor("f32", [dim, 5], rng.floats(dim * 5)));
const dense = k.gemm({ x: tensor("f32", [batch, 5], rng.floats(batch * 5)), w, bias: tensor("f32", [dim], rng.floats(dim)), act: "relu" });

// Three tables (fp32, fp16, int8 row-wise) pooled straight into slices of one [batch, 4·dim] buffer.
const features = tensor("f32", [batch, 4 * dim]);
for (let b = 0; b < batch; b++) features.data.set(dense.data.subarray(b * dim, (b + 1) * dim), b * 4 * dim);
const tables = [
  tensor("f32", [100, dim], rng.floats(100 * dim)),
  tensor("f16", [50, dim], toF16(rng.floats(50 * dim))),
  tensor("u8q", [1000, dim], quantizeRowsU8(rng.floats(1000 * dim), 1000, dim)),
];
k.embeddingBags(
  tables.map((table, t) => {
    const hot = t + 1; // 1, 2 and 3 ids per bag
    const ids = Int32Array.from({ length: batch * hot }, () => rng.int(table.shape[0]!));
    const offsets = BigInt64Array.from({ length: batch + 1 }, (_, b) => BigInt(b * hot));
    return { table, ids: tensor("i32", [ids.length], ids), offsets: tensor("i64", [batch + 1], offsets), mode: "sum" as const, out: columnSlice(features, (t + 1) * dim, dim) };
  }),
);

// Pairwise dots of the 4 feature vectors (lower triangle), after the dense vector.
const interaction = k.dotInteraction({ x: features, f: 4, d: dim, concatDense: true });
console.log(`interaction output: [${interaction.shape.join(", ")}] (dense ${dim} + ${(4 * 3) / 2} dots)`);

// The 3 best of each row.
const { values, indices } = k.topk({ x: interaction, k: 3 });
for (let b = 0; b < batch; b++) {
  console.log(`row ${b}: top-3 columns ${Array.from(indices.data.subarray(b * 3, b * 3 + 3)).join(", ")} = ${Array.from(values.data.subarray(b * 3, b * 3 + 3), (v) => v.toFixed(3)).join(", ")}`);
}

// Bad input is a typed error naming the problem, never a crash.
try {
  k.embeddingBag({ table: tables[0]!, ids: tensor("i32", [1], new Int32Array([100])), offsets: tensor("i64", [2], new BigInt64Array([0n, 1n])) });
} catch (err) {
  console.log(`rejected: ${(err as Error).message}`);
}
