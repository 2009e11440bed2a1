// The command line: info, inspect (with its quantization accuracy report) and
// its errors, run as a user would run them.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = join(import.meta.dir, "..", "..", "sdk", "cli.ts");
const run = (...args: string[]) => {
  const p = Bun.spawnSync([process.execPath, cli, ...args]);
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

test("rankfn info describes the library and its device", () => {
  const r = run("info");
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^backend   cpu \(ABI 1, sources [0-9a-f]{16}\)$/m);
  expect(r.out).toMatch(/^device 0  cpu \((ref|portable|avx2|avx512)\), \d+ compute units/m);
});

test.skipIf(!existsSync(join(import.meta.dir, "..", "..", "kernels", "build", "librankfn_opencl.so")))(
  "rankfn info --devices opencl:2 shows the OpenCL backend's two sub-devices",
  () => {
    const r = run("info", "--devices", "opencl:2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^backend   opencl \(ABI 1, sources [0-9a-f]{16}\)$/m);
    expect(r.out).toMatch(/^device 0  .+, \d+ compute units/m);
    expect(r.out).toMatch(/^device 1  .+, \d+ compute units/m);
  },
);

test("rankfn inspect lists inputs with their roles, passes, memory plan and int8 accuracy", () => {
  const path = join(dir, "mmoe.safetensors");
  writeModel(path, zoo.mmoe.build({ scale: 0.001 }));
  const r = run("inspect", path, "--precision", "int8");
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^ {2}dense +f32 +\[-1, 13\] +candidate$/m);
  expect(r.out).toMatch(/^ {2}cat_0 +i64 +\[-1, \d+\] +context$/m);
  expect(r.out).toMatch(/^ {2}ctr +f32 +\[-1, 1\] +candidate$/m);
  expect(r.out).toMatch(/^ {2}cvr +f32 +\[-1, 1\] +candidate$/m);
  expect(r.out).toMatch(/^ {2}quantize: \d+ GEMM weights -> int8/m);
  expect(r.out).toMatch(/^ {2}batch ≤ 64: memory [\d.]+ MB -> [\d.]+ MB, \d+ -> \d+ buffers$/m);
  expect(r.out).toMatch(/^accuracy  vs fp32 over 4×100 candidates: max \|Δscore\| [\d.e-]+, NDCG@10 ctr 0\.\d+, cvr 0\.\d+$/m);
});

test("rankfn refuses unknown commands, options and bad files with a message", () => {
  expect(run("frobnicate").code).toBe(2);
  const bad = run("inspect", join(dir, "missing.safetensors"));
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("missing.safetensors: cannot open");
  const opt = run("inspect", "x.safetensors", "--precision", "fp8");
  expect(opt.err).toContain('--precision must be f32, bf16 or int8, got "fp8"');
});

test("rankfn serve answers health checks and rank requests, and stops on SIGTERM", async () => {
  const path = join(dir, "serve.safetensors");
  const built = zoo.dcnv2.build({ scale: 0.001, seed: 2 });
  writeModel(path, built);
  const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `ctr=${path}`, "--port", "0", "--model-root", dir], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!/on http:\/\/[\d.]+:\d+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited: ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  const url = out.match(/on (http:\/\/[\d.]+:\d+)/)![1]!;
  expect(await (await fetch(`${url}/healthz`)).text()).toBe("ok");
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  const [req] = sampleRequests(built, { count: 1, candidates: 3 });
  const res = await new RankingClient({ url }).rank("ctr", req!);
  expect(res.outputs.ctr!.shape).toEqual([3, 1]);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
});
