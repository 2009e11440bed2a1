// The model zoo: every architecture builds a valid graph with the documented
// inputs and outputs, round-trips through a model file, is deterministic in its
// seed, and its independent float64 reference pass gives sane outputs on
// generated requests (context rows broadcast to every candidate).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inferGraph } from "../../runtime/graph/infer";
import { readModel, writeModel } from "../../runtime/model/model-file";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type ZooName, type ZooOptions, flopsPerRow, parameterCount, zoo, zooNames } from "../../sdk/zoo";
import { DLRM_V2 } from "../../sdk/zoo/dlrm-v2-shape";
import { reference } from "./reference";
import { type ZooRequest, inputSpecs, makeRequest, requestTensors } from "./requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-zoo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const outputs: Record<ZooName, string[]> = {
  dlrm: ["ctr"],
  dcnv2: ["ctr"],
  deepfm: ["ctr"],
  widedeep: ["ctr"],
  din: ["ctr"],
  mmoe: ["ctr", "cvr"],
  ple: ["ctr", "cvr"],
  moe: ["ctr"],
  hstu: ["ctr"],
  rankmixer: ["ctr"],
  bst: ["ctr"],
};

function bytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function sameWeights(a: Map<string, Tensor>, b: Map<string, Tensor>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u || u.dtype !== t.dtype || u.shape.join() !== t.shape.join() || Buffer.compare(bytes(t), bytes(u)) !== 0) return false;
  }
  return true;
}

/** The request with only candidate row i (same context). */
function onlyRow(req: ZooRequest, i: number): ZooRequest {
  return { rows: 1, context: req.context, candidates: Object.fromEntries(Object.entries(req.candidates).map(([k, rows]) => [k, [rows[i]!]])) };
}

for (const name of zooNames) {
  describe(name, () => {
    const model = zoo[name].build();

    test("builds a valid graph with the documented inputs and outputs", () => {
      const info = inferGraph(model.graph);
      expect(Object.keys(model.graph.outputs).sort()).toEqual([...outputs[name]].sort());
      for (const out of outputs[name]) expect(info.values.get(model.graph.outputs[out]!)).toMatchObject({ dtype: "f32", shape: [1], role: "candidate" });
      const specs = inputSpecs(name);
      expect(model.graph.inputs.map((i) => ({ name: i.name, dtype: i.dtype, width: i.shape[0], role: i.role }))).toEqual(
        specs.map((s) => ({ name: s.name, dtype: s.dtype, width: s.width, role: s.role })),
      );
      for (const i of model.graph.inputs) if (i.dtype === "i64") expect(i.padding).toBe(-1);
      // Both roles appear: context features are exercised, and the model scores candidates.
      expect(new Set(model.graph.inputs.map((i) => i.role))).toEqual(new Set(["context", "candidate"]));
      // Every weight the graph names was generated, and nothing else.
      expect([...model.weights.keys()].sort()).toEqual(Object.keys(model.graph.weights).sort());
      expect(parameterCount(model)).toBeGreaterThan(0);
      const flops = flopsPerRow(model.graph);
      expect(flops.candidate).toBeGreaterThan(0);
    });

    test("round-trips through a model file", () => {
      const path = join(dir, `${name}.safetensors`);
      const size = writeModel(path, model);
      const loaded = readModel(path);
      expect(loaded.bytes).toBe(size);
      expect(loaded.graph).toEqual(model.graph);
      expect(sameWeights(loaded.weights, model.weights)).toBe(true);
      rmSync(path);
    });

    test("the same seed gives the same weights, another seed different ones", () => {
      const again = zoo[name].build();
      expect(again.graph).toEqual(model.graph);
      expect(sameWeights(again.weights, model.weights)).toBe(true);
      const other = zoo[name].build({ seed: 2 });
      expect(other.graph).toEqual(model.graph);
      for (const [w, t] of other.weights) {
        // Every randomly drawn tensor changes (all of them are, except a few with one element drawn the same by chance).
        if (t.data.length > 1) expect(Buffer.compare(bytes(t), bytes(model.weights.get(w)!))).not.toBe(0);
      }
    });

    test("the reference pass gives finite probabilities, with context broadcast", () => {
      const req = makeRequest(name, 7, new Rng(11));
      // The generated request fits the graph's inputs exactly.
      const tensors = requestTensors(model.graph, req);
      for (const input of model.graph.inputs) expect(tensors[input.name]!.shape).toEqual([input.role === "context" ? 1 : 7, input.shape[0]!]);
      const out = reference(name, {}, model.weights, req);
      expect(Object.keys(out).sort()).toEqual([...outputs[name]].sort());
      for (const o of outputs[name]) {
        const v = out[o]!;
        expect(v.length).toBe(7);
        for (const p of v) {
          expect(Number.isFinite(p)).toBe(true);
          // In (0, 1), and away from saturation so compiled f32 execution can be compared with it.
          expect(p).toBeGreaterThan(0.01);
          expect(p).toBeLessThan(0.99);
        }
        // Candidate features matter: the rows are not all scored the same.
        expect(new Set(v).size).toBeGreaterThan(1);
      }
      // Broadcasting the one context row gives each candidate what scoring it alone gives.
      const single = reference(name, {}, model.weights, onlyRow(req, 3));
      for (const o of outputs[name]) expect(single[o]![0]).toBe(out[o]![3]!);
      // Context features matter too: another user changes the scores.
      const other = makeRequest(name, 7, new Rng(12));
      const moved = reference(name, {}, model.weights, { ...req, context: other.context });
      expect(Array.from(moved[outputs[name][0]!]!)).not.toEqual(Array.from(out[outputs[name][0]!]!));
    });
  });
}

describe("shapes and options", () => {
  test("DLRM has the MLPerf DLRM-v2 shape", () => {
    const { graph } = zoo.dlrm.build({ scale: 1e-6 });
    const info = inferGraph(graph);
    const cross = graph.nodes.filter((n) => n.op === "cross");
    expect(cross.length).toBe(3);
    for (const n of cross) {
      expect(info.values.get(n.outputs[0]!)!.shape).toEqual([3456]);
      expect(graph.weights[n.inputs[2]!]!.shape).toEqual([512, 3456]);
      expect(graph.weights[n.inputs[3]!]!.shape).toEqual([3456, 512]);
    }
    expect(graph.inputs.filter((i) => i.name.startsWith("cat_")).map((i) => i.shape[0])).toEqual([...DLRM_V2.multiHot]);
    expect(graph.inputs.filter((i) => i.role === "context").map((i) => i.name)).toEqual(Array.from({ length: 8 }, (_, i) => `cat_${i}`));
    // ≈ 16M multiply-adds per row (REFERENCE.md), all of it per candidate (the context part is just 8 lookups).
    const flops = flopsPerRow(graph);
    expect(flops.candidate / 2).toBeGreaterThan(15.5e6);
    expect(flops.candidate / 2).toBeLessThan(16.5e6);
    // Tables scale with a 1-row minimum.
    expect(graph.weights["emb_5.table"]!.shape).toEqual([1, 128]);
    expect(graph.weights["emb_0.table"]!.shape).toEqual([40, 128]);
  });

  const variants: { [N in ZooName]?: Partial<ZooOptions[N]> } = {
    dlrm: { multiHot: [2, 1, 3], tableRows: [50, 20, 9], contextFeatures: 1, embeddingDim: 8, bottomMlp: [16, 8], crossRank: 4, crossLayers: 2, topMlp: [16, 1] },
    dcnv2: { structure: "parallel", crossLayers: 2, deepMlp: [32, 16] },
    din: { sequenceLength: 5, embeddingDim: 8, attentionHidden: 6, attentionAct: "relu", mlp: [16, 1] },
    mmoe: { experts: 3, tasks: ["ctr", "cvr", "dwell"] },
    ple: { layers: 3, sharedExperts: 1, taskExperts: 3 },
    moe: { experts: 4, topK: 4, expertAct: "silu" },
    hstu: { rab: "time", rabBuckets: 20, layers: 1, historyLength: 16, heads: 4, qkDim: 8, vDim: 16 },
    rankmixer: { tokens: 2, blocks: 1, tokenDim: 16 },
  };

  for (const [name, options] of Object.entries(variants) as [ZooName, Partial<ZooOptions[ZooName]>][]) {
    test(`${name} with non-default options builds, and its reference follows`, () => {
      const model = (zoo[name].build as (o: typeof options) => ReturnType<typeof zoo.dlrm.build>)(options);
      inferGraph(model.graph);
      const req = makeRequest(name, 5, new Rng(3), options as never);
      requestTensors(model.graph, req);
      const out = reference(name, options as never, model.weights, req);
      for (const v of Object.values(out)) for (const p of v) expect(p > 0 && p < 1).toBe(true);
    });
  }

  test("unknown options and impossible sizes are refused", () => {
    expect(() => zoo.dcnv2.build({ crossLayer: 2 } as never)).toThrow('unknown option "crossLayer"');
    expect(() => zoo.moe.build({ topK: 9 })).toThrow("topK 9 exceeds the 8 experts");
    expect(() => zoo.dlrm.build({ bottomMlp: [512, 64] })).toThrow("must end at the embedding dim 128");
    expect(() => zoo.deepfm.build({ scale: 0 })).toThrow("scale must be a positive number");
  });

  test("DIN with no history attends to nothing; padded slots are masked", () => {
    const options = { sequenceLength: 4, embeddingDim: 4, attentionHidden: 3, mlp: [8, 1] };
    const model = zoo.din.build(options);
    const req = makeRequest("din", 2, new Rng(5), options);
    const empty = { ...req, context: { ...req.context, hist: [-1, -1, -1, -1] } };
    // With every slot padded the attended vector is zero, whatever the (garbage-free) table holds:
    // zeroing the whole item table except the candidates' rows leaves the output unchanged.
    const a = reference("din", options, model.weights, empty);
    const table = model.weights.get("item.table")!;
    const zeroed = new Map(model.weights);
    const data = new Float32Array(table.data as Float32Array);
    const keep = new Set(req.candidates.item_id!.map((r) => r[0]!));
    for (let r = 0; r < table.shape[0]!; r++) if (!keep.has(r)) data.fill(0, r * 4, r * 4 + 4);
    zeroed.set("item.table", { ...table, data });
    expect(reference("din", options, zeroed, empty).ctr).toEqual(a.ctr);
    // A history changes the scores.
    const full = { ...req, context: { ...req.context, hist: [1, 2, -1, -1] } };
    expect(Array.from(reference("din", options, model.weights, full).ctr!)).not.toEqual(Array.from(a.ctr!));
  });
});

test("rankfn zoo writes a model file and reports its size and parameters", () => {
  const out = join(dir, "cli-moe.safetensors");
  const cli = join(import.meta.dir, "../../sdk/cli.ts");
  const run = Bun.spawnSync([process.execPath, cli, "zoo", "moe", out, "--scale", "0.001", "--seed", "4"]);
  expect(run.exitCode).toBe(0);
  const stdout = run.stdout.toString();
  const model = zoo.moe.build({ scale: 0.001, seed: 4 });
  expect(stdout).toContain(`params    ${parameterCount(model).toLocaleString("en-US")}`);
  expect(run.stderr.toString()).toContain("100%");
  const loaded = readModel(out);
  expect(stdout).toContain(`(${loaded.bytes.toLocaleString("en-US")} bytes)`);
  expect(sameWeights(loaded.weights, model.weights)).toBe(true);

  const bad = Bun.spawnSync([process.execPath, cli, "zoo", "nope", out]);
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr.toString()).toContain('unknown model "nope"');
});

test("DeepFM's reference second-order term is the sum of pairwise field dot products", () => {
  const options = { multiHot: [2, 1, 3], tableRows: [30, 20, 10], contextFeatures: 1, embeddingDim: 4, deepMlp: [8], scale: 1 };
  const model = zoo.deepfm.build(options);
  // Silence every other term: first-order tables, the dense linear and the deep output layer.
  const weights = new Map(model.weights);
  for (const [name, t] of model.weights) {
    if (/^w1_|^dense_linear\.|^deep\.1\./.test(name)) weights.set(name, { ...t, data: new Float32Array(t.data.length) });
  }
  const req = makeRequest("deepfm", 4, new Rng(9), options);
  const ctr = reference("deepfm", options, weights, req).ctr!;
  for (let i = 0; i < 4; i++) {
    const v = [0, 1, 2].map((k) => {
      const ids = k === 0 ? req.context.field_0! : req.candidates[`field_${k}`]![i]!;
      const table = model.weights.get(`emb_${k}.table`)!.data as Float32Array;
      const out = [0, 0, 0, 0];
      for (const id of ids) if (id >= 0) for (let c = 0; c < 4; c++) out[c]! += table[id * 4 + c]!;
      return out;
    });
    let pairs = 0;
    for (let a = 0; a < 3; a++) for (let b = a + 1; b < 3; b++) for (let c = 0; c < 4; c++) pairs += v[a]![c]! * v[b]![c]!;
    expect(ctr[i]!).toBeCloseTo(1 / (1 + Math.exp(-pairs)), 12);
  }
});
