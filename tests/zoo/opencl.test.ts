// Every zoo model, compiled in fp32 and ranked end to end (context broadcast,
// 33 candidates) on the OpenCL backend, scores what the cpu backend scores
// within fp32 tolerance. Each backend runs in its own process.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { normalisedError } from "./reference";
import { join } from "node:path";

const repo = join(import.meta.dir, "..", "..");
const built = existsSync(join(repo, "kernels", "build", "librankfn_opencl.so"));

type Scores = Record<string, Record<string, number[]>>;

function rankOn(backend: string): { backend: string; scores: Scores } {
  const p = Bun.spawnSync(["bun", "tests/zoo/fixtures/rank-on-backend.ts"], { cwd: repo, env: { ...process.env, RANKFN_BACKEND: backend, RANKFN_DEVICES: "" } });
  if (p.exitCode !== 0) throw new Error(`ranking on ${backend} failed:\n${p.stderr}`);
  return JSON.parse(p.stdout.toString());
}

// (skipped, and said so by opencl.test.ts, where the OpenCL backend is not built; CI always builds it)
describe.skipIf(!built)("zoo models on OpenCL vs cpu", () => {
  test("every model's scores agree within fp32 tolerance (1e-5 normalised)", () => {
    const ocl = rankOn("opencl");
    const cpu = rankOn("cpu");
    expect(ocl.backend).toBe("opencl");
    expect(cpu.backend).toBe("cpu");
    expect(Object.keys(ocl.scores)).toEqual(Object.keys(cpu.scores));
    expect(Object.keys(cpu.scores)).toContain("dlrm");
    for (const [model, outputs] of Object.entries(cpu.scores)) {
      for (const [output, want] of Object.entries(outputs)) {
        const got = ocl.scores[model]![output]!;
        expect(got).toHaveLength(want.length);
        const err = normalisedError(got, want);
        if (!(err <= 1e-5)) throw new Error(`${model}.${output}: normalised error ${err.toExponential(2)} > 1e-5`);
      }
    }
  }, 180_000);
});
