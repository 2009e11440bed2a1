// CPU devices as core groups: the cores this process may run on (its Linux
// affinity mask) split into contiguous groups, one device per group, each with
// a pool of one thread per core pinned to that group.
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";
import { check, native } from "../ffi/native";
import { Device } from "./device";

/** CPUs this process may run on: Cpus_allowed_list on Linux, else 0..availableParallelism-1. */
export function allowedCpus(): number[] {
  try {
    const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
    if (line) {
      const cpus: number[] = [];
      for (const part of line.split(":")[1]!.trim().split(",")) {
        const [a, b] = part.split("-").map(Number);
        for (let c = a!; c <= (b ?? a!); c++) cpus.push(c);
      }
      if (cpus.length > 0 && cpus.every(Number.isInteger)) return cpus;
    }
  } catch {
    // not Linux: fall through
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/**
 * Split `cpus` into `count` groups of `perGroup` cores (default: an equal share,
 * at least 1). With more groups than cores the groups share cores round-robin.
 */
export function coreGroups(cpus: readonly number[], count: number, perGroup?: number): number[][] {
  if (!Number.isInteger(count) || count < 1) throw new TensorError(`devices: need at least one CPU device, got ${count}`);
  const size = perGroup ?? Math.max(1, Math.floor(cpus.length / count));
  if (!Number.isInteger(size) || size < 1) throw new TensorError(`devices: cores per device must be >= 1, got ${size}`);
  return Array.from({ length: count }, (_, g) => Array.from({ length: size }, (_, i) => cpus[(g * size + i) % cpus.length]!));
}

/** One CPU core-group device per group: `threads` defaults to the group's size. */
export function openCpuDevices(groups: number[][], threads?: number): Device[] {
  const memory = Math.floor(totalmem() / groups.length);
  return groups.map((cpus, i) => {
    const out = new BigUint64Array(1);
    check(native().rf_stream_create_pool(0, threads ?? cpus.length, Int32Array.from(cpus), cpus.length, out), "rf_stream_create_pool");
    return new Device(Number(out[0]) as Pointer, `cpu:${i}`, "cpu", 0, memory, cpus);
  });
}
