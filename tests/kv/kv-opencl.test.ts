// The KV store lives in the OpenCL library too (host-side, like the embedding
// hot-row cache: the same sources compiled into it): the reference-model,
// accuracy and bad-input suites pass unchanged with RANKFN_BACKEND=opencl, in
// a child process (one backend per process), and so does the model's KV cache
// (kv-model: cached scores equal uncached ones on the OpenCL kernels).
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isCI } from "../../runtime/ffi";

const repo = join(import.meta.dir, "..", "..");
const built = existsSync(join(repo, "kernels", "build", "librankfn_opencl.so"));
if (!built && isCI()) throw new Error("librankfn_opencl.so was not built: CI must build and test the OpenCL backend");

test.skipIf(!built || process.env.RANKFN_BACKEND === "opencl")("the KV store suites pass on the opencl library", () => {
  const suites = ["kv-store", "kv-accuracy", "kv-bad-input", "kv-model"].map((s) => `./tests/kv/${s}.test.ts`);
  const p = Bun.spawnSync(["bun", "test", "--timeout", "120000", ...suites], { cwd: repo, env: { ...process.env, RANKFN_BACKEND: "opencl" } });
  const out = p.stdout.toString() + p.stderr.toString();
  if (p.exitCode !== 0) throw new Error(`kv suites failed on opencl:\n${out.slice(-4000)}`);
  expect(out).not.toContain("backend is unavailable"); // really the opencl library, not the cpu fallback
  expect(Number(/(\d+) pass/.exec(out)?.[1])).toBeGreaterThanOrEqual(30);
  expect(out).toMatch(/\b0 fail/);
}, 300_000);
