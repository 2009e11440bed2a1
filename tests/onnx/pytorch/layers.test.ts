// PyTorch layers one at a time (layers.py): each tiny module exported at every
// opset from 13 to 17 with a dynamic batch axis. (a) onnxruntime-node runs the
// file and matches PyTorch — the export itself is right; (b) rankfn imports it
// (runtime/onnx/importer.ts), fires the fusions the case names, ranks its rows
// through loadModel at several batch sizes and matches PyTorch — or, for a
// case in refusedToday, refuses it with a RankfnError naming the failing ONNX
// op and node of the file.
// Tolerance: exports.ts's expectMatches, |got − want| ≤ 1e-4·|want| + 1e-5.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { importOnnx } from "../../../runtime/onnx/importer";
import { loadModel } from "../../../sdk";
import { type ExportedTensor, type PytorchExport, describeWithTorch, expectOrtMatches, expectRefusalNamingNode, expectSame, layerExports, rankingRequest } from "./exports";

/** Every layer case of issue 13 (the suite fails if layers.py loses one). */
const cases = [
  "linear", "embedding",
  "bag_sum_multi_hot", "bag_sum_single_hot", "bag_sum_offsets", "bag_mean_multi_hot", "bag_mean_single_hot", "bag_mean_offsets",
  "bag_max_multi_hot", "bag_max_single_hot", "bag_max_offsets", "bag_sum_offsets_single_hot", "bag_per_sample_weights",
  "layer_norm", "batch_norm", "dropout", "mha_sequence_first", "mha_batch_first", "encoder_sequence_first", "encoder_batch_first",
  "gru_batch_first", "gru_sequence_first", "normalize", "masked_fill", "where", "cat_ids", "stack_ids", "cat_floats", "stack_floats",
  "tril_indices", "triu_indices", "topk", "cumsum",
  // Variants around the same layers: rank-3 inputs, padding, masks, pre-norm, deeper GRUs, other axes, id arithmetic.
  "linear_sequence", "embedding_padding_idx", "layer_norm_two_axes", "batch_norm_sequence", "mha_key_padding", "mha_causal", "mha_target", "mha_target_sequence_first",
  "encoder_norm_first_gelu", "gru_two_layers", "gru_bidirectional", "normalize_axes", "masked_softmax", "topk_smallest_lookup",
  "cumsum_positions", "cumsum_reversed", "where_scalars", "tril_indices_lookup",
  "mha_need_weights", "encoder_key_padding", "gru_initial_state", "masked_fill_broadcast",
  "linear_no_bias", "embedding_fields", "stack_ids_last_axis", "normalize_zero_rows",
  "mha_sequence_first_key_padding", "encoder_stack_sequence_first", "embedding_positions_expand", "embedding_positions_repeat",
];

/**
 * Cases rankfn cannot import yet, as "name" (every opset) or "name@opset": each must be refused
 * with a RankfnError naming the node and op, so when the importer learns one this test fails
 * until it is taken off the list.
 */
const refusedToday: string[] = [];

const refused = (m: PytorchExport) => refusedToday.includes(m.name) || refusedToday.includes(`${m.name}@${m.opset}`);

/** Batch sizes rankfn ranks each export at (the export's own is 5): one row, fewer, more. */
const BATCHES = [5, 1, 3, 12];

/** The given rows of a batch-first tensor (repeats allowed), as a tensor of that many rows. */
function rowsOf(t: ExportedTensor, rows: number[]): ExportedTensor {
  const width = t.data.length / t.shape[0]!;
  const shape = [rows.length, ...t.shape.slice(1)];
  if (t.dtype === "f32") {
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, i) => data.set(t.data.subarray(r * width, (r + 1) * width), i * width));
    return { name: t.name, dtype: "f32", shape, data };
  }
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((r, i) => data.set(t.data.subarray(r * width, (r + 1) * width), i * width));
  return { name: t.name, dtype: "i64", shape, data };
}

describeWithTorch("PyTorch layers at opsets 13 to 17 against PyTorch's own outputs", (python) => {
  const manifest = layerExports(python);
  console.info(`[rankfn tests] layers.py exported ${manifest.models.length} files in ${manifest.seconds.toFixed(1)}s (torch ${manifest.torch})`);

  test("the manifest has every layer case at opsets 13 to 17, and refusedToday names only real cases", () => {
    const names = [...new Set(manifest.models.map((m) => m.name))];
    expect(names.sort()).toEqual([...cases].sort());
    for (const n of names) expect(manifest.models.filter((m) => m.name === n).map((m) => m.opset)).toEqual([13, 14, 15, 16, 17]);
    for (const r of refusedToday) expect(names).toContain(r.split("@")[0]!);
  });

  for (const m of manifest.models) {
    const label = `${m.name} (opset ${m.opset})`;

    test(`${label}: onnxruntime-node runs the export and matches PyTorch`, () => expectOrtMatches(m, label));

    if (!refused(m)) {
      test(`${label}: rankfn imports it${m.fusions.length ? `, fires ${m.fusions.length} expected fusions,` : ""} and matches PyTorch at batches ${BATCHES.join(", ")}`, async () => {
        using model = loadModel(importOnnx(readFileSync(m.path), { name: m.name }));
        const report = model.inspect().compiler.join("\n");
        for (const fusion of m.fusions) expect(report).toMatch(new RegExp(fusion));
        for (const batch of BATCHES) {
          // Every case computes each row on its own, so a batch of other rows must get those rows of PyTorch's answer.
          const rows = Array.from({ length: batch }, (_, i) => (i * 3 + 1) % m.inputs[0]!.shape[0]!);
          const got = (await model.rank(rankingRequest(m.inputs.map((t) => rowsOf(t, rows)), []))).outputs;
          for (const want of m.outputs.map((t) => rowsOf(t, rows))) {
            expect(got[want.name]).toBeDefined();
            expect(got[want.name]!.shape[0]).toBe(batch);
            expectSame(`rankfn ${label} ${want.name} at batch ${batch}`, got[want.name]!.data as ArrayLike<number | bigint>, want);
          }
        }
      });
    } else {
      test(`${label}: rankfn refuses it with a RankfnError naming the ONNX op and node (in refusedToday)`, () =>
        expectRefusalNamingNode(m, label, [], "take it off refusedToday so it must match PyTorch"),
      );
    }
  }
});
