// A zoo MoE model run expert-parallel on two CPU core groups scores what the
// same model scores on one device (fp32 within 1e-5 relative), for random
// routing and for gates forced to send every row to one expert; int8 weights
// too; on a worker as well; and reports its MoE statistics in stats().
import { afterAll, describe, expect, test } from "bun:test";
import { DeviceError, openDevices } from "../../runtime/devices";
import type { BuiltModel } from "../../runtime/graph/builder";
import { Rng } from "../../runtime/tensor/random";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import { type Model, loadModel } from "../../sdk";
import { buildMoe, type MoeOptions } from "../../sdk/zoo/moe";
import { makeRequest, requestTensors } from "../zoo/requests";
import { relError } from "./fixtures";

const options: Partial<MoeOptions> = { dModel: 24, experts: 6, topK: 2, expertHidden: 32, topMlp: [8, 1] };
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
const keep = (m: Model) => (models.push(m), m);

function request(built: BuiltModel, rows: number, seed: number) {
  const req = makeRequest("moe", rows, new Rng(seed), options);
  const tensors = requestTensors(built.graph, req);
  const context: Record<string, Tensor> = {};
  const candidates: Record<string, Tensor> = {};
  for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = tensors[input.name]!;
  return { context, candidates };
}

/** The model with its gate forced: zero weights, bias favouring `favourite` (then the next experts). */
function forced(favourite: number, topK: number): BuiltModel {
  const built = buildMoe({ ...options, topK });
  const weights = new Map(built.weights);
  const gw = weights.get("moe.gate.weight")!;
  weights.set("moe.gate.weight", tensor("f32", gw.shape, new Float32Array(gw.data.length)));
  weights.set("moe.gate.bias", tensor("f32", [options.experts!], Float32Array.from({ length: options.experts! }, (_, e) => (e === favourite ? 10 : e === favourite + 1 ? 5 : -e))));
  return { graph: built.graph, weights };
}

describe("expert-parallel MoE model equals the single-device model", () => {
  const cases: [string, BuiltModel, string | undefined, number[] | undefined][] = [
    ["random routing", buildMoe(options), undefined, undefined],
    ["every row to expert 3 (top-1; five experts empty)", forced(3, 1), undefined, [0, 0, 0, 234, 0, 0]],
    ["every row to experts 2 and 3 (top-2)", forced(2, 2), undefined, [0, 0, 234, 234, 0, 0]],
    ["int8 weights", buildMoe(options), "int8", undefined],
  ];
  for (const [name, built, precision, load] of cases) {
    test(name, () => {
      const single = keep(loadModel(built, { precision: precision as "int8" | undefined }));
      const parallel = keep(loadModel(built, { precision: precision as "int8" | undefined, experts: { devices: "cpu:2" } }));
      for (const [rows, seed] of [[1, 1], [33, 2], [200, 3]] as const) {
        const req = request(built, rows, seed);
        const want = single.rankSync(req).outputs.ctr!.data;
        const got = parallel.rankSync(req).outputs.ctr!.data;
        expect(relError(got, want)).toBeLessThan(1e-5);
      }
      const moe = parallel.stats().moe!;
      expect(moe.devices.map((d) => d.id)).toEqual(["cpu:0", "cpu:1"]);
      expect(moe.layers[0]!.layer).toBe("moe");
      const topK = built.graph.nodes.find((n) => n.op === "moe")!.attrs!.topK as number;
      expect(moe.layers[0]!.expertLoad.reduce((a, b) => a + b, 0)).toBe(234 * topK);
      expect(moe.layers[0]!.batches).toBe(3);
      if (load) expect(moe.layers[0]!.expertLoad).toEqual(load);
      expect(single.stats().moe).toBeUndefined();
    });
  }
});

test("on a worker: same scores, MoE statistics come back with the batches", async () => {
  const built = buildMoe(options);
  const single = keep(loadModel(built));
  const parallel = keep(loadModel(built, { worker: true, experts: { devices: "cpu:2", replicate: { threshold: 0.25 }, replanEvery: 1 } }));
  await parallel.ready();
  for (const seed of [4, 5]) {
    const req = request(built, 64, seed);
    expect(relError((await parallel.rank(req)).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  }
  const moe = parallel.stats().moe!;
  expect(moe.layers[0]!.batches).toBe(2);
  expect(moe.layers[0]!.replans).toBe(2);
  expect(moe.devices).toHaveLength(2);
});

test("a device failing a batch fails that request with a 503 DeviceError; the next request scores normally", () => {
  const built = buildMoe(options);
  const devices = openDevices("cpu:2");
  const single = keep(loadModel(built));
  const parallel = keep(loadModel(built, { experts: { devices } }));
  const req = request(built, 40, 8);
  devices[0]!.failNextBatch();
  expect(() => parallel.rankSync(req)).toThrow(new DeviceError('MoE layer "moe": device cpu:0 failed the batch: command 0 (fail): injected fault', "cpu:0"));
  expect(relError(parallel.rankSync(req).outputs.ctr!.data, single.rankSync(req).outputs.ctr!.data)).toBeLessThan(1e-5);
  expect(parallel.stats().moe!.layers[0]!.failedBatches).toBe(1);
  parallel.dispose(); // devices passed in stay open: the caller owns them
  expect(devices[0]!.stats().commands).toBeGreaterThan(0);
  devices.forEach((d) => d.dispose());
});
