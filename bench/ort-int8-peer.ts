// onnxruntime-node running the int8 twin (ort-int8-twin.ts) of a `bench onnx`
// file, in the two ways ORT's CPU EP can compute it: its default u8s8 kernels
// (on AVX2/AVX-512 without VNNI these use vpmaddubsw, whose pairwise s16 sums
// saturate for u8 activations × s8 weights — what a user gets by default), and
// the exact u8u8 path (`session.x64quantprecision=1`). With VNNI both are exact.
// Plus the plumbing to score the accuracy harness's ranking requests with ORT.
import { writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import type { RankingRequest } from "../runtime/engine/request";
import { RankfnError } from "../runtime/errors";
import { flatRows } from "../runtime/quality/peer-accuracy";
import type { RequestOutputs } from "../runtime/quality/score-columns";
import type { Tensor } from "../runtime/tensor/tensor";
import { int8Twin } from "./ort-int8-twin";

/** The session options `bench onnx` gives every ORT session (2 intra-op threads, all graph optimisations). */
export const ORT_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: "all" };

export interface Int8Peer {
  /** ORT's default int8 kernels. */
  u8s8: ort.InferenceSession;
  /** ORT's exact u8u8 kernels (session.x64quantprecision=1). */
  u8u8: ort.InferenceSession;
  /** MatMul/Gemm layers the twin quantized. */
  quantized: number;
  release(): Promise<void>;
}

/** Write the int8 twin of `fp32Bytes` to `path` and open it both ways. */
export async function openInt8Peer(fp32Bytes: Uint8Array, path: string, options: ort.InferenceSession.SessionOptions = ORT_OPTIONS): Promise<Int8Peer> {
  const twin = int8Twin(fp32Bytes);
  writeFileSync(path, twin.bytes);
  const u8s8 = await ort.InferenceSession.create(path, options);
  const u8u8 = await ort.InferenceSession.create(path, { ...options, extra: { session: { x64quantprecision: "1" } } });
  return { u8s8, u8u8, quantized: twin.quantized.length, release: async () => void (await Promise.all([u8s8.release(), u8u8.release()])) };
}

/** rankfn tensors (f32, i64) as ORT feeds. */
export function ortFeeds(rows: Record<string, Tensor>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(rows)) {
    if (t.dtype !== "f32" && t.dtype !== "i64") throw new RankfnError(`ortFeeds: input ${name} is ${t.dtype}; the bench models take f32 and i64`, "bad_dtype");
    feeds[name] = new ort.Tensor(t.dtype === "f32" ? "float32" : "int64", t.data as Float32Array | BigInt64Array, t.shape);
  }
  return feeds;
}

/** `session`'s outputs for each ranking request, its context repeated per candidate (flat rows). */
export async function ortOutputs(session: ort.InferenceSession, requests: RankingRequest[]): Promise<RequestOutputs[]> {
  const all: RequestOutputs[] = [];
  for (const req of requests) {
    const out = await session.run(ortFeeds(flatRows(req)));
    all.push(Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { dims: t.dims, data: t.data as Float32Array }])));
  }
  return all;
}
