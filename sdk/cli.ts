#!/usr/bin/env bun
// The rankfn command line: `bun run rankfn <command>` from the repository, or
// `rankfn <command>` once installed.
import * as k from "../runtime/ffi";

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
};

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
