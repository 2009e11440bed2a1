// Which int8 GEMM weights get per-segment activation ranges, and where the groups fall
// (runtime/compiler/activation-groups.ts), on the graphs the quantize pass sees.
import { expect, test } from "bun:test";
import { dcnV2Onnx } from "../../bench/onnx-models";
import { activationGroups, groupBounds } from "../../runtime/compiler/activation-groups";
import { compile } from "../../runtime/compiler/compile";
import { importOnnx } from "../../runtime/onnx/importer";
import { zoo } from "../../sdk";

test("group bounds: one per segment, narrow runs of one kind merged, inner bounds on k-quads, long groups split", () => {
  const emb = (n: number) => Array.from({ length: n }, () => ({ width: 16, kind: "embedding_bags" }));
  expect(groupBounds([{ width: 128, kind: "linear" }, { width: 128, kind: "embedding_bags" }, { width: 128, kind: "embedding_bags" }])).toEqual([0, 128, 256, 384]);
  // 13 dense columns stay apart from the 16-wide embeddings (bound 13 -> 12), which share one group.
  expect(groupBounds([{ width: 13, kind: "input" }, ...emb(3)])).toEqual([0, 12, 61]);
  expect(groupBounds([{ width: 600, kind: "row" }], 256)).toEqual([0, 256, 512, 600]);
  expect(groupBounds([{ width: 2, kind: "input" }, { width: 2, kind: "linear" }, { width: 40, kind: "linear" }])).toEqual([0, 4, 44]);
});

test("DLRM: the cross layers' V and the first top layer read 27 segments of 128; nothing else is grouped", () => {
  const built = zoo.dlrm.build({ scale: 0.0001 });
  const graph = compile(built, { precision: "f32" }).model.graph;
  const groups = activationGroups(graph);
  expect([...groups.keys()].sort()).toEqual(["cross_0.V", "cross_1.V", "cross_2.V", "top.0.weight"]);
  expect(groups.get("top.0.weight")).toEqual(Array.from({ length: 28 }, (_, i) => i * 128));
  // int8 compilation records them on the weights (what the weight cache passes to rf_weight_set_act_groups).
  const int8 = compile(built, { precision: "int8" }).model.graph;
  expect(int8.weights["cross_1.V"]!.actGroups).toEqual(groups.get("cross_1.V"));
  expect(int8.weights["top.1.weight"]!.actGroups).toBeUndefined();
  expect(compile(built, { precision: "int8", activationGroups: "row" }).model.graph.weights["cross_1.V"]!.actGroups).toBeUndefined();
});

test("imported DCN-v2: dense and embeddings get their own ranges in the cross layers and the deep tower", () => {
  const m = dcnV2Onnx(1);
  const graph = compile(importOnnx(m.bytes, { context: m.context }), { precision: "f32" }).model.graph;
  const groups = activationGroups(graph);
  expect(groups.get("deep.0.weight")).toEqual([0, 12, 429]);
  expect(groups.get("cross_2.weight.fused")).toEqual([0, 12, 429]);
  // The head reads [cross output (dense | embeddings), deep tower 256]: the bound 429 rounds down to 428.
  expect(groups.get("head.weight")).toEqual([0, 12, 428, 685]);
});
