// Dense mixtures (zoo MMoE and PLE) run expert-parallel: their expert MLPs
// are grouped into `experts` nodes computed on two CPU core groups, and the
// scores equal the single-device model's (fp32 within 1e-5 relative).
import { afterAll, describe, expect, test } from "bun:test";
import type { BuiltModel } from "../../runtime/graph/builder";
import { compile } from "../../runtime/compiler/compile";
import { groupExperts } from "../../runtime/moe/group-experts";
import { insertBroadcast } from "../../runtime/compiler/insert-broadcast";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type Model, loadModel } from "../../sdk";
import { type ZooName, zoo } from "../../sdk/zoo";
import { makeRequest, requestTensors } from "../zoo/requests";
import { relError } from "./fixtures";

const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));

function request(name: ZooName, built: BuiltModel, rows: number, seed: number) {
  const tensors = requestTensors(built.graph, makeRequest(name, rows, new Rng(seed)));
  const context: Record<string, Tensor> = {};
  const candidates: Record<string, Tensor> = {};
  for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = tensors[input.name]!;
  return { context, candidates };
}

describe.each([
  ["mmoe", 1, 4],
  ["ple", 2, 12], // one group per extraction layer: 2 × 2 task experts + 2 shared
] as const)("%s", (name, groups, chains) => {
  const built = zoo[name].build({});
  test(`group-experts makes ${groups} expert-parallel group(s) of ${chains} chains in all`, () => {
    const lowered = groupExperts.run(insertBroadcast.run(compile(built).model).model).model.graph;
    const nodes = lowered.nodes.filter((n) => n.op === "experts");
    expect(nodes).toHaveLength(groups);
    expect(nodes.reduce((a, n) => a + n.outputs.length, 0)).toBe(chains);
    expect(lowered.nodes.some((n) => n.op === "linear" && n.name.includes("expert"))).toBe(false);
  });

  test("expert-parallel scores equal the single-device scores", () => {
    const single = loadModel(built);
    const parallel = loadModel(built, { experts: { devices: "cpu:2" } });
    models.push(single, parallel);
    for (const [rows, seed] of [[1, 1], [45, 2], [130, 3]] as const) {
      const req = request(name, built, rows, seed);
      const want = single.rankSync(req).outputs;
      const got = parallel.rankSync(req).outputs;
      for (const task of ["ctr", "cvr"]) expect(relError(got[task]!.data, want[task]!.data)).toBeLessThan(1e-5);
    }
    const layers = parallel.stats().moe!.layers;
    expect(layers).toHaveLength(groups);
    for (const l of layers) {
      expect(l.batches).toBe(3);
      expect(l.expertLoad.every((v) => v === 176)).toBe(true); // every row through every expert
      expect(l.deviceRows.every((v) => v > 0)).toBe(true);
    }
  });
});
