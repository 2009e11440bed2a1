// The command line: info, inspect (with its quantization accuracy report) and
// its errors, run as a user would run them.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { isa } from "../../runtime/ffi";
import * as k from "../../runtime/ffi";
import { findPython, pythonRank, pythonRequest } from "../server/python-client";

const dir = mkdtempSync(join(tmpdir(), "rankfn-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = join(import.meta.dir, "..", "..", "sdk", "cli.ts");
const python = findPython();
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
  expect(r.out).toMatch(/^ {2}batch ≤ 64 rows, ≤ 64 requests: memory [\d.]+ MB -> [\d.]+ MB, \d+ -> \d+ buffers$/m);
  expect(r.out).toMatch(/^accuracy  vs fp32 over 4×200 candidates \((ref|portable|avx2|avx512)[a-z/0-9]*\): max \|Δscore\| [\d.e-]+, NDCG@10 ctr (0\.\d+|1\.0000), cvr (0\.\d+|1\.0000), Kendall τ ctr (0\.\d+|1\.0000), cvr (0\.\d+|1\.0000)$/m);
  expect(r.out).toMatch(/^fp32 {6}\n {2}\S+: output head: one of the last 3 linear layers/m);
  expect(r.out).toMatch(/^u8 acts   none \(every int8 layer quantizes its activations to 16-bit levels\)$/m);
  const c = run("inspect", path, "--precision", "int8", "--calibrate", "2");
  expect(c.code).toBe(0);
  expect(c.err).toContain("calibrating int8 on 2 generated requests");
  expect(c.out).toMatch(/^accuracy  vs fp32 over 4×200 candidates/m);
  // Calibration narrows layers to u8 only where that is faster (the AVX-512 VNNI path).
  if (isa().active === "avx512") expect(c.out).toMatch(/^u8 acts   \n {2}\S+: calibration: u8 activations alone keep Kendall τ at 0\.\d{4} on 2 sample requests$/m);
  else expect(c.out).toMatch(/^u8 acts   none/m);
  expect(run("inspect", path, "--precision", "int8", "--calibrate", "x").err).toContain('--calibrate must be a number of sample requests 0-64, got "x"');
});

test("rankfn refuses unknown commands, options and bad files with a message", () => {
  expect(run("frobnicate").code).toBe(2);
  const bad = run("inspect", join(dir, "missing.safetensors"));
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("missing.safetensors: cannot open");
  const opt = run("inspect", "x.safetensors", "--precision", "fp8");
  expect(opt.err).toContain('--precision must be f32, bf16 or int8, got "fp8"');
});

/** A port nothing listens on right now (bound once by the OS, then released). */
function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

test("rankfn serve --model name=/abs/path (outside the working directory): healthz from the start, readyz, a Python client's rank, SIGTERM", async () => {
  const models = join(dir, "models");
  const cwd = join(dir, "cwd");
  mkdirSync(models, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const path = join(models, "serve.safetensors");
  const built = zoo.dcnv2.build({ scale: 0.001, seed: 2 });
  writeModel(path, built);
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  // No --model-root: it defaults to the working directory, which must not confine the operator's own --model path.
  const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `ctr=${path}`, "--port", String(port)], { cwd, stdout: "pipe", stderr: "pipe" });
  const stdout = new Response(proc.stdout).text();
  try {
    const get = (p: string) => fetch(`${url}${p}`).catch(() => undefined);
    // Poll from the moment of spawn: connection refused until bun is up, then healthz 200 (never later than readyz).
    let healthy = false;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
      const health = await get("/healthz");
      if (health) {
        expect(health.status).toBe(200);
        healthy = true;
      }
      const ready = healthy ? await get("/readyz") : undefined;
      if (ready?.status === 200) break;
      if (ready) expect(ready.status).toBe(503);
      await Bun.sleep(20);
    }
    const readiness = (await (await fetch(`${url}/readyz`)).json()) as { ready: boolean; models: { name: string; state: string }[] };
    expect(readiness).toEqual({ ready: true, models: [{ name: "ctr", state: "ready" }] });
    const model = loadModel(built);
    const want = Array.from(model.rankSync(pythonRequest(model.graphInputs, 4)).outputs.ctr!.data);
    model.dispose();
    if (python) {
      // A gzip-compressed msgpack request with Accept: */*, as Python users send it.
      const res = await pythonRank(python, url, "ctr", ["--encoding", "gzip", "--accept", "*/*"]);
      expect(res.status).toBe(200);
      expect(res.content_type).toBe("application/msgpack");
      expect((res.body.outputs!.ctr as { data: number[] }).data).toEqual(want);
    } else {
      const res = await new RankingClient({ url }).rank("ctr", pythonRequest(built.graph.inputs, 4));
      expect(Array.from(res.outputs.ctr!.data)).toEqual(want);
    }
  } finally {
    proc.kill("SIGTERM");
  }
  expect(await proc.exited).toBe(0);
  const out = await stdout;
  expect(out).toContain(`rankfn listening on ${url} (loading ctr)`);
  expect(out).toMatch(/^rankfn serving ctr on http:\/\/127\.0\.0\.1:\d+ \(ready in \d+\.\d\d s\)$/m);
  expect(out.indexOf("listening")).toBeLessThan(out.indexOf("serving"));
});

test("rankfn serve exits 1 naming the file when a model cannot load", async () => {
  writeFileSync(join(dir, "broken.safetensors"), "not a model");
  const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `b=${join(dir, "broken.safetensors")}`, "--port", "0"], { stdout: "pipe", stderr: "pipe" });
  expect(await proc.exited).toBe(1);
  expect(await new Response(proc.stderr).text()).toContain("broken.safetensors");
});

test("rankfn probe on the AVX2 path: the int8 (vpmaddwd) peak, bf16 n/a (no dot product there), not an error", () => {
  if (!k.supportedIsas().includes("avx2")) return; // the portable build has no vector probes
  const p = Bun.spawnSync([process.execPath, cli, "probe"], { env: { ...process.env, RANKFN_ISA: "avx2" } });
  expect(p.exitCode).toBe(0);
  const lines = p.stdout.toString().trim().split("\n");
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    const m = /^(\d) thread\(s\): fp32 (\d+) GFLOP\/s, bf16 n\/a GFLOP\/s, int8 (\d+) GOP\/s, read [\d.]+ GB\/s$/.exec(line);
    expect(m).not.toBeNull();
    // Measured, not a constant (Zen 1's one 128-bit integer multiplier puts it below the fp32 peak).
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![3])).toBeGreaterThan(0);
  }
});
