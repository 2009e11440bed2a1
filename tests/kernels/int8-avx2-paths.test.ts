// The AVX2 path has two int8 GEMMs for m > 24 (vpmaddwd, and FMA on dequantised panels
// for Zen 1 / Zen+, where the integer multiplier is the narrower unit) and picks one per
// CPU. The parity suite covers the one this CPU picks; this file runs the GEMM parity
// cases once more under each choice forced with RANKFN_AVX2_INT8 (read once at load,
// so each runs in a child `bun test`), so both are checked on every AVX2 machine.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as k from "../../runtime/ffi";

const repo = join(import.meta.dir, "..", "..");
const hasAvx2 = k.supportedIsas().includes("avx2") && (process.env.RANKFN_BACKEND ?? "cpu") === "cpu";

describe.if(hasAvx2)("AVX2 int8 GEMM variants", () => {
  for (const variant of ["vpmaddwd", "fma"] as const) {
    test(`gemm parity with RANKFN_AVX2_INT8=${variant}`, () => {
      const proc = Bun.spawnSync(["bun", "test", "--timeout", "120000", "tests/kernels/parity.test.ts", "-t", "^isa avx2 gemm"], {
        cwd: repo,
        env: { ...process.env, RANKFN_AVX2_INT8: variant, RANKFN_ISA: "avx2" },
      });
      const out = proc.stdout.toString() + proc.stderr.toString();
      // bun test reports to stderr; the case count proves the cases ran rather than being filtered out.
      expect(out).toMatch(/\(pass\) isa avx2 > gemm \(\d+ cases\)/);
      expect(out).not.toMatch(/\(fail\)/);
      expect(proc.exitCode).toBe(0);
    }, 120_000);
  }
});
