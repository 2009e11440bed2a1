// Worker mode: the same scores as the inline executor, the caller's event loop
// keeps turning while a batch computes, errors keep their status, and dispose
// is final.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RankfnError } from "../../runtime/errors";
import { type LoadOptions, loadModel, writeModel, zoo } from "../../sdk";
import { sampleFlatRequest, sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-worker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const built = zoo.dcnv2.build({ seed: 4 });
const path = join(dir, "dcnv2.safetensors");
writeModel(path, built);

test("a worker-mode model scores exactly like the inline one (file and in-memory sources)", async () => {
  const inline = loadModel(path);
  const fromFile = loadModel(path, { worker: true });
  const fromMemory = loadModel(built, { worker: true });
  const requests = sampleRequests(built, { count: 3, candidates: 37, seed: 2 });
  for (const req of requests) {
    const want = inline.rankSync(req).outputs.ctr!.data;
    for (const m of [fromFile, fromMemory]) {
      const got = (await m.rank(req)).outputs.ctr!;
      expect(got.shape).toEqual([37, 1]);
      expect(Array.from(got.data)).toEqual(Array.from(want));
    }
  }
  // Several requests in flight at once come back to the right callers.
  const many = await Promise.all(requests.map((r) => fromFile.rank(r)));
  many.forEach((res, i) => expect(Array.from(res.outputs.ctr!.data)).toEqual(Array.from(inline.rankSync(requests[i]!).outputs.ctr!.data)));
  for (const m of [inline, fromFile, fromMemory]) m.dispose();
});

test("the event loop keeps running while the worker computes a long batch", async () => {
  const big = zoo.dlrm.build({ scale: 0.0001 });
  const model = loadModel(big, { worker: true });
  await model.ready();
  const req = sampleFlatRequest(big, 512, 1);
  const order: string[] = [];
  const pending = model.rank(req).then(() => order.push("batch done"));
  setTimeout(() => order.push("timer fired"), 0);
  await pending;
  expect(order).toEqual(["timer fired", "batch done"]);
  model.dispose();
});

test("errors keep their status: validation (ids included) on the caller's thread, before anything reaches the worker", async () => {
  const model = loadModel(path, { worker: true });
  const [req] = sampleRequests(built, { count: 1, candidates: 4 });
  await expect(model.rank({ context: req!.context, candidates: { ...req!.candidates, extra: req!.candidates.dense! } })).rejects.toThrow("candidates.extra: unknown feature");
  const ids = req!.candidates.cat_3!.data as BigInt64Array;
  ids[0] = 1n << 40n;
  try {
    await model.rank(req!);
    throw new Error("expected an error");
  } catch (err) {
    expect(err).toBeInstanceOf(RankfnError);
    expect((err as RankfnError).status).toBe(400);
    expect((err as RankfnError).code).toBe("id_out_of_range");
    expect((err as Error).message).toContain("candidates.cat_3: id 1099511627776 at row 0, position 0 is outside table");
  }
  model.dispose();
  await expect(model.rank(req!)).rejects.toThrow("model used after dispose()");
});

test("batches travel through shared-memory lanes: concurrent callers of growing sizes each get their own rows", async () => {
  const inline = loadModel(path);
  const model = loadModel(path, { worker: true });
  // Sizes grow so lanes are reallocated while other batches are in flight.
  const requests = [3, 90, 1, 700, 17, 2000, 5].map((n, i) => sampleRequests(built, { count: 1, candidates: n, seed: 10 + i })[0]!);
  const results = await Promise.all(requests.map((r) => model.rank(r)));
  results.forEach((res, i) => {
    expect(res.outputs.ctr!.shape).toEqual([requests[i]!.candidates.dense!.shape[0]!, 1]);
    expect(Array.from(res.outputs.ctr!.data)).toEqual(Array.from(inline.rankSync(requests[i]!).outputs.ctr!.data));
  });
  // A caller's result is a copy: later batches reuse the lane without changing it.
  const kept = Array.from(results[0]!.outputs.ctr!.data);
  await model.rank(requests[3]!);
  expect(Array.from(results[0]!.outputs.ctr!.data)).toEqual(kept);
  inline.dispose();
  model.dispose();
});

test("the worker opens the kernel library named by the creating thread's environment, even when set in code", async () => {
  // (How RANKFN_BACKEND=opencl chosen in code reaches a worker-mode model: a worker does not see
  // process.env assignments unless they are handed over.)
  const saved = process.env.RANKFN_LIBRARY;
  process.env.RANKFN_LIBRARY = "/nonexistent/librankfn_elsewhere.so";
  const model = loadModel(path, { worker: true });
  if (saved === undefined) delete process.env.RANKFN_LIBRARY;
  else process.env.RANKFN_LIBRARY = saved;
  try {
    const [request] = sampleRequests(built, { count: 1, candidates: 3 });
    await expect(model.rank(request!)).rejects.toThrow("rankfn kernel library not found at /nonexistent/librankfn_elsewhere.so");
  } finally {
    model.dispose();
  }
});

test("the worker compiles the model once: inspect() shows the worker's passes and plans, stats() its per-op profile", async () => {
  const before = process.env.RANKFN_PROFILE;
  process.env.RANKFN_PROFILE = "1"; // the worker takes this thread's environment when it starts
  const model = loadModel(path, { worker: true, precision: "int8" });
  process.env.RANKFN_PROFILE = before;
  // Nothing was compiled on this thread: until the worker reports, there is nothing to inspect.
  expect(() => model.inspect()).toThrow("still loading on its worker");
  await model.ready();
  const inline = loadModel(path, { precision: "int8" }).inspect();
  const first = model.inspect();
  expect(first.compiler).toEqual(inline.compiler);
  expect(first.params).toEqual(inline.params);
  expect(first.precision).toEqual({ weights: "int8", tables: "f32" });
  expect(first.memoryPlan.map((m) => m.capacity)).toEqual([64]);
  await model.rank(sampleRequests(built, { count: 1, candidates: 200, seed: 5 })[0]!);
  // The 256-row bucket the worker planned for that batch is reported back.
  expect(model.inspect().memoryPlan.map((m) => m.capacity).sort((a, b) => a - b)).toEqual([64, 256]);
  const profile = model.stats().profile;
  expect(profile.length).toBeGreaterThan(3);
  expect(profile.map((p) => p.op)).toContain("linear");
  expect(profile.reduce((a, p) => a + p.share, 0)).toBeCloseTo(1, 5);
  model.dispose();
});

test("the worker compiles with every quantization option the caller gave (kept layers, u8 layers, activation ranges)", async () => {
  // GEMM weights: cross_0..2.W, deep.0..2.weight, head.weight; the last three linear layers stay fp32 (headLayers).
  const options: LoadOptions = { precision: "int8", keep: [{ weight: "deep.0.weight", reason: "kept for the test" }], narrow: ["cross_1.W"], activationGroups: "row" };
  const model = loadModel(path, { ...options, worker: true });
  await model.ready();
  const inline = loadModel(path, options);
  const line = (m: typeof model) => m.inspect().compiler.find((l) => l.startsWith("quantize:"));
  expect(line(model)).toMatch(/^quantize: 3 GEMM weights -> int8 \(4 kept fp32, 1 of them by name or calibration, 2 with 16-bit activations, 1 with 8-bit\)/);
  expect(line(model)).toEqual(line(inline));
  expect(line(model)).not.toContain("per-segment");
  const request = sampleRequests(built, { count: 1, candidates: 50, seed: 6 })[0]!;
  expect((await model.rank(request)).outputs.ctr!.data).toEqual(inline.rankSync(request).outputs.ctr!.data);
  model.dispose();
  inline.dispose();
});
