#!/usr/bin/env bun
// The rankfn command line: `bun run rankfn <command>` from the repository, or
// `rankfn <command>` once installed.
import * as k from "../runtime/ffi";
import { KernelError } from "../runtime/errors";
import { formatBytes, parallelOptions, parseArgs, progressBar } from "./cli-support";
import { loadModel } from "./index";
import { readModel, writeModel } from "../runtime/model/model-file";
import { quantizationReport } from "./quantization-report";
import { calibrate } from "../runtime/quality/calibrate";
import { rankingRequests } from "../runtime/quality/ranking-requests";
import { importOnnxFile } from "../runtime/onnx/importer";
import { compile } from "../runtime/compiler/compile";
import { flopsPerRow, isZooName, parameterCount, zoo, zooNames } from "./zoo";
import { embeddingsCommand } from "./cli-embeddings";
import type { RemoteEmbeddingOptions } from "../runtime/embeddings/remote-tables";
import type { KvCacheOptions } from "../runtime/engine/kv-cache";
import type { KvPageDType } from "../runtime/ffi/kv-store";
import { resolve } from "node:path";

interface Command {
  summary: string;
  run(args: string[]): Promise<void> | void;
}

const commands: Record<string, Command> = {
  embeddings: embeddingsCommand,
  convert: {
    summary: "convert an ONNX model to a rankfn model file: convert model.onnx out.safetensors [--precision bf16|int8] [--context a,b] [--dims hist_len=64 (a dynamic dimension's fixed size)]",
    run(args) {
      const { positional, flags } = parseArgs(args, ["precision", "context", "dims"]);
      const [input, out] = positional;
      if (!input || !out || positional.length > 2) throw new Error("usage: rankfn convert model.onnx out.safetensors [--precision bf16|int8] [--context a,b]");
      const precision = (flags.precision ?? "f32") as "f32" | "bf16" | "int8";
      if (!["f32", "bf16", "int8"].includes(precision)) throw new Error(`--precision must be f32, bf16 or int8, got "${precision}"`);
      const imported = importOnnxFile(input, { context: flags.context ? flags.context.split(",").filter(Boolean) : undefined, dims: parseDims(flags.dims), onProgress: progressBar(`importing ${input}`) });
      // The file holds the compiled graph (patterns fused, weights in the chosen precision).
      const { model, summaries } = compile(imported, { precision });
      for (const line of summaries) process.stderr.write(`  ${line}\n`);
      const bytes = writeModel(out, model, { onProgress: progressBar(`writing ${out}`) });
      const g = model.graph;
      console.log(`wrote     ${out} (${formatBytes(bytes)})`);
      console.log(`inputs    ${g.inputs.map((i) => `${i.name} [${i.shape.join(", ")}] ${i.role}`).join(", ")}`);
      console.log(`nodes     ${g.nodes.length} (${[...new Set(g.nodes.map((n) => n.op))].join(", ")})`);
      console.log(`outputs   ${Object.keys(g.outputs).join(", ")}`);
    },
  },
  serve: {
    summary: "serve models over HTTP: serve --model name=path(.safetensors|.onnx) [--model ...] [--port 8080] [--host 127.0.0.1] [--model-root DIR] [--precision P] [--api-key K] [--expert-devices cpu:2] [--parallel-devices cpu:2 --parallel dense=tensor|replicate[,embeddings=table|row|column|replicate]] [--lazy] [--context a,b --dims hist_len=256 --pad-to bucket|max (ONNX files)] [--redis URL --remote-tables all|a,b --on-redis-failure fail|default --default-row zeros|mean] [--kv-cache-mb N [--kv-dtype f32|bf16|i8] [--kv-host-mb M [--kv-host-dtype bf16|i8|f32]] (reuse users' history K/V across requests that name a user)]",
    async run(args) {
      const models: Record<string, string> = {};
      const rest: string[] = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i] === "--model" || args[i]!.startsWith("--model=")) {
          const spec = args[i]!.includes("=") && args[i]!.startsWith("--model=") ? args[i]!.slice(8) : args[++i];
          const eq = spec?.indexOf("=") ?? -1;
          if (!spec || eq <= 0) throw new Error(`--model needs name=path, got "${spec ?? ""}"`);
          // The operator's paths load from anywhere (relative to the working directory); --model-root confines PUT only.
          models[spec.slice(0, eq)] = resolve(spec.slice(eq + 1));
        } else rest.push(args[i]!);
      }
      const { positional, flags } = parseArgs(rest.filter((a) => a !== "--lazy"), ["port", "host", "model-root", "precision", "api-key", "redis", "remote-tables", "on-redis-failure", "default-row", "expert-devices", "parallel-devices", "parallel", "context", "dims", "pad-to", "kv-cache-mb", "kv-dtype", "kv-host-mb", "kv-host-dtype"]);
      if (positional.length > 0) throw new Error(`unexpected argument "${positional[0]}"`);
      if (Object.keys(models).length === 0) throw new Error("usage: rankfn serve --model name=path [--model ...] [--port 8080]");
      const port = Number(flags.port ?? 8080);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got "${flags.port}"`);
      const precision = (flags.precision ?? "f32") as "f32" | "bf16" | "int8";
      if (!["f32", "bf16", "int8"].includes(precision)) throw new Error(`--precision must be f32, bf16 or int8, got "${precision}"`);
      const spread = parallelOptions(flags);
      const { createApp } = await import("../runtime/server/app");
      const t0 = performance.now();
      const server = createApp({
        models,
        lazy: rest.includes("--lazy"),
        modelRoot: flags["model-root"] ?? ".",
        apiKey: flags["api-key"] ?? process.env.RANKFN_API_KEY,
        modelOptions: { precision, worker: true, ...onnxOptions(flags), ...(flags.redis ? { embeddings: remoteOptions(flags) } : {}), ...(flags["expert-devices"] ? { experts: { devices: flags["expert-devices"] } } : {}), ...spread, ...kvCacheOptions(flags) },
      });
      // Listen before the models load: /healthz answers at once (a liveness probe never kills a model
      // mid-warm-up), /readyz says 503 with what is still loading until every model serves.
      const http = Bun.serve({ port, hostname: flags.host ?? "127.0.0.1", fetch: server.app.fetch });
      const names = Object.keys(models).join(", ");
      console.log(`rankfn listening on http://${http.hostname}:${http.port} (${rest.includes("--lazy") ? "models load on first use" : `loading ${names}`})`);
      const stop = async () => {
        http.stop();
        await server.close();
        process.exit(0);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      try {
        await server.ready;
      } catch (err) {
        http.stop(true);
        await server.close();
        throw err;
      }
      console.log(`rankfn serving ${names} on http://${http.hostname}:${http.port} (ready in ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
    },
  },
  inspect: {
    summary: "show a model file's inputs, outputs, parameters, compiler passes and memory plan: inspect <file> [--precision f32|bf16|int8 [--calibrate N]]",
    run(args) {
      const { positional, flags } = parseArgs(args, ["precision", "calibrate"]);
      const [file] = positional;
      if (!file || positional.length > 1) throw new Error("usage: rankfn inspect <model.safetensors> [--precision f32|bf16|int8 [--calibrate N]]");
      const precision = flags.precision ?? "f32";
      if (!["f32", "bf16", "int8"].includes(precision)) throw new Error(`--precision must be f32, bf16 or int8, got "${precision}"`);
      const calibrateCount = flags.calibrate === undefined ? 0 : Number(flags.calibrate);
      if (!Number.isInteger(calibrateCount) || calibrateCount < 0 || calibrateCount > 64) throw new Error(`--calibrate must be a number of sample requests 0-64, got "${flags.calibrate}"`);
      const built = readModel(file);
      // Calibration requests come from another seed than the accuracy requests, so the figures are held out.
      const calibration = calibrateCount > 0 && precision !== "f32" ? rankingRequests(built, { count: calibrateCount, seed: 1000 }) : undefined;
      if (calibration) process.stderr.write(`  … calibrating ${precision} on ${calibrateCount} generated requests\n`);
      const { keep: kept, narrow } = calibration ? calibrate(built, calibration, { precision: precision as "bf16" | "int8" }) : { keep: [], narrow: [] };
      const model = loadModel(file, { precision: precision as "f32" | "bf16" | "int8", keep: kept, narrow });
      const info = model.inspect();
      const row = (t: { name: string; dtype: string; shape: number[]; role: string }) => `  ${t.name.padEnd(14)} ${t.dtype.padEnd(4)} [${t.shape.join(", ")}]  ${t.role}`;
      console.log(`model     ${info.name} (${file})`);
      console.log(`inputs\n${info.inputs.map(row).join("\n")}`);
      console.log(`outputs\n${info.outputs.map(row).join("\n")}`);
      console.log(`params    ${info.params.count.toLocaleString("en-US")} (${formatBytes(info.params.bytes)}): ${Object.entries(info.params.byDtype).map(([d, n]) => `${d} ${n.toLocaleString("en-US")}`).join(", ")}`);
      console.log(`precision weights ${info.precision.weights}, tables ${info.precision.tables}`);
      console.log(`compiler\n${info.compiler.map((l) => `  ${l}`).join("\n")}`);
      console.log(`memory\n${info.memoryPlan.map((m) => `  batch ≤ ${m.capacity} rows, ≤ ${m.contextCapacity} requests: ${m.summary}`).join("\n")}`);
      model.dispose();
      if (precision !== "f32") {
        process.stderr.write("  … measuring accuracy against fp32 on generated requests\n");
        const r = quantizationReport(built, { precision: precision as "bf16" | "int8", requests: 4, candidates: 200, keep: kept, narrow });
        const per = (m: Record<string, number>) => Object.entries(m).map(([o, v]) => `${o} ${v.toFixed(4)}`).join(", ");
        console.log(`accuracy  vs fp32 over ${r.requests}×${r.candidates} candidates (${r.path}): max |Δscore| ${r.maxAbsDelta.toExponential(2)}, NDCG@10 ${per(r.ndcg10)}, Kendall τ ${per(r.kendallTau)}`);
        console.log(`fp32      ${r.keptFp32.length === 0 ? "no GEMM layer kept" : r.keptFp32.map((k) => `\n  ${k.weight}: ${k.reason}`).join("")}`);
        if (precision === "int8") console.log(`u8 acts   ${r.u8Activations.length === 0 ? "none (every int8 layer quantizes its activations to 16-bit levels)" : r.u8Activations.map((k) => `\n  ${k.weight}: ${k.reason}`).join("")}`);
      }
    },
  },
  info: {
    summary: "show the kernel library, its devices, code path and threads",
    run() {
      const lib = k.loadLibrary();
      console.log(`library   ${lib.path}`);
      console.log(`backend   ${lib.backend} (ABI ${lib.abiVersion}, sources ${lib.sourceHash})`);
      if (lib.fallbackReason) console.log(`fallback  ${lib.fallbackReason.split("\n")[0]}`);
      const { active, best } = k.isa();
      console.log(`isa       ${active} (best supported: ${best})`);
      console.log(`threads   ${k.numThreads()}`);
      for (let d = 0; d < k.deviceCount(); d++) {
        const info = k.deviceInfo(d);
        console.log(`device ${d}  ${info.name}, ${info.computeUnits} compute units, ${(info.totalMemory / 2 ** 30).toFixed(1)} GiB`);
      }
    },
  },
  probe: {
    summary: "measure this machine's FMA peak and memory bandwidth (1 and 2 threads)",
    run() {
      for (const threads of [1, 2]) {
        process.stderr.write(`  … probing with ${threads} thread(s)\n`);
        // A dtype this CPU has no instructions for (bf16 on AVX2) reads "n/a", not an error.
        const peakOf = (dtype: "f32" | "bf16" | "i8") => {
          try {
            return k.probePeakGflops(threads, dtype).toFixed(0);
          } catch (e) {
            if (e instanceof KernelError && e.kernelStatus === 3 /* RF_ERR_UNSUPPORTED */) return "n/a";
            throw e;
          }
        };
        const [f32, bf16, i8] = [peakOf("f32"), peakOf("bf16"), peakOf("i8")];
        const bw = k.probeMemBandwidth(threads);
        console.log(`${threads} thread(s): fp32 ${f32} GFLOP/s, bf16 ${bf16} GFLOP/s, int8 ${i8} GOP/s, read ${bw.toFixed(1)} GB/s`);
      }
    },
  },
  zoo: {
    summary: `build a zoo model and write it: zoo <${zooNames.join("|")}> <out.safetensors> [--scale S] [--seed N]`,
    run(args) {
      const { positional, flags } = parseArgs(args, ["scale", "seed"]);
      const [name, out] = positional;
      if (!name || !out || positional.length > 2) {
        throw new Error(`usage: rankfn zoo <name> <out.safetensors> [--scale S] [--seed N]\n\n${zooNames.map((n) => `  ${n.padEnd(9)} ${zoo[n].summary}`).join("\n")}`);
      }
      if (!isZooName(name)) throw new Error(`unknown model "${name}" (known: ${zooNames.join(", ")})`);
      const options: { scale?: number; seed?: number } = {};
      if (flags.scale !== undefined) {
        options.scale = Number(flags.scale);
        if (!(options.scale > 0) || !Number.isFinite(options.scale)) throw new Error(`--scale must be a positive number, got "${flags.scale}"`);
      }
      if (flags.seed !== undefined) {
        options.seed = Number(flags.seed);
        if (!Number.isSafeInteger(options.seed)) throw new Error(`--seed must be an integer, got "${flags.seed}"`);
      }
      process.stderr.write(`  … building ${name}\n`);
      const model = zoo[name].build(options);
      const bytes = writeModel(out, model, { onProgress: progressBar(`writing ${out}`) });
      const flops = flopsPerRow(model.graph);
      console.log(`wrote     ${out}`);
      console.log(`size      ${formatBytes(bytes)}`);
      console.log(`params    ${parameterCount(model).toLocaleString("en-US")} in ${Object.keys(model.graph.weights).length} tensors`);
      console.log(`flops     ${(flops.candidate / 1e6).toFixed(2)} MFLOP per candidate, ${(flops.context / 1e6).toFixed(3)} MFLOP per request`);
      console.log(`outputs   ${Object.keys(model.graph.outputs).join(", ")}`);
    },
  },
};

/** The remote embedding tier from `serve` flags (every served model reads its tables from the same Redis). */
function remoteOptions(flags: Record<string, string>): RemoteEmbeddingOptions {
  const onFailure = flags["on-redis-failure"] ?? "fail";
  if (onFailure !== "fail" && onFailure !== "default") throw new Error(`--on-redis-failure must be fail or default, got "${onFailure}"`);
  const defaultRow = flags["default-row"] ?? "zeros";
  if (defaultRow !== "zeros" && defaultRow !== "mean") throw new Error(`--default-row must be zeros or mean, got "${defaultRow}"`);
  const tables = flags["remote-tables"] ?? "all";
  return { redis: flags.redis!, tables: tables === "all" ? "all" : tables.split(",").filter(Boolean), onFailure, defaultRow };
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    "usage: rankfn <command> [options] [--devices cpu|opencl|opencl:N]",
    "",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "--devices picks the backend (as RANKFN_DEVICES): opencl:2 splits the first OpenCL device into 2 sub-devices",
  ].join("\n");
}

/** Strip `--devices spec` / `--devices=spec` (any command) into RANKFN_DEVICES, read when the library loads. */
function takeDevices(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--devices") process.env.RANKFN_DEVICES = args[++i] ?? "";
    else if (args[i]!.startsWith("--devices=")) process.env.RANKFN_DEVICES = args[i]!.slice(10);
    else out.push(args[i]!);
  }
  return out;
}

const [name, ...rest] = takeDevices(process.argv.slice(2));
if (!name || name === "help" || name === "--help" || name === "-h") {
  console.log(usage());
} else if (!commands[name]) {
  console.error(`rankfn: unknown command "${name}"\n\n${usage()}`);
  process.exit(2);
} else {
  try {
    await commands[name].run(rest);
  } catch (err) {
    console.error(`rankfn ${name}: ${(err as Error).message}`);
    process.exit(1);
  }
}

/** The user-history KV cache from `serve` flags (each model with an HSTU history gets its own store on its worker; others none). */
function kvCacheOptions(flags: Record<string, string>): { kvCache?: KvCacheOptions } {
  if (flags["kv-cache-mb"] === undefined) {
    for (const f of ["kv-dtype", "kv-host-mb", "kv-host-dtype"]) if (flags[f] !== undefined) throw new Error(`--${f} needs --kv-cache-mb`);
    return {};
  }
  const mb = (flag: string) => {
    const n = Number(flags[flag]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be a positive number of MiB, got "${flags[flag]}"`);
    return n;
  };
  const dtype = (flag: string) => {
    const d = flags[flag];
    if (d !== undefined && !["f32", "bf16", "i8"].includes(d)) throw new Error(`--${flag} must be f32, bf16 or i8, got "${d}"`);
    return d as KvPageDType | undefined;
  };
  const host = flags["kv-host-mb"] !== undefined ? { mb: mb("kv-host-mb"), dtype: dtype("kv-host-dtype") } : undefined;
  if (!host && flags["kv-host-dtype"] !== undefined) throw new Error("--kv-host-dtype needs --kv-host-mb");
  return { kvCache: { mb: mb("kv-cache-mb"), dtype: dtype("kv-dtype"), ...(host ? { host } : {}), required: false } };
}

/** `--dims hist_len=64,other=8` as { hist_len: 64, other: 8 } (undefined without the flag). */
function parseDims(flag: string | undefined): Record<string, number> | undefined {
  if (flag === undefined) return undefined;
  const dims: Record<string, number> = {};
  for (const part of flag.split(",").filter(Boolean)) {
    const [name, value] = part.split("=");
    const n = Number(value);
    if (!name || !Number.isSafeInteger(n) || n <= 0) throw new Error(`--dims needs name=size pairs with positive sizes, got "${part}"`);
    dims[name] = n;
  }
  return dims;
}

/** serve's options for ONNX files: context inputs, dynamic dimensions' largest sizes, padding. */
function onnxOptions(flags: Record<string, string | undefined>): { context?: string[]; dims?: Record<string, number>; padding?: { to: "bucket" | "max" } } {
  const padTo = flags["pad-to"];
  if (padTo !== undefined && padTo !== "bucket" && padTo !== "max") throw new Error(`--pad-to must be bucket or max, got "${padTo}"`);
  return {
    ...(flags.context ? { context: flags.context.split(",").filter(Boolean) } : {}),
    ...(flags.dims ? { dims: parseDims(flags.dims) } : {}),
    ...(padTo ? { padding: { to: padTo } } : {}),
  };
}
