#!/usr/bin/env bun
// The rankfn command line: `bun run rankfn <command>` from the repository, or
// `rankfn <command>` once installed.
import * as k from "../runtime/ffi";
import { writeModel } from "../runtime/model/model-file";
import { flopsPerRow, isZooName, parameterCount, zoo, zooNames } from "./zoo";

interface Command {
  summary: string;
  run(args: string[]): Promise<void> | void;
}

const commands: Record<string, Command> = {
  info: {
    summary: "show the kernel library, its devices, code path and threads",
    run() {
      const lib = k.loadLibrary();
      console.log(`library   ${lib.path}`);
      console.log(`backend   ${lib.backend} (ABI ${lib.abiVersion}, sources ${lib.sourceHash})`);
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
        const f32 = k.probePeakGflops(threads, "f32");
        const bf16 = k.probePeakGflops(threads, "bf16");
        const i8 = k.probePeakGflops(threads, "i8");
        const bw = k.probeMemBandwidth(threads);
        console.log(`${threads} thread(s): fp32 ${f32.toFixed(0)} GFLOP/s, bf16 ${bf16.toFixed(0)} GFLOP/s, int8 ${i8.toFixed(0)} GOP/s, read ${bw.toFixed(1)} GB/s`);
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

/** Positional arguments and `--name value` / `--name=value` flags (only `known` names). */
function parseArgs(args: string[], known: string[]): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const key = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(key)) throw new Error(`unknown option --${key} (known: ${known.map((k) => `--${k}`).join(", ")})`);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new Error(`--${key} needs a value`);
    flags[key] = value;
  }
  return { positional, flags };
}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]} (${n.toLocaleString("en-US")} bytes)`;
}

/** A progress callback drawing a bar on stderr (redrawn in place on a terminal, every 10% otherwise). */
function progressBar(label: string): (written: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return (written, total) => {
    const fraction = total > 0 ? written / total : 1;
    const percent = Math.floor(fraction * 100);
    const step = tty ? percent : Math.floor(percent / 10);
    if (step === last) return;
    last = step;
    const filled = Math.round(fraction * 30);
    const line = `  ${label} [${"#".repeat(filled)}${".".repeat(30 - filled)}] ${String(percent).padStart(3)}% ${(written / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`;
    process.stderr.write(tty ? `\r${line}${written >= total ? "\n" : ""}` : `${line}\n`);
  };
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return ["usage: rankfn <command> [options]", "", ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)].join("\n");
}

const [name, ...rest] = process.argv.slice(2);
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
