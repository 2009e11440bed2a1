// PyTorch as the oracle for real exports: every architecture of models.py at
// opsets 14 and 17. (a) onnxruntime-node runs the file and matches PyTorch —
// the export itself is right; (b) rankfn either imports it, ranks the same
// batch and matches PyTorch with its expected fusions fired, or refuses it at
// load with a RankfnError naming the failing ONNX op and node of the file.
// Tolerance: |got − want| ≤ 1e-4·|want| + 1e-5 (fp32; the floor covers
// outputs near zero, where a relative bound means nothing).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { importOnnx } from "../../../runtime/onnx/importer";
import type { Tensor } from "../../../runtime/tensor/tensor";
import { type Model, loadModel } from "../../../sdk";
import { type PytorchExport, describePytorch, expectMatches, expectOrtMatches, expectRefusalNamingNode, rankingRequest } from "./exports";

/**
 * The models that must import today and match PyTorch. Every other model must be refused
 * with a RankfnError naming the op and node, so when the importer learns a model this test
 * fails until the model is added here — grow the list with the importer.
 */
const importsToday: string[] = [
  "dlrm", "torchrec_dlrm", "dcn_v2", "deepfm", "xdeepfm", "autoint", "wide_deep", "two_tower", "din", "dien", "bst", "bst_padded", "sasrec", "mmoe", "ple", "youtube_dnn",
  "hstu", "hstu_one_event", "hstu_no_rab", "hstu_gaps", "hstu_bidirectional", "hstu_full_bias",
];

/** Rank the fixed batch as one request: its context inputs once, the rest per candidate. */
async function rankWithRankfn(model: Model, m: PytorchExport): Promise<Record<string, Tensor>> {
  return (await model.rank(rankingRequest(m.inputs, m.context))).outputs;
}

describePytorch("PyTorch exports against PyTorch's own outputs", (manifest) => {
  test("the manifest has every architecture at opsets 14 and 17, and importsToday names only real models", () => {
    const names = new Set(manifest.models.map((m) => m.name));
    expect(names.size).toBeGreaterThanOrEqual(14);
    for (const n of names) expect(manifest.models.filter((m) => m.name === n).map((m) => m.opset)).toEqual([14, 17]);
    for (const n of importsToday) expect(names.has(n)).toBe(true);
  });

  test("every context input repeats one user's row over the batch (what rankfn sends once)", () => {
    for (const m of manifest.models) {
      for (const input of m.inputs.filter((i) => m.context.includes(i.name))) {
        const width = input.data.length / input.shape[0]!;
        for (let i = width; i < input.data.length; i++) expect(input.data[i]).toBe(input.data[i % width]!);
      }
    }
    expect(manifest.models.filter((m) => m.context.length).map((m) => m.name)).toEqual(expect.arrayContaining(["din", "dien", "bst", "sasrec"]));
  });

  for (const m of manifest.models) {
    const label = `${m.name} (opset ${m.opset})`;

    test(`${label}: onnxruntime-node runs the export and matches PyTorch`, () => expectOrtMatches(m, label));

    if (importsToday.includes(m.name)) {
      test(`${label}: rankfn imports it, fires ${m.fusions.length} expected fusions, and matches PyTorch`, async () => {
        const built = importOnnx(readFileSync(m.path), { name: m.name });
        expect(built.graph.inputs.filter((i) => i.role === "context").map((i) => i.name).sort()).toEqual([...m.context].sort());
        using model = loadModel(built);
        const report = model.inspect().compiler.join("\n");
        for (const fusion of m.fusions) expect(report).toMatch(new RegExp(fusion));
        const got = await rankWithRankfn(model, m);
        for (const want of m.outputs) {
          expect(got[want.name]).toBeDefined();
          expectMatches(`rankfn ${label} ${want.name}`, got[want.name]!.data as Float32Array, want.data as Float32Array);
        }
      });
    } else {
      test(`${label}: rankfn refuses it with a RankfnError naming the ONNX op and node (not in importsToday)`, () =>
        expectRefusalNamingNode(m, label, m.context, `check it matches PyTorch by adding "${m.name}" to importsToday`),
      );
    }
  }
});
