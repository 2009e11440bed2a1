// The zoo RankMixer's sparse-MoE variant (each token's FFN a mixture of its own
// experts, ReLU routing) with its experts on two CPU core groups scores what
// the single-device model scores (fp32 within 1e-5 relative), and the routing
// is sparse: tokens run between 0 and topK experts, so the experts' load is
// below rows × topK per token layer.
import { afterAll, expect, test } from "bun:test";
import type { BuiltModel } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type Model, loadModel } from "../../sdk";
import { type RankmixerOptions, buildRankmixer } from "../../sdk/zoo/rankmixer";
import { makeRequest, requestTensors } from "../zoo/requests";
import { relError } from "./fixtures";

const options: Partial<RankmixerOptions> = {
  multiHot: [1, 2, 1, 1, 3], tableRows: [40, 30, 20, 10, 5], contextFeatures: 2, tokens: 3, tokenDim: 12, blocks: 2, embeddingDim: 8, scale: 1,
  moe: { experts: 6, topK: 3, hidden: 16 },
};
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
const keep = (m: Model) => (models.push(m), m);

function request(built: BuiltModel, rows: number, seed: number) {
  const tensors = requestTensors(built.graph, makeRequest("rankmixer", rows, new Rng(seed), options));
  const context: Record<string, Tensor> = {};
  const candidates: Record<string, Tensor> = {};
  for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = tensors[input.name]!;
  return { context, candidates };
}

test("experts on two core groups score as on one device; ReLU routing runs fewer than topK experts per token", () => {
  const built = buildRankmixer(options);
  const moeNodes = built.graph.nodes.filter((n) => n.op === "moe");
  expect(moeNodes).toHaveLength(2 * 3); // blocks × tokens
  expect(moeNodes.every((n) => n.attrs!.routing === "relu")).toBe(true);
  const single = keep(loadModel(built));
  const parallel = keep(loadModel(built, { experts: { devices: "cpu:2" } }));
  const rows = [1, 40, 151];
  rows.forEach((n, i) => {
    const req = request(built, n, 10 + i);
    expect(relError(parallel.rankSync(req).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  });
  const layers = parallel.stats().moe!.layers;
  expect(layers).toHaveLength(6);
  const total = rows.reduce((a, b) => a + b, 0);
  for (const layer of layers) {
    const load = layer.expertLoad.reduce((a, b) => a + b, 0);
    expect(load).toBeGreaterThan(0);
    expect(load).toBeLessThan(total * 3);
  }
});
