// Command-line helpers shared by the CLI, examples and benchmarks: argument
// parsing, byte formatting and a progress bar on stderr.
import { checkParallel } from "../runtime/parallel/parallel-options";

/** Positional arguments and `--name value` / `--name=value` flags (only `known` names). */
export function parseArgs(args: string[], known: string[]): { positional: string[]; flags: Record<string, string> } {
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

export function formatBytes(n: number): string {
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
export function progressBar(label: string): (written: number, total: number) => void {
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

/**
 * `--parallel-devices cpu:2 --parallel dense=tensor,embeddings=row` as the `devices` and `parallel`
 * model options, checked here (each part's value as the model checks it) so a bad one stops the
 * command before any model loads.
 * @example parallelOptions({ "parallel-devices": "cpu:2", parallel: "dense=replicate" })
 */
export function parallelOptions(flags: Record<string, string>): { devices?: string; parallel?: Record<string, string> } {
  if (flags.parallel === undefined) {
    if (flags["parallel-devices"] !== undefined) throw new Error("--parallel-devices needs --parallel part=strategy (e.g. dense=tensor)");
    return {};
  }
  const devices = flags["parallel-devices"];
  if (!devices) throw new Error("--parallel needs --parallel-devices (e.g. cpu:2)");
  const parallel: Record<string, string> = {};
  for (const item of flags.parallel.split(",")) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1) throw new Error(`--parallel takes part=strategy[,part=strategy], got "${flags.parallel}"`);
    parallel[item.slice(0, eq)] = item.slice(eq + 1);
  }
  checkParallel(devices, parallel);
  return { devices, parallel };
}

