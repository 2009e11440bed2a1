// `bun run bench kernels [--json] [--quick] [--backend opencl]`: GEMM
// (fp32/bf16/int8, 1 and 2 threads) against the measured FMA peak and
// onnxruntime-node; embedding bags (DLRM-v2 multi-hot, fp32/int8) against
// measured memory bandwidth; FFI cost. With a device backend (--backend
// opencl) the same figures for that backend, plus a DLRM zoo batch on it vs
// the cpu backend (two child processes, same code). Every section names the
// ISA it ran on; on an AVX-512 machine the whole run is repeated in a child
// process with RANKFN_ISA=avx2, so both CPU paths are always measured.
import * as ort from "onnxruntime-node";
import * as k from "../runtime/ffi";
import { Rng, Zipf } from "../runtime/tensor/random";
import { columnSlice, tensor } from "../runtime/tensor/tensor";
import { quantizeInt8PerChannel, quantizeRowsU8, toBf16 } from "../runtime/tensor/quantize";
import { matmulAddReluModel } from "./onnx-gemm";
import { DLRM_V2 } from "../sdk/zoo/dlrm-v2-shape";
import { Report } from "./report";
import { progress, time, type Timing } from "./timing";

/** Low precision within this fraction below fp32 is timing noise, not slower (the fp32 spread widens it). */
const RULE_TOLERANCE = 0.02;




export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const backendArg = args.find((a) => a.startsWith("--backend="))?.slice(10) ?? (args.includes("--backend") ? args[args.indexOf("--backend") + 1] : undefined);
  if (backendArg) process.env.RANKFN_BACKEND = backendArg; // read when the library loads, just below
  const backend = k.loadLibrary().backend;
  const onDevice = backend !== "cpu";
  const report = new Report("kernels");
  // A device backend decides its own parallelism: one row per figure (ORT at 2 threads beside it).
  const threadCounts = onDevice ? [2] : [1, 2];
  const rng = new Rng(42);

  progress("probing machine limits");
  const peak: Record<string, Record<number, number>> = { f32: {}, bf16: {}, i8: {} };
  for (const t of threadCounts) for (const dt of ["f32", "bf16", "i8"] as const) peak[dt]![t] = probeOrNaN(() => k.probePeakGflops(t, dt));
  const bandwidth = k.probeMemBandwidth(2);
  const probes = report.section(onDevice ? `${backend} device limits (measured now on device 0)` : "machine limits (measured now)");
  for (const t of threadCounts) {
    probes.add({ threads: t, "fp32 GFLOP/s": peak.f32![t]!, "bf16 GFLOP/s": na(peak.bf16![t]!), "int8 GOP/s": na(peak.i8![t]!), "read GB/s": t === 2 ? bandwidth : k.probeMemBandwidth(1) });
  }
  report.fact("backend", backend);
  if (onDevice) {
    report.fact("device", k.deviceInfo(0).name);
    probes.note(`${backend}: bf16/int8 peaks have no portable instruction to probe (n/a)`);
    if (/pthread|pocl|cpu/i.test(k.deviceInfo(0).name)) {
      probes.note("on PoCL the device is this CPU: these figures measure the OpenCL path (its launches, copies and kernels), not accelerator speed");
    }
  }
  report.fact("fp32 peak GFLOP/s (2 threads)", peak.f32![2]!);
  report.fact("read bandwidth GB/s (2 threads)", bandwidth);

  const isa = k.isa().active;
  await benchGemm(report, rng, peak, threadCounts, quick, isa);
  benchEmbeddings(report, rng, bandwidth, threadCounts, quick, isa);
  for (const m of tableMemory.splice(0)) m.dispose();
  await benchFfi(report);
  if (onDevice) benchZooVsCpu(report, backend, quick);
  k.setNumThreads(2);
  if (!onDevice && isa === "avx512" && process.env.RANKFN_ISA === undefined) benchAvx2Child(report, args);
  report.print(json);
}

/** The same benchmark on the AVX2 path of an AVX-512 machine: a child process with RANKFN_ISA=avx2. */
function benchAvx2Child(report: Report, args: string[]) {
  progress("repeating on the AVX2 path (child process, RANKFN_ISA=avx2)");
  const childArgs = [...args.filter((a) => a !== "--json"), "--json"];
  const p = Bun.spawnSync(["bun", `${import.meta.dir}/run.ts`, "kernels", ...childArgs], { env: { ...process.env, RANKFN_ISA: "avx2" }, stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`bench kernels under RANKFN_ISA=avx2 failed (exit ${p.exitCode})`);
  const text = p.stdout.toString();
  const start = text.indexOf('{\n  "bench"'); // the report; anything the library logged before it is skipped
  if (start < 0) throw new Error(`bench kernels under RANKFN_ISA=avx2 printed no JSON report:\n${text}`);
  const child = JSON.parse(text.slice(start)) as { facts: Record<string, number | string>; sections: { title: string; rows: Record<string, string | number>[]; notes: string[] }[] };
  for (const s of child.sections) {
    const section = report.section(`[RANKFN_ISA=avx2 child, isa ${child.facts.isa}] ${s.title}`);
    for (const row of s.rows) section.add(row);
    for (const n of s.notes) section.note(n);
  }
}

async function benchGemm(report: Report, rng: Rng, peak: Record<string, Record<number, number>>, threadCounts: number[], quick: boolean, isa: string) {
  const K = 1024;
  const N = 1024;
  // 16 and 32 straddle the AVX2 direct kernels' limit (m <= 24 for int8), where the blocked GEMM takes over;
  // 6 is a direct kernel's second, partial row group (bf16 widens each chunk once for both).
  const ms = quick ? [1, 6, 8, 32, 64, 512] : [1, 4, 6, 8, 16, 32, 64, 512, 2048];
  const wData = rng.floats(N * K, -0.05, 0.05);
  const bias = rng.floats(N, -0.1, 0.1);
  // Calls rotate over COPIES packed copies of the weights (32 MiB of fp32), so each call reads
  // its weights from memory as a model larger than the L3 cache does (DLRM-v2's dense layers
  // are ~90 MiB fp32); "hot" rows at m = 1 reuse one copy (cache-resident after the first call).
  const COPIES = 8;
  const pack = () => ({
    f32: k.PackedWeight.pack(tensor("f32", [N, K], wData)),
    bf16: k.PackedWeight.pack(tensor("bf16", [N, K], toBf16(wData))),
    i8: packInt8(wData, N, K),
    i8a16: packInt8(wData, N, K, 16),
  });
  const copies = Array.from({ length: COPIES }, pack);
  // ONNX wants W as [K, N].
  const wT = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let kk = 0; kk < K; kk++) wT[kk * N + n] = wData[n * K + kk]!;
  const onnxBytes = matmulAddReluModel(K, N, wT, bias);
  const section = report.section(`GEMM y = relu(x·Wᵀ + b), K = N = ${K}, isa ${isa}`);
  section.note("% peak: of the fp32 FMA peak at the same thread count (bf16/int8 also vs their own instruction peak)");
  section.note(`weights cold: each call reads one of ${COPIES} packed copies in turn (${(COPIES * N * K * 4) / 2 ** 20} MiB fp32), as a model larger than L3; hot: one copy, cache-resident`);
  section.note("vs ORT: onnxruntime-node MatMul+Add+Relu, fp32, same shape and threads, in this run (its one weight stays cache-hot)");
  section.note("i8: int8 weights, activations quantized per row to u8 (rf_gemm's default); i8a16: to int16 levels (rf_weight_set_act_bits(w, 16), what compiled models use unless calibration narrows a layer)");
  const overPeak: string[] = [];
  const rule: { threads: number; m: number; temp: string; dt: string; ratio: number; tolerance: number }[] = [];
  for (const threads of threadCounts) {
    k.setNumThreads(threads);
    const session = await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
    for (const [m, temp] of [...ms.map((m) => [m, "cold"] as const), [1, "hot"] as const]) {
      const x = tensor("f32", [m, K], rng.floats(m * K));
      const y = tensor("f32", [m, N]);
      const flop = 2 * m * N * K;
      progress(`gemm m=${m} threads=${threads} (onnxruntime)`);
      const feeds = { X: new ort.Tensor("float32", x.data as Float32Array, [m, K]) };
      const ortTime = await time(() => session.run(feeds), { minSeconds: quick ? 0.1 : 0.3 });
      const ortGflops = flop / ortTime.median / 1e9;
      const biasT = tensor("f32", [N], bias);
      let call = 0;
      const timeGemm = (dt: GemmDtype) => time(() => k.gemm({ x, w: copies[temp === "hot" ? 0 : call++ % COPIES]![dt], bias: biasT, act: "relu", y }), { minSeconds: quick ? 0.1 : 0.3 });
      // fp32 is timed before and after the low precisions: their mean is the baseline and
      // their spread the run's noise, which the rule below allows for.
      progress(`gemm m=${m} threads=${threads} f32 ${temp}`);
      const fp32Before = flop / (await timeGemm("f32")).median / 1e9;
      const low: Record<string, Timing> = {};
      for (const dt of ["bf16", "i8", "i8a16"] as const) {
        progress(`gemm m=${m} threads=${threads} ${dt} ${temp}`);
        low[dt] = await timeGemm(dt);
      }
      progress(`gemm m=${m} threads=${threads} f32 ${temp} (again)`);
      const fp32After = flop / (await timeGemm("f32")).median / 1e9;
      const fp32Gflops = (fp32Before + fp32After) / 2;
      const noise = Math.abs(fp32Before - fp32After) / fp32Gflops;
      for (const dt of ["f32", "bf16", "i8", "i8a16"] as const) {
        const own = dt === "i8a16" ? NaN : peak[dt]![threads]!;
        const gflops = dt === "f32" ? fp32Gflops : flop / low[dt]!.median / 1e9;
        const usPerCall = (flop / gflops / 1e9) * 1e6;
        if (dt !== "f32") {
          const tolerance = Math.max(RULE_TOLERANCE, noise);
          rule.push({ threads, m, temp, dt, ratio: gflops / fp32Gflops, tolerance });
        }
        // The ceiling is the highest probe that could apply (bf16 may run on FMA, int8 on its own dot products).
        const ceiling = Math.max(peak.f32![threads]!, Number.isFinite(own) ? own : dt === "i8a16" ? peak.i8![threads]! : 0);
        if (gflops > ceiling) overPeak.push(`${threads} threads m=${m} ${dt} ${temp}: ${gflops.toFixed(1)}`);
        section.add({
          threads,
          m,
          weights: temp,
          dtype: dt,
          "GFLOP/s": gflops,
          "% fp32 peak": (100 * gflops) / peak.f32![threads]!,
          "% own peak": na((100 * gflops) / own),
          "x fp32": gflops / fp32Gflops,
          "ORT GFLOP/s": ortGflops,
          "x ORT": gflops / ortGflops,
          "us/call": usPerCall,
        });
      }
    }
    await session.release();
  }
  if (overPeak.length > 0) section.note(`WARNING: above 100% of the measured peak (the probe is not a ceiling, or the machine changed speed): ${overPeak.join("; ")}`);
  const slower = rule.filter((r) => r.ratio < 1 - r.tolerance);
  const worst = rule.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  section.note(
    `rule, isa ${isa}: no low precision slower than fp32 at any m (a ratio below 1 - max(${RULE_TOLERANCE}, the fp32 spread) counts as slower): ` +
      (slower.length === 0 ? "PASS" : `FAIL: ${slower.map((r) => `${r.threads}t m=${r.m} ${r.temp} ${r.dt} ${r.ratio.toFixed(3)}x`).join("; ")}`) +
      `; lowest ${worst.dt} ${worst.ratio.toFixed(3)}x fp32 at ${worst.threads}t m=${worst.m} ${worst.temp}`,
  );
  report.fact(`rule low precision >= fp32 (${isa})`, slower.length === 0 ? "pass" : "fail");
  report.fact(`lowest low-precision x fp32 (${isa})`, worst.ratio);
  for (const c of copies) for (const w of Object.values(c)) w.dispose();
}

function benchEmbeddings(report: Report, rng: Rng, bandwidth: number, threadCounts: number[], quick: boolean, isa: string) {
  const dim = 128;
  const batch = 2048;
  // Cap tables so the whole set fits this machine yet is far larger than the L3 cache.
  const cap = quick ? 200_000 : 1_000_000;
  const rows = DLRM_V2.tableRows.map((r) => Math.min(r, cap));
  const section = report.section(`embedding bags: 26 tables, dim ${dim}, batch ${batch}, DLRM-v2 multi-hot (${DLRM_V2.multiHot.reduce((a: number, b: number) => a + b, 0)} ids/sample), rows capped at ${cap}, isa ${isa}`);
  section.note("GB/s counts the bytes of the rows read; % bw: of the read bandwidth probe (2 threads)");
  for (const dtype of ["f32", "u8q"] as const) {
    progress(`embedding tables ${dtype}: generating ${rows.reduce((a, b) => a + b)} rows`);
    const tables = rows.map((r) => makeTable(dtype, r, dim, rng));
    const out = tensor("f32", [batch, 26 * dim]);
    for (const dist of ["uniform (cold)", "zipf 1.05"] as const) {
      // Several batches of ids, used in turn: the same ids every call would leave their
      // rows in the (large) L3 cache and measure the cache, not memory.
      const sets = Array.from({ length: quick ? 3 : 8 }, () => {
        const bags = rows.map((r, t) => makeBags(batch, DLRM_V2.multiHot[t]!, r, dist === "uniform (cold)" ? null : new Zipf(r, 1.05), rng));
        return bags.map((b, t) => ({ table: tables[t]!, ids: b.ids, offsets: b.offsets, mode: "sum" as const, out: columnSlice(out, t * dim, dim) }));
      });
      const rowBytes = dtype === "f32" ? dim * 4 : dim + 4;
      const bytes = sets[0]!.reduce((a, b) => a + b.ids.data.length, 0) * rowBytes;
      for (const threads of threadCounts) {
        k.setNumThreads(threads);
        progress(`embedding bags ${dtype} ${dist} threads=${threads}`);
        const t0 = Bun.nanoseconds();
        let calls = 0;
        while (calls < sets.length || Bun.nanoseconds() - t0 < (quick ? 0.2e9 : 0.6e9)) {
          k.embeddingBags(sets[calls % sets.length]!);
          calls++;
        }
        const seconds = (Bun.nanoseconds() - t0) / 1e9 / calls;
        const gbps = bytes / seconds / 1e9;
        section.add({ dtype, ids: dist, threads, "ms/batch": seconds * 1e3, "GB/s": gbps, "% bw": (100 * gbps) / bandwidth, "Msamples/s": batch / seconds / 1e6 });
      }
    }
  }
}

async function benchFfi(report: Report) {
  const section = report.section("FFI call cost (tiny op, end to end from TypeScript)");
  const a = tensor("f32", [1, 4], new Float32Array([1, 2, 3, 4]));
  const y = tensor("f32", [1, 4]);
  k.setNumThreads(1);
  const n = 200_000;
  const run = (f: () => void) => {
    for (let i = 0; i < 10_000; i++) f();
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) f();
    return (Bun.nanoseconds() - t0) / n / 1000;
  };
  const sym = k.loadLibrary().symbols;
  const ad = a.data as Float32Array;
  const yd = y.data as Float32Array;
  section.add({ call: "rf_binary, raw symbol", "us/call": run(() => sym.rf_binary(null, 0, 1, 4, ad, 4, ad, 4, yd, 4)) });
  section.add({ call: "binary(), typed wrapper with validation", "us/call": run(() => k.binary({ op: "add", a, b: a, y })) });
}

/** A DLRM zoo batch on this backend vs the cpu backend, each measured by the same child script. */
function benchZooVsCpu(report: Report, backend: string, quick: boolean) {
  const batches = quick ? [1, 512] : [1, 64, 512, 2048];
  const section = report.section(`DLRM zoo model (fp32, flat rows): ${backend} vs cpu, ms per batch`);
  section.note("each backend in its own child process (bench/zoo-batch-child.ts); target: the device path costs <= 2x the cpu backend");
  const measure = (b: string) => {
    progress(`dlrm batches on ${b}`);
    const p = Bun.spawnSync(["bun", `${import.meta.dir}/zoo-batch-child.ts`, ...batches.map(String)], { env: { ...process.env, RANKFN_BACKEND: b } });
    if (p.exitCode !== 0) throw new Error(`zoo-batch-child on ${b} failed:\n${p.stderr}`);
    return JSON.parse(p.stdout.toString()) as { backend: string; msPerBatch: Record<number, number> };
  };
  const dev = measure(backend);
  const cpu = measure("cpu");
  for (const batch of batches) {
    const d = dev.msPerBatch[batch]!;
    const c = cpu.msPerBatch[batch]!;
    section.add({ batch, [`${dev.backend} ms`]: d, "cpu ms": c, [`x cpu`]: d / c });
  }
}

function probeOrNaN(probe: () => number): number {
  try {
    return probe();
  } catch {
    return Number.NaN; // a dtype this backend cannot probe
  }
}

const na = (v: number): number | string => (Number.isFinite(v) ? v : "n/a");

type GemmDtype = "f32" | "bf16" | "i8" | "i8a16";

function packInt8(w: Float32Array, n: number, kk: number, activationBits: 8 | 16 = 8): k.PackedWeight {
  const { q, scales } = quantizeInt8PerChannel(w, n, kk);
  const packed = k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales));
  if (activationBits === 16) packed.setActivationBits(16);
  return packed;
}

/** Tables live in rf_malloc memory (huge pages where the OS allows), as a host tier would hold them. */
const tableMemory: k.DeviceBuffer[] = [];

function makeTable(dtype: "f32" | "u8q", rows: number, dim: number, rng: Rng) {
  // A short random pattern tiled over the table: generation stays fast for GBs.
  const pattern = rng.floats(dim * 257, -0.1, 0.1);
  const values = new Float32Array(rows * dim);
  for (let at = 0; at < values.length; at += pattern.length) values.set(pattern.subarray(0, Math.min(pattern.length, values.length - at)), at);
  const bytes = dtype === "f32" ? new Uint8Array(values.buffer) : quantizeRowsU8(values, rows, dim);
  const mem = new k.DeviceBuffer(0, bytes.byteLength);
  tableMemory.push(mem);
  const view = new Uint8Array(mem.view());
  view.set(bytes);
  return dtype === "f32" ? tensor("f32", [rows, dim], new Float32Array(view.buffer)) : tensor("u8q", [rows, dim], view);
}

function makeBags(batch: number, hot: number, rows: number, zipf: Zipf | null, rng: Rng) {
  const ids = new Int32Array(batch * hot);
  for (let i = 0; i < ids.length; i++) ids[i] = zipf ? zipf.sample(rng) : rng.int(rows);
  if (zipf) {
    // Scatter hot ranks over the table so hot rows are not also adjacent in memory.
    for (let i = 0; i < ids.length; i++) ids[i] = Number((BigInt(ids[i]!) * 2654435761n) % BigInt(rows));
  }
  const offsets = new BigInt64Array(batch + 1);
  for (let b = 0; b <= batch; b++) offsets[b] = BigInt(b * hot);
  return { ids: tensor("i32", [ids.length], ids), offsets: tensor("i64", [batch + 1], offsets) };
}
