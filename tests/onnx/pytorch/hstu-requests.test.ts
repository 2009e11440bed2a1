// The imported PyTorch HSTU with its history half run once per request
// (compiler/split-history-tokens.ts): several requests in one batch, each with
// a history of its own (leading padding, holes, one event, none padded) and a
// different number of candidates, against onnxruntime-node running the same
// file on every candidate row (the history repeated per row) — 1e-4 relative.
// The same requests imported flat (no context inputs: nothing to split) agree.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { importOnnx } from "../../../runtime/onnx/importer";
import { tensor } from "../../../runtime/tensor/tensor";
import { loadModel } from "../../../sdk";
import type { RankingRequest } from "../../../sdk/request";
import { describePytorch, expectMatches } from "./exports";

const L = 16;
/** Histories (0 = padding) and each request's candidate item ids. */
const REQUESTS: { hist: number[]; candidates: number[] }[] = [
  { hist: [...Array(L - 5).fill(0), 11, 402, 7, 93, 250], candidates: [5, 17, 803] },
  { hist: [0, 0, 0, 61, 8, 0, 0, 300, 41, 0, 2, 9, 77, 530, 18, 6], candidates: [44] },
  { hist: [...Array(L - 1).fill(0), 999], candidates: [12, 600] },
  { hist: Array.from({ length: L }, (_, t) => 100 + 37 * t), candidates: [3, 31, 310, 901] },
];
const actionsOf = (hist: number[]) => hist.map((id, t) => (id === 0 ? 0 : 1 + (t % 3)));

async function ortScores(path: string, r: (typeof REQUESTS)[number]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const c = r.candidates.length;
  const rows = (xs: number[]) => BigInt64Array.from({ length: c * xs.length }, (_, t) => BigInt(xs[t % xs.length]!));
  const feeds = {
    hist: new ort.Tensor("int64", rows(r.hist), [c, L]),
    hist_actions: new ort.Tensor("int64", rows(actionsOf(r.hist)), [c, L]),
    target_item: new ort.Tensor("int64", BigInt64Array.from(r.candidates, BigInt), [c, 1]),
  };
  return (await session.run(feeds)).ctr!.data as Float32Array;
}

const request = (r: (typeof REQUESTS)[number], flat: boolean): RankingRequest => {
  const c = r.candidates.length;
  const i64 = (xs: number[], rows: number) => tensor("i64", [rows, xs.length / rows], BigInt64Array.from(xs, BigInt));
  const user = { hist: i64(r.hist, 1), hist_actions: i64(actionsOf(r.hist), 1) };
  const items = { target_item: i64(r.candidates, c) };
  if (!flat) return { context: user, candidates: items };
  const tiled = (xs: number[]) => i64(Array.from({ length: c * xs.length }, (_, t) => xs[t % xs.length]!), c);
  return { context: {}, candidates: { ...items, hist: tiled(r.hist), hist_actions: tiled(actionsOf(r.hist)) } };
};

describePytorch("an imported PyTorch HSTU, its history half once per request", (manifest) => {
  for (const name of ["hstu", "hstu_no_rab", "hstu_gaps"]) {
    for (const opset of [14, 17]) {
      const m = manifest.models.find((x) => x.name === name && x.opset === opset)!;
      test(`${name} (opset ${opset}): ${REQUESTS.length} requests in one batch match onnxruntime, split and flat`, async () => {
        const want = await Promise.all(REQUESTS.map((r) => ortScores(m.path, r)));
        using split = loadModel(importOnnx(readFileSync(m.path), { name }));
        expect(split.inspect().compiler.join("\n")).toMatch(/split-history: 2 HSTU attentions split, their history tokens computed once per request/);
        using flat = loadModel(importOnnx(readFileSync(m.path), { name, context: [] }));
        expect(flat.inspect().compiler.join("\n")).toMatch(/split-history: 0 HSTU attentions split/);
        for (const [model, isFlat] of [[split, false], [flat, true]] as const) {
          const got = await model.rankMany(REQUESTS.map((r) => request(r, isFlat)));
          got.forEach((res, i) => expectMatches(`${name} opset ${opset} ${isFlat ? "flat" : "split"} request ${i}`, res.outputs.ctr!.data as Float32Array, want[i]!));
        }
      });
    }
  }
});
