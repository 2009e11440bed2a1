// Dense parallelism over OpenCL sub-devices (RANKFN_DEVICES=opencl:2 splits the PoCL
// device in two): each sub-device holds its weight slices in its own memory (the
// activations are host arrays the backend wraps for each command). DLRM, DCN-v2 and the
// odd chain, fp32 and int8, tensor-parallel and replicated, score as the same backend's
// single device within 1e-5; a sub-device made to fail fails only that batch. A child
// process holds the OpenCL backend.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";

const repo = join(import.meta.dir, "..", "..");
const built = existsSync(join(repo, "kernels", "build", "librankfn_opencl.so"));

// (skipped where the OpenCL backend is not built, as tests/kernels/opencl.test.ts says; CI always builds it)
test.skipIf(!built && !process.env.CI)("linear chains split over two OpenCL sub-devices score as one device (1e-5); a failing sub-device fails one batch", () => {
  const p = Bun.spawnSync(["bun", "tests/parallel/fixtures/dense-on-backend.ts", "opencl"], { cwd: repo, env: { ...process.env, RANKFN_BACKEND: "opencl", RANKFN_DEVICES: "opencl:2" } });
  if (p.exitCode !== 0) throw new Error(`dense parallelism on opencl failed:\n${p.stderr}`);
  const r = JSON.parse(p.stdout.toString()) as { backend: string; devices: string[]; worst: Record<string, number>; groups: number; failure: string; after: number };
  expect(r.backend).toBe("opencl");
  expect(r.devices).toEqual(["opencl:0", "opencl:1"]);
  expect(Object.keys(r.worst).length).toBe(12);
  for (const [key, worst] of Object.entries(r.worst)) expect([key, worst < 1e-5]).toEqual([key, true]);
  expect(r.groups).toBeGreaterThan(24);
  expect(r.failure).toMatch(/^DeviceError: tensor-parallel linears ".*": device opencl:1 failed the batch: .*injected fault/);
  expect(r.after).toBeLessThan(1e-5);
}, 120_000);
