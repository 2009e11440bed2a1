// The CUDA backend's library where it is built (wherever nvcc exists; under
// CI=true nvcc without the library fails here): it exports exactly the
// functions of rankfn.h, loads on a machine without a GPU or driver (static
// cudart) and reports 0 devices, answers every entry point with a clean status
// and a message there, and RANKFN_BACKEND=cuda falls back to the cpu backend
// with one log line. On a machine with a GPU the no-device cases are skipped
// and `bun run bench gpu` runs the parity suites on it instead.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isCI } from "../../runtime/ffi";
import { kernelSourceHash } from "../../kernels/source-hash";

const repo = join(import.meta.dir, "..", "..");
const cudaLib = join(repo, "kernels", "build", "librankfn_cuda.so");
const cpuLib = join(repo, "kernels", "build", "librankfn_cpu.so");
const built = existsSync(cudaLib);
if (Bun.which("nvcc") && !built && isCI()) throw new Error("nvcc is on PATH but librankfn_cuda.so was not built: CI must build the CUDA backend");
if (!built) console.warn("cuda.test.ts: the CUDA backend is not built here (no nvcc): its tests are reported as skipped");

/** GPUs the driver shows (0 without nvidia-smi or a driver). */
function visibleGpus(): number {
  if (!Bun.which("nvidia-smi")) return 0;
  const r = Bun.spawnSync(["nvidia-smi", "-L"]);
  return r.exitCode === 0 ? r.stdout.toString().split("\n").filter((l) => l.startsWith("GPU ")).length : 0;
}
const gpus = built ? visibleGpus() : 0;

/** Every defined dynamic symbol of a library, sorted. */
function exported(path: string): string[] {
  const nm = Bun.spawnSync(["nm", "-D", "--defined-only", path]);
  return nm.stdout.toString().split("\n").map((l) => l.trim().split(/\s+/)[2]).filter((s): s is string => !!s).sort();
}

type Call = { name: string; status: number; message: string };
const RF_ERR_INVALID_ARG = 1, RF_ERR_UNSUPPORTED = 3, RF_ERR_DEVICE = 5;

describe.skipIf(!built)("cuda backend library", () => {
  test("exports exactly the rf_ functions the cpu library exports, and none of the static cudart's", () => {
    const cpu = exported(cpuLib).filter((s) => s.startsWith("rf_"));
    expect(cpu.length).toBeGreaterThan(30);
    const cuda = exported(cudaLib);
    expect(cuda.filter((s) => s.startsWith("rf_"))).toEqual(cpu);
    expect(cuda.filter((s) => /^_*cuda|^cu[A-Z]/.test(s))).toEqual([]);
  });

  describe.skipIf(gpus > 0)("without a GPU", () => {
    const r = built && gpus === 0 ? Bun.spawnSync(["bun", "tests/kernels/fixtures/cuda-no-device.ts"], { cwd: repo }) : null;
    const out = r?.exitCode === 0 ? (JSON.parse(r.stdout.toString()) as { devices: number; backend: string; sourceHash: string; fingerprints: string[]; device: Call[]; host: Call[]; sweep: Call[] }) : null;
    const result = () => {
      if (!out) throw new Error(`fixtures/cuda-no-device.ts failed (exit ${r?.exitCode}): ${r?.stderr.toString()}`);
      return out;
    };

    test("the library loads with no driver or GPU, reports 0 devices, its backend and the current sources' hash", () => {
      expect(result().devices).toBe(0);
      expect(result().backend).toBe("cuda");
      expect(result().sourceHash).toBe(kernelSourceHash());
    });

    test("each call that needs the GPU returns RF_ERR_DEVICE with '<entry point>: no CUDA device: <CUDA's reason>'", () => {
      expect(result().device.length).toBe(10);
      for (const c of result().device) {
        expect({ name: c.name, status: c.status }).toEqual({ name: c.name, status: RF_ERR_DEVICE });
        expect(c.message).toMatch(new RegExp(`^${c.name}: no CUDA device: \\S`));
      }
    });

    test("argument checks still come first, and the host-side parts (KV store fingerprints, knobs) work", () => {
      const [count, mallocNull, badOp, fingerprint, threads, partitions] = result().host;
      expect(count).toEqual({ name: "rf_device_count", status: 0, message: "" });
      expect(mallocNull).toEqual({ name: "rf_malloc", status: RF_ERR_INVALID_ARG, message: "rf_malloc: out is NULL" });
      expect(badOp!.status).toBe(RF_ERR_INVALID_ARG);
      expect(badOp!.message).toStartWith("rf_binary");
      expect(fingerprint!.status).toBe(0);
      expect(result().fingerprints[0]).not.toBe(result().fingerprints[1]);
      expect(threads!.status).toBe(0);
      expect(partitions!.status).toBe(RF_ERR_UNSUPPORTED);
      expect(partitions!.message).toContain("cannot partition a GPU");
    });

    test("every entry point, called with zeros and NULLs, returns a status in 0..6 and a message whenever it fails", () => {
      const sweep = result().sweep;
      expect(sweep.length).toBeGreaterThan(60);
      for (const c of sweep) {
        expect({ name: c.name, valid: c.status >= 0 && c.status <= 6 }).toEqual({ name: c.name, valid: true });
        if (c.status !== 0) expect({ name: c.name, message: c.message.length > 0 }).toEqual({ name: c.name, message: true });
      }
      expect(sweep.filter((c) => c.status !== 0).length).toBeGreaterThan(10);
    });

    test("RANKFN_BACKEND=cuda falls back to the cpu backend with one log line naming the cause", () => {
      const code = `import * as k from "./runtime/ffi"; console.log(k.loadLibrary().backend);`;
      const p = Bun.spawnSync(["bun", "-e", code], { cwd: repo, env: { ...process.env, RANKFN_BACKEND: "cuda", RANKFN_DEVICES: "" } });
      expect(p.exitCode).toBe(0);
      expect(p.stdout.toString().trim()).toBe("cpu");
      const lines = p.stderr.toString().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^rankfn: the cuda backend is unavailable \(cuda: no device \(rf_device_info: no CUDA device: .+\)\): using the cpu backend$/);
    });

    test("`bun run bench gpu` says there is no CUDA device, with CUDA's reason, and exits 1 having measured nothing", () => {
      const p = Bun.spawnSync(["bun", "bench/run.ts", "gpu"], { cwd: repo });
      expect(p.exitCode).toBe(1);
      expect(p.stdout.toString()).toBe("");
      expect(p.stderr.toString().trim()).toMatch(/^bench gpu: no CUDA device here, so nothing was measured: rf_device_info: no CUDA device: \S/);
    });
  });
});
