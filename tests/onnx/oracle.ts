// Shared oracle plumbing for the ONNX tests: write a model, run it with
// onnxruntime-node and with rankfn on the same rows, compare every output.
import { expect } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import { loadModel } from "../../sdk";

export const scratchDir = mkdtempSync(join(tmpdir(), "rankfn-onnx-oracle-"));

export type Feed = { dtype: "f32"; dims: number[]; data: Float32Array } | { dtype: "i64"; dims: number[]; data: BigInt64Array } | { dtype: "bool"; dims: number[]; data: Uint8Array };

/** fp32 agreement: |got − want| / max(1e-3, |want|) < tol for every element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-4): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
  expect(worst).toBeLessThan(tol);
}

/**
 * Run `bytes` with onnxruntime-node on `feeds` (all rows of one request) and with rankfn
 * (context inputs sent once), and compare every graph output. Returns rankfn's compiler report.
 */
export async function matchesOrt(name: string, bytes: Uint8Array, feeds: Record<string, Feed>, context: string[] = []): Promise<string[]> {
  const path = join(scratchDir, `${name}.onnx`);
  // Several suites share this folder and each removes it when it ends.
  mkdirSync(scratchDir, { recursive: true });
  writeFileSync(path, bytes);
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor(f.dtype === "f32" ? "float32" : f.dtype === "bool" ? "bool" : "int64", f.data, f.dims)]));
  const want = await session.run(ortFeeds);
  using model = loadModel(path, context.length ? { context } : {});
  const ctx: Record<string, Tensor> = {};
  const cand: Record<string, Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) {
    if (context.includes(k)) {
      const width = f.dims.slice(1).reduce((a, b) => a * b, 1);
      ctx[k] = tensor(f.dtype, [1, width], f.data.slice(0, width) as never);
    } else cand[k] = tensor(f.dtype, f.dims.length === 1 ? [f.dims[0]!, 1] : [f.dims[0]!, f.dims.slice(1).reduce((a, b) => a * b, 1)], f.data as never);
  }
  const got = (await model.rank({ context: ctx, candidates: cand })).outputs;
  for (const [out, t] of Object.entries(want)) {
    expect(got[out]).toBeDefined();
    expectClose(got[out]!.data, t.data as Float32Array);
  }
  return model.inspect().compiler;
}
