// Test fixture: describe() over the PyTorch exports (manifest.ts). Where no
// python with torch exists the suites skip with a message — except under
// CI=true, where that is a failure. Also what the suites compare with: the
// tolerance against PyTorch, an exported batch as a ranking request, and the
// checks every export gets (onnxruntime matches PyTorch; a refusal names its node).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { RankfnError } from "../../../runtime/errors";
import { isCI } from "../../../runtime/ffi";
import { importOnnx } from "../../../runtime/onnx/importer";
import { type Tensor, tensor } from "../../../runtime/tensor/tensor";
import { loadModel } from "../../../sdk";
import type { RankingRequest } from "../../../sdk/request";
import { type ExportedTensor, type PytorchExport, type PytorchManifest, findTorchPython, pytorchExports } from "./manifest";

export * from "./manifest";

/** Tolerance against PyTorch: |got − want| ≤ REL·|want| + ABS (fp32; the floor covers outputs near zero). */
export const REL = 1e-4;
export const ABS = 1e-5;

/** Every element within REL relative (ABS absolute floor); reports the worst element. */
export function expectMatches(label: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  let worst = { i: -1, excess: 0 };
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i]! - want[i]!) - (REL * Math.abs(want[i]!) + ABS);
    if (!(excess <= 0) && (worst.i < 0 || !(excess <= worst.excess))) worst = { i, excess };
  }
  if (worst.i >= 0) throw new Error(`${label}: element ${worst.i} is ${got[worst.i]}, PyTorch says ${want[worst.i]} (tolerance ${REL} relative + ${ABS})`);
}

/** An exported batch as one ranking request: its context inputs once (the batch repeats the user's row, so row 0), the rest per candidate. */
export function rankingRequest(inputs: ExportedTensor[], context: string[]): RankingRequest {
  const ctx: Record<string, Tensor> = {};
  const candidates: Record<string, Tensor> = {};
  for (const input of inputs) {
    const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
    if (context.includes(input.name)) ctx[input.name] = tensor(input.dtype, [1, width], input.data.slice(0, width) as never);
    else candidates[input.name] = tensor(input.dtype, [input.shape[0]!, width], input.data as never);
  }
  return { context: ctx, candidates };
}

/** describe() over the PyTorch exports when torch is installed; otherwise a skip with a message (a failure under CI). */
export function describePytorch(name: string, body: (manifest: PytorchManifest) => void): void {
  describeWithTorch(name, (python) => body(pytorchExports(python)));
}

/** describe() given the python that imports torch and onnx; a skip with a message without one (a failure under CI). */
export function describeWithTorch(name: string, body: (python: string) => void): void {
  const found = findTorchPython();
  if ("python" in found) return describe(name, () => body(found.python));
  if (isCI()) {
    test(`${name}: python3 with torch and onnx is installed`, () => {
      throw new Error(`${found.missing}; CI=true requires the PyTorch oracle suites to run (.ci/run installs them)`);
    });
    return;
  }
  console.warn(`[rankfn tests] skipping "${name}": ${found.missing}`);
  describe.skip(name, () => {});
}

/** The (op, node name) of every node in the file, subgraphs (Loop bodies) included. */
export function onnxNodes(bytes: Uint8Array): Set<string> {
  const out = new Set<string>();
  const walk = (g: onnx.IGraphProto | null | undefined) => {
    for (const n of g?.node ?? []) {
      out.add(`${n.opType} ${n.name}`);
      for (const a of n.attribute ?? []) walk(a.g);
    }
  };
  walk(onnx.ModelProto.decode(bytes).graph);
  return out;
}

/** f32 outputs within expectMatches' tolerance; integer outputs (indices) exactly. */
export function expectSame(label: string, got: ArrayLike<number | bigint>, want: ExportedTensor): void {
  if (want.dtype === "f32") return expectMatches(label, got as ArrayLike<number>, want.data);
  expect({ label, values: Array.from(got, Number) }).toEqual({ label, values: Array.from(want.data, Number) });
}

/** onnxruntime-node runs the export on its fixed batch and gives PyTorch's outputs (the export itself is right). */
export async function expectOrtMatches(m: PytorchExport, label: string): Promise<void> {
  // logSeverityLevel 3: onnxruntime warns about every EmbeddingBag Loop it cannot rename inputs in.
  const session = await ort.InferenceSession.create(m.path, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds = Object.fromEntries(m.inputs.map((t) => [t.name, new ort.Tensor(t.dtype === "f32" ? "float32" : "int64", t.data, t.shape)]));
  const got = await session.run(feeds);
  expect(Object.keys(got).sort()).toEqual(m.outputs.map((o) => o.name).sort());
  for (const want of m.outputs) {
    expect(Array.from(got[want.name]!.dims)).toEqual(want.shape);
    expectSame(`onnxruntime ${label} ${want.name}`, got[want.name]!.data as Float32Array | BigInt64Array, want);
  }
}

/**
 * rankfn refuses the export — at import, at compile or at the first rank of its batch (context
 * inputs `context`) — with a RankfnError naming an op and node of the file; `whenItRanks` says what
 * to do when it no longer does.
 */
export async function expectRefusalNamingNode(m: PytorchExport, label: string, context: string[], whenItRanks: string): Promise<void> {
  const bytes = readFileSync(m.path);
  let error: unknown;
  try {
    using model = loadModel(importOnnx(bytes, { name: m.name }));
    await model.rank(rankingRequest(m.inputs, context));
  } catch (err) {
    error = err;
  }
  if (error === undefined) throw new Error(`${label} imports and ranks now: ${whenItRanks}`);
  if (!(error instanceof RankfnError)) throw error;
  const named = /^node "([^"]*)" \(([A-Za-z]+)\): \S/.exec(error.message);
  if (!named) throw new Error(`${label}: the error does not name a node and op: ${error.message}`);
  expect(onnxNodes(bytes).has(`${named[2]} ${named[1]}`)).toBe(true);
}
