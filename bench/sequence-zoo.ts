// End-to-end section of `bun run bench sequence`: the zoo hstu model ranked in
// process (loadModel + rankSync, fp32) at history lengths 256 and 1024 with 64
// and 512 candidates per request (and 4096 with 512 without --quick) — samples/s, ms per request, GFLOP/s from the
// model's FLOP estimate (history once per request + every candidate) and % of
// the fp32 peak measured in the same run; against onnxruntime-node running the
// same model and weights as plain ONNX ops in the per-request form
// (bench/hstu-onnx-model.ts), ctr compared within 1e-4.
import * as ort from "onnxruntime-node";
import { type Model, type RankRequest, loadModel, tensor } from "../sdk";
import { flopsPerRow, zoo } from "../sdk/zoo";
import { hstuOnnxModel } from "./hstu-onnx-model";
import type { Report } from "./report";
import { progress, time } from "./timing";

/** The DLRMv3-like configuration benchmarked (the history length varies). */
export const benchHstu = { embeddingDim: 128, heads: 4, qkDim: 32, vDim: 32, layers: 2, rabBuckets: 12, seed: 5 } as const;

/** A request with a full history of L events and `candidates` items. */
function request(L: number, candidates: number) {
  const ids = (f: (t: number) => number) => tensor("i64", [1, L], BigInt64Array.from({ length: L }, (_, t) => BigInt(f(t))));
  return {
    context: { hist_items: ids((t) => (t * 7919) % 10_000), hist_actions: ids((t) => t % 8) },
    candidates: { item_id: tensor("i64", [candidates, 1], BigInt64Array.from({ length: candidates }, (_, i) => BigInt((i * 104_729) % 10_000))) },
  };
}

/**
 * One request of `candidates` items timed on rankfn and on onnxruntime-node (the same model as
 * ONNX ops, `feeds`), their ctr compared: the row figures both end-to-end sections print, with
 * `work` the request's FLOPs and `peak` the fp32 peak measured in the run.
 */
export async function requestAgainstOrt(
  model: Model, req: RankRequest, session: ort.InferenceSession, feeds: Record<string, ort.Tensor>,
  candidates: number, work: number, peak: number, quick: boolean,
): Promise<Record<string, number | string>> {
  const budget = { warmup: 1, minCalls: 3, minSeconds: quick ? 0.2 : 0.6 };
  const t = await time(() => model.rankSync(req), budget);
  const theirs = await time(() => session.run(feeds), budget);
  const want = (await session.run(feeds)).ctr!.data as Float32Array;
  const got = model.rankSync(req).outputs.ctr!.data as Float32Array;
  let diff = 0;
  for (let i = 0; i < candidates; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
  return {
    "ms / request": t.median * 1e3, "samples/s": candidates / t.median, "GFLOP / request": work / 1e9,
    "GFLOP/s": work / t.median / 1e9, "% peak": (100 * work) / t.median / 1e9 / peak,
    "ORT ms": theirs.median * 1e3, "speed-up": theirs.median / t.median, "max |Δ| vs ORT": diff.toExponential(1), "within 1e-4": diff <= 1e-4 ? "yes" : "NO",
  };
}

/** Adds the zoo hstu section to `report`. */
export async function zooHstuSection(report: Report, peak: number, threads: number, quick: boolean): Promise<void> {
  const section = report.section(
    `zoo hstu end to end (fp32, d = ${benchHstu.embeddingDim}, H = ${benchHstu.heads}, qk/v ${benchHstu.qkDim}/${benchHstu.vDim} per head, ${benchHstu.layers} layers), one request`,
  );
  section.note("GFLOP/s: the model's FLOP estimate (flopsPerRow: the history half once, the candidate half per candidate) per measured call");
  section.note("target: end-to-end MFU on hstu at L = 1024 >= 40%");
  section.note("ORT: the same model and weights as ONNX ops (Gather, Gemm, Split, MatMul, Sigmoid, LayerNormalization), one request per run, the history encoded once in the graph; speed-up: ORT ms / rankfn ms");
  section.note("target: hstu at L = 1024 with 512 candidates >= 2x onnxruntime-node, outputs within 1e-4");
  for (const L of quick ? [256, 1024] : [256, 1024, 4096]) {
    const options = { ...benchHstu, historyLength: L };
    const built = zoo.hstu.build(options);
    const f = flopsPerRow(built.graph);
    using model = loadModel(built, { threads, maxBatch: 512 });
    const session = await ort.InferenceSession.create(hstuOnnxModel(built, options), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
    for (const candidates of quick || L > 1024 ? [512] : [64, 512]) {
      progress(`zoo hstu L=${L} candidates=${candidates}`);
      const req = request(L, candidates);
      const feeds = {
        hist_items: new ort.Tensor("int64", req.context.hist_items.data as BigInt64Array, [L]),
        hist_actions: new ort.Tensor("int64", req.context.hist_actions.data as BigInt64Array, [L]),
        item_id: new ort.Tensor("int64", req.candidates.item_id.data as BigInt64Array, [candidates, 1]),
      };
      const row = await requestAgainstOrt(model, req, session, feeds, candidates, f.context + candidates * f.candidate, peak, quick);
      section.add({ L, candidates, "history GFLOP": f.context / 1e9, ...row });
    }
    await session.release();
  }
}
