// The device kernels that feed and finish CUDA's cuBLASLt bf16 and int8 GEMMs
// (kernels/device/gemm_split.cl: X split into two digits of the weight's dtype,
// the int8 products recombined with both scales, bias, activation and residual)
// compiled as host C++ by kernels/tests/gemm_split_host.cpp, with plain loops in
// place of the cuBLASLt products, and checked against X·Wᵀ in double precision
// (no GPU needed for this part; PoCL compiles the same file as OpenCL C in every run).
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dir, "..", "..");

test("the split-digit kernels reassemble X and the int8 products exactly, and round bf16 to nearest even", () => {
  const exe = join(mkdtempSync(join(tmpdir(), "rankfn-split-")), "gemm_split_host");
  const build = Bun.spawnSync(["g++", "-std=c++17", "-O1", "-Wall", "-Werror", "-o", exe, join(repo, "kernels", "tests", "gemm_split_host.cpp")]);
  if (build.exitCode !== 0) throw new Error(`g++ failed:\n${build.stdout}${build.stderr}`);
  const run = Bun.spawnSync([exe]);
  const out = `${run.stdout}${run.stderr}`;
  const summary = out.match(/^(\d+) passed, (\d+) failed$/m);
  expect(summary).not.toBeNull();
  expect(out).not.toContain("FAIL");
  expect(Number(summary![2])).toBe(0);
  expect(Number(summary![1])).toBe(24);
  expect(run.exitCode).toBe(0);
}, 60_000);
