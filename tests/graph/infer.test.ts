// Graph IR: validation, shape/dtype/role inference, and the errors a malformed
// graph produces (each naming the node and the problem).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder } from "../../runtime/graph/builder";
import { inferGraph } from "../../runtime/graph/infer";
import { type Graph, parseGraph } from "../../runtime/graph/schema";
import { readModel, writeModel } from "../../runtime/model/model-file";
import { writeSafetensors } from "../../runtime/model/safetensors";
import { tensor } from "../../runtime/tensor/tensor";

const dir = mkdtempSync(join(tmpdir(), "rankfn-graph-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tinyModel() {
  const b = new GraphBuilder("tiny", 7);
  const user = b.input("user_dense", "f32", 4, "context");
  const item = b.input("item_ids", "i64", 3, "candidate", { padding: -1 });
  const u = b.mlp(user, [8, 6]);
  const e = b.embeddingBag(item, 100, 6, "sum", "item_emb");
  const x = b.concat([u, e]);
  const y = b.linear(x, 1, "sigmoid", "head");
  b.output("ctr", y);
  return b.build();
}

test("inference gives every value its per-row shape, dtype and role", () => {
  const { graph } = tinyModel();
  const info = inferGraph(graph);
  const concat = graph.nodes.find((n) => n.op === "concat")!;
  expect(info.values.get(concat.outputs[0]!)).toMatchObject({ dtype: "f32", shape: [12], role: "candidate" });
  // The user tower reads only context inputs: it runs once per request.
  const userTower = graph.nodes.filter((n) => n.name.startsWith("mlp"));
  for (const n of userTower) expect(info.values.get(n.outputs[0]!)!.role).toBe("context");
  expect(info.values.get(graph.outputs.ctr!)).toMatchObject({ shape: [1], role: "candidate" });
  expect(info.attrs.get("item_emb")).toEqual({ mode: "sum", idPolicy: "error" });
});

function mutate(f: (g: Graph) => void): () => void {
  const { graph } = tinyModel();
  const copy = JSON.parse(JSON.stringify(graph)) as Graph;
  f(copy);
  return () => inferGraph(parseGraph(copy));
}

test("malformed graphs are rejected with the node and the problem", () => {
  expect(() => parseGraph({ format: "rankfn.graph/2" })).toThrow("invalid graph: format");
  expect(mutate((g) => (g.nodes[0]!.op = "conv2d"))).toThrow(/node "mlp_0\.0": unknown op "conv2d" \(supported: .*linear.*\)/);
  expect(mutate((g) => (g.nodes.find((n) => n.op === "embedding_bag")!.attrs = { mode: "max" }))).toThrow('node "item_emb" (embedding_bag): bad attributes: mode');
  expect(mutate((g) => g.nodes.reverse())).toThrow("is not a graph input, a weight, or an output of an earlier node");
  expect(mutate((g) => (g.nodes[1]!.name = g.nodes[0]!.name))).toThrow("is defined twice");
  expect(mutate((g) => (g.weights["head.weight"]!.shape = [1, 11]))).toThrow('node "head" (linear): weight "head.weight" has shape [1, 11], expected [*, 12]');
  expect(mutate((g) => (g.outputs.cvr = "nothing"))).toThrow('output "cvr" refers to "nothing", which no node produces');
  expect(mutate((g) => (g.inputs[1]!.dtype = "f32"))).toThrow('node "item_emb" (embedding_bag): input 0 ("item_ids") has dtype f32, expected i32 or i64');
  expect(mutate((g) => (g.weights["head.weight"]!.dtype = "i8"))).toThrow('weight "head.weight": i8 weights need a "scales" weight');
});

test("model files round-trip the graph and weights, and refuse mismatched tensors", () => {
  const model = tinyModel();
  const path = join(dir, "tiny.safetensors");
  writeModel(path, model);
  const loaded = readModel(path);
  expect(loaded.graph).toEqual(model.graph);
  for (const [name, t] of model.weights) expect(Array.from(loaded.weights.get(name)!.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));

  const noGraph = join(dir, "plain.safetensors");
  writeSafetensors(noGraph, { x: tensor("f32", [1]) });
  expect(() => readModel(noGraph)).toThrow('no "rankfn.graph" entry in __metadata__: not a rankfn model');

  const wrong = join(dir, "wrong.safetensors");
  const tensors = Object.fromEntries(model.weights);
  tensors["head.bias"] = tensor("f32", [2]);
  writeSafetensors(wrong, tensors, { metadata: { "rankfn.graph": JSON.stringify(model.graph) } });
  expect(() => readModel(wrong)).toThrow('weight "head.bias" is f32 [2] in the file, the graph declares f32 [1]');

  const missing = join(dir, "missing.safetensors");
  delete tensors["head.bias"];
  writeSafetensors(missing, tensors, { metadata: { "rankfn.graph": JSON.stringify(model.graph) } });
  expect(() => readModel(missing)).toThrow('the graph needs weight "head.bias", which the file does not contain');

  const badGraph = join(dir, "badgraph.safetensors");
  writeSafetensors(badGraph, { x: tensor("f32", [1]) }, { metadata: { "rankfn.graph": "{}" } });
  expect(() => readModel(badGraph)).toThrow("invalid graph");
});
