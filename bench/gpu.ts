// `bun run bench gpu [--json]`: the CUDA backend on a GPU, in one command sized
// for under 8 minutes (each step a child process with RANKFN_BACKEND=cuda and
// a time limit):
//   1. the parity, bad-input and library suites on the CUDA backend;
//   2. `bench kernels --backend cuda --quick` (GEMM vs the device's measured
//      peak, embedding bags vs its measured bandwidth);
//   3. the DLRM-v2-shaped zoo model (MLPerf's layer widths, 26 multi-hot
//      tables, rows scaled to fit) at batch 1 / 64 / 512 / 2048: samples/s on
//      the GPU beside MLPerf Inference v4.1's ≈ 74.5k samples/s per H100-SXM
//      (8×H100 ≈ 595.7k offline, TensorRT; /work/shared/REFERENCE.md) — a
//      reference point, not the same model size or software;
//   4. `bench sequence --quick` (fused attention at L = 256 and 1024, the zoo
//      hstu and bst at L = 256 / 1024) on the CUDA backend.
// Without a CUDA device it says so, with CUDA's reason, and exits 1.
import { dlopen } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { symbols } from "../runtime/ffi/symbols";
import { Report } from "./report";
import { progress } from "./timing";

const repo = join(import.meta.dir, "..");
const cudaLib = join(repo, "kernels", "build", "librankfn_cuda.so");
/** MLPerf Inference v4.1 closed, DLRM-v2 offline: 8×H100-SXM ≈ 595.7k samples/s, per GPU. */
const MLPERF_PER_GPU = 595_700 / 8;
const BATCHES = [1, 64, 512, 2048];

/** Why this machine cannot run the CUDA backend, or null when it has a device. */
function noDevice(): string | null {
  if (!existsSync(cudaLib)) return `${cudaLib} is not built (it builds wherever nvcc exists: bun install)`;
  const lib = dlopen(cudaLib, symbols).symbols;
  const count = new Int32Array(1);
  if (lib.rf_device_count(count) !== 0) return String(lib.rf_last_error());
  if (count[0] === 0) return lib.rf_device_info(0, new Uint8Array(88)) !== 0 ? String(lib.rf_last_error()) : "0 CUDA devices";
  return null;
}

interface Step {
  code: number | null;
  seconds: number;
  out: string;
}

function step(label: string, cmd: string[], limitSeconds: number): Step {
  progress(`${label} (limit ${limitSeconds} s)`);
  const t0 = performance.now();
  const p = Bun.spawnSync(cmd, { cwd: repo, env: { ...process.env, RANKFN_BACKEND: "cuda" }, timeout: limitSeconds * 1000 });
  return { code: p.exitCode, seconds: (performance.now() - t0) / 1000, out: p.stdout.toString() + p.stderr.toString() };
}

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const why = noDevice();
  if (why) {
    console.error(`bench gpu: no CUDA device here, so nothing was measured: ${why}`);
    process.exit(1);
  }
  const report = new Report("gpu");
  const bun = process.execPath;

  const parity = step("parity, bad-input and library suites on cuda", [bun, "test", "--timeout", "120000", ...["parity", "bad-input", "library"].map((s) => `./tests/kernels/${s}.test.ts`)], 150);
  const suites = report.section("parity suites on the CUDA backend (bun test)");
  suites.add({
    pass: Number(/(\d+) pass/.exec(parity.out)?.[1] ?? 0), fail: Number(/(\d+) fail/.exec(parity.out)?.[1] ?? 0),
    "exit code": parity.code ?? "killed", seconds: parity.seconds,
  });
  if (parity.code !== 0) suites.note(parity.out.slice(-3000));
  if (parity.out.includes("backend is unavailable")) suites.note("the suites fell back to the cpu backend: nothing above ran on the GPU");

  const kernels = step("bench kernels --backend cuda --quick", [bun, "bench/run.ts", "kernels", "--backend", "cuda", "--quick", "--json"], 120);
  const ks = report.section("bench kernels --backend cuda --quick");
  if (kernels.code === 0) {
    const r = JSON.parse(kernels.out.slice(kernels.out.indexOf("{"))) as { sections: { title: string; rows: Record<string, unknown>[] }[] };
    for (const s of r.sections) ks.note(`${s.title}: ${JSON.stringify(s.rows)}`);
  } else {
    ks.note(`exit ${kernels.code ?? "killed"}: ${kernels.out.slice(-2000)}`);
  }

  const dlrm = step("DLRM-v2-shaped zoo model on cuda", [bun, "bench/zoo-batch-child.ts", ...BATCHES.map(String)], 60);
  const ds = report.section("DLRM-v2-shaped zoo model (fp32) on the GPU vs MLPerf v4.1 per-GPU throughput");
  ds.note(`reference: ${MLPERF_PER_GPU.toFixed(0)} samples/s per H100-SXM (8×H100 offline, TensorRT, full-size tables); ours: tables scaled by 0.0005`);
  if (dlrm.code === 0) {
    const r = JSON.parse(dlrm.out.slice(dlrm.out.indexOf("{"))) as { backend: string; msPerBatch: Record<string, number> };
    for (const b of BATCHES) {
      const ms = r.msPerBatch[b]!;
      ds.add({ backend: r.backend, batch: b, "ms per batch": ms, "samples/s": (b / ms) * 1e3, "x MLPerf per GPU": (b / ms) * 1e3 / MLPERF_PER_GPU });
    }
  } else {
    ds.note(`exit ${dlrm.code ?? "killed"}: ${dlrm.out.slice(-2000)}`);
  }

  const seq = step("bench sequence --quick on cuda", [bun, "bench/run.ts", "sequence", "--quick"], 120);
  const ss = report.section("bench sequence --quick on the CUDA backend (L = 256, 1024)");
  ss.note(seq.code === 0 ? seq.out.slice(seq.out.indexOf("# bench")) : `exit ${seq.code ?? "killed"}: ${seq.out.slice(-2000)}`);
  report.fact("steps seconds", [parity, kernels, dlrm, seq].map((s) => s.seconds.toFixed(0)).join(" + "));
  report.print(json);
  if ([parity, kernels, dlrm, seq].some((s) => s.code !== 0)) process.exit(1);
}
