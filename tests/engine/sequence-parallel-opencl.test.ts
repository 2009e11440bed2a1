// Sequence parallelism over OpenCL sub-devices (RANKFN_DEVICES=opencl:2 splits
// the PoCL device in two): the zoo hstu split over both (kv shards with
// rf_seq_attention_lse-style partials summed by rf_attention_merge, GEMMs by
// rows, zig-zag query blocks) scores as the same backend's single device within
// 1e-5, and really ran split. A child process holds the OpenCL backend.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";

const repo = join(import.meta.dir, "..", "..");
const built = existsSync(join(repo, "kernels", "build", "librankfn_opencl.so"));

function run(backend: string, devices: string, spec: string) {
  const p = Bun.spawnSync(["bun", "tests/engine/fixtures/sequence-parallel-on-backend.ts", spec], { cwd: repo, env: { ...process.env, RANKFN_BACKEND: backend, RANKFN_DEVICES: devices } });
  if (p.exitCode !== 0) throw new Error(`sequence parallelism on ${backend} failed:\n${p.stderr}`);
  return JSON.parse(p.stdout.toString()) as { backend: string; devices: string[]; historyLayers: number; worst: number };
}

// (skipped where the OpenCL backend is not built, as tests/kernels/opencl.test.ts says; CI always builds it)
test.skipIf(!built && !process.env.CI)("hstu split over two OpenCL sub-devices scores as one device (1e-5)", () => {
  const r = run("opencl", "opencl:2", "opencl");
  expect(r.backend).toBe("opencl");
  expect(r.devices).toEqual(["opencl:0", "opencl:1"]);
  // Layer 0 of the 4 non-empty histories ran split (the last layer computes only its K/V).
  expect(r.historyLayers).toBe(4);
  expect(r.worst).toBeLessThan(1e-5);
}, 120_000);
