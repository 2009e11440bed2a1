// BST section of `bun run bench sequence`: the zoo bst model ranked in process
// (loadModel + rankSync, fp32) at history lengths 256 and 1024 with 64 and 512
// candidates per request (and 4096 with 512 without --quick), against onnxruntime-node running the same model and
// weights as plain ONNX ops in the per-request form (bench/bst-onnx-model.ts):
// ms per request, samples/s, GFLOP/s and % of the measured fp32 peak, speed-up,
// ctr compared within 1e-4.
import * as ort from "onnxruntime-node";
import { loadModel, tensor } from "../sdk";
import { flopsPerRow, zoo } from "../sdk/zoo";
import { bstOnnxModel } from "./bst-onnx-model";
import type { Report } from "./report";
import { requestAgainstOrt } from "./sequence-zoo";
import { progress } from "./timing";

/** The configuration benchmarked (the history length varies). */
export const benchBst = { embeddingDim: 128, heads: 4, layers: 2, ffnDim: 256, seed: 5 } as const;

/** Adds the zoo bst section to `report`. */
export async function zooBstSection(report: Report, peak: number, threads: number, quick: boolean): Promise<void> {
  const section = report.section(`zoo bst end to end (fp32, d = ${benchBst.embeddingDim}, H = ${benchBst.heads}, FFN ${benchBst.ffnDim}, ${benchBst.layers} blocks), one request`);
  section.note("GFLOP/s: the model's FLOP estimate (flopsPerRow: the history half once, the candidate half per candidate) per measured call; speed-up: ORT ms / rankfn ms");
  section.note("ORT: the same model and weights as ONNX ops (Gather, Gemm, Split, MatMul, Softmax, LayerNormalization), one request per run, the history encoded once in the graph");
  section.note("target: bst at L = 1024 with 512 candidates >= 2x onnxruntime-node, outputs within 1e-4");
  for (const L of quick ? [256, 1024] : [256, 1024, 4096]) {
    const options = { ...benchBst, historyLength: L };
    const built = zoo.bst.build(options);
    const f = flopsPerRow(built.graph);
    using model = loadModel(built, { threads, maxBatch: 512 });
    const session = await ort.InferenceSession.create(bstOnnxModel(built, options), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
    const hist = BigInt64Array.from({ length: L }, (_, t) => BigInt((t * 7919) % 10_000));
    for (const candidates of quick || L > 1024 ? [512] : [64, 512]) {
      progress(`zoo bst L=${L} candidates=${candidates}`);
      const items = BigInt64Array.from({ length: candidates }, (_, i) => BigInt((i * 104_729) % 10_000));
      const req = { context: { hist: tensor("i64", [1, L], hist) }, candidates: { item_id: tensor("i64", [candidates, 1], items) } };
      const feeds = { hist: new ort.Tensor("int64", hist, [L]), item_id: new ort.Tensor("int64", items, [candidates, 1]) };
      section.add({ L, candidates, ...(await requestAgainstOrt(model, req, session, feeds, candidates, f.context + candidates * f.candidate, peak, quick)) });
    }
    await session.release();
  }
}
