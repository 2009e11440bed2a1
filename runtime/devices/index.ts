// Opening devices from a spec ("cpu:2", "cpu:2x1", "cuda") and moving bytes
// between them.
import type { Pointer } from "bun:ffi";
import { KernelError, TensorError } from "../errors";
import { CommandList } from "../ffi/commands";
import { deviceCount, deviceInfo } from "../ffi/device";
import { check, native } from "../ffi/native";
import { allowedCpus, coreGroups, openCpuDevices } from "./cpu";
import { Device, DeviceError } from "./device";

export { Device, DeviceError, type DeviceDescription, type DeviceKind } from "./device";
export { allowedCpus, coreGroups, openCpuDevices } from "./cpu";

/**
 * Open devices from a spec:
 * - `cpu:N` — the machine's cores split into N core groups (one device each);
 * - `cpu:NxT` — N devices of T cores each (the first N×T allowed cores);
 * - `cuda` / `opencl` — every device of the loaded backend, one stream each.
 * @example const devices = openDevices("cpu:2"); // two core groups
 */
export function openDevices(spec: string): Device[] {
  const cpu = /^cpu(?::(\d+)(?:x(\d+))?)?$/.exec(spec);
  if (cpu) {
    const count = cpu[1] ? Number(cpu[1]) : 1;
    return openCpuDevices(coreGroups(allowedCpus(), count, cpu[2] ? Number(cpu[2]) : undefined));
  }
  if (spec === "cuda" || spec === "opencl") return backendDevices(spec);
  throw new TensorError(`devices: unknown spec ${JSON.stringify(spec)} (expected cpu, cpu:N, cpu:NxT, cuda or opencl)`);
}

/**
 * Wait for every device — even after one failed, so none may still use a batch's buffers —
 * then throw the first failure (a DeviceError naming its device).
 */
export function waitAll(devices: readonly Device[]): void {
  let first: unknown;
  for (const d of devices) {
    try {
      d.wait();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Queue `lists[i]` on `devices[i]` (every device, even one with nothing to do, so a fault
 * injected on it fires), then waitAll. A device that fails while its list is issued (OpenCL
 * issues commands as they are queued) fails the batch the same way, as a DeviceError naming it.
 */
export function runAll(devices: readonly Device[], lists: readonly CommandList[]): void {
  let first: unknown;
  devices.forEach((d, i) => {
    try {
      d.submit(lists[i]!);
    } catch (err) {
      first ??= err instanceof KernelError ? new DeviceError(`device ${d.id} failed the batch: ${err.message}`, d.id) : err;
    }
  });
  try {
    waitAll(devices);
  } catch (err) {
    first ??= err;
  }
  if (first !== undefined) throw first;
}

/** The loaded backend's devices of `kind`, each with a stream of its own. */
function backendDevices(kind: "cuda" | "opencl"): Device[] {
  const out: Device[] = [];
  for (let i = 0; i < deviceCount(); i++) {
    const info = deviceInfo(i);
    if (info.kind !== kind) continue;
    const handle = new BigUint64Array(1);
    check(native().rf_stream_create(i, handle), "rf_stream_create");
    out.push(new Device(Number(handle[0]) as Pointer, `${kind}:${out.length}`, kind, i, info.totalMemory));
  }
  if (out.length === 0) throw new TensorError(`devices: the loaded backend has no ${kind} device`);
  return out;
}

/**
 * Copy `bytes` from `src` (memory of device `from`) to `dst` (memory of device
 * `to`), ordered on `to`'s queue: CPU core groups share host memory (a memcpy
 * by the destination's threads); GPUs copy peer to peer. Returns once queued;
 * `to.wait()` completes it.
 */
export function transfer(to: Device, dst: number, from: Device, src: number, bytes: number): void {
  if (from.deviceKind !== to.deviceKind) throw new TensorError(`transfer: ${from.id} -> ${to.id} crosses backends`);
  const list = new CommandList(1);
  list.memcpy(dst, src, bytes);
  to.submit(list);
}
