// The C++ toolchain shared by the backends' builds: flags, running a command,
// compiling units in parallel with progress lines.
import { basename } from "node:path";
import { kernelsDir } from "./source-hash";

export const cxx = process.env.CXX ?? "g++";

export const commonFlags = ["-std=c++20", "-fPIC", "-fvisibility=hidden", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"];

export interface Unit {
  source: string;
  object: string;
  flags: string[];
}

export async function run(cmd: string[], label: string): Promise<void> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) {
    throw new Error(`${label} failed (exit ${code}):\n${cmd.join(" ")}\n${out}${err}`);
  }
  if (err.trim()) process.stderr.write(err);
}

/** Compile units with at most `jobs` compilers at once, printing progress. */
export async function compileAll(units: Unit[], jobs: number): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < units.length) {
      const unit = units[next++]!;
      await run([cxx, ...unit.flags, "-c", unit.source, "-o", unit.object], `compile ${unit.source}`);
      done++;
      console.log(`  [${done}/${units.length}] ${unit.source.slice(kernelsDir.length + 1)} -> ${basename(unit.object)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
}

