// Devices: CPU core groups from a spec (cores split, pinned, own pool),
// device-to-device transfer, spec errors, and a failed batch leaving the
// device usable.
import { expect, test } from "bun:test";
import { DeviceError, allowedCpus, coreGroups, openDevices, transfer } from "../../runtime/devices";
import { DeviceBuffer } from "../../runtime/ffi/device";
import { CommandList } from "../../runtime/ffi/commands";

test("cores are split into contiguous groups; more groups than cores share them", () => {
  expect(coreGroups([0, 1, 2, 3], 2)).toEqual([[0, 1], [2, 3]]);
  expect(coreGroups([4, 5, 6], 3)).toEqual([[4], [5], [6]]);
  expect(coreGroups([0, 1], 3)).toEqual([[0], [1], [0]]);
  expect(coreGroups([0, 1, 2, 3], 2, 1)).toEqual([[0], [1]]);
  expect(() => coreGroups([0], 0)).toThrow("devices: need at least one CPU device, got 0");
});

test("cpu:N opens N core groups with their own pinned pools", () => {
  const cpus = allowedCpus();
  expect(cpus.length).toBeGreaterThanOrEqual(1);
  const devices = openDevices(`cpu:${Math.min(2, cpus.length)}`);
  try {
    const described = devices.map((d) => d.describe());
    expect(described.map((d) => d.id)).toEqual(devices.map((_, i) => `cpu:${i}`));
    expect(described.flatMap((d) => d.cpus).sort()).toEqual(cpus.slice(0, devices.length * described[0]!.cpus.length).sort());
    for (const d of described) {
      expect(d.kind).toBe("cpu");
      expect(d.threads).toBe(d.cpus.length);
      expect(d.memoryBytes).toBeGreaterThan(0);
      if (process.platform === "linux") expect(d.pinned).toBe(true);
    }
  } finally {
    devices.forEach((d) => d.dispose());
  }
  const [wide] = openDevices(`cpu:1x${cpus.length}`);
  expect(wide!.describe().threads).toBe(cpus.length);
  wide!.dispose();
});

test("unknown specs are errors listing the valid ones", () => {
  expect(() => openDevices("tpu:2")).toThrow('devices: unknown spec "tpu:2" (expected cpu, cpu:N, cpu:NxT, cuda or opencl)');
  expect(() => openDevices("cuda")).toThrow("devices: the loaded backend has no cuda device");
});

test("transfer copies bytes from one device's memory to another's, ordered on the destination", () => {
  const [a, b] = openDevices("cpu:2");
  const src = new DeviceBuffer(a!.backendDevice, 4096);
  const dst = new DeviceBuffer(b!.backendDevice, 4096);
  try {
    const values = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i));
    src.upload(values);
    transfer(b!, dst.ptr as number, a!, src.ptr as number, 4096);
    b!.wait();
    expect(new Float32Array(dst.view())).toEqual(values);
  } finally {
    src.dispose();
    dst.dispose();
    a!.dispose();
    b!.dispose();
  }
});

test("a failed batch throws DeviceError naming the device; the device then runs the next batch", () => {
  const [dev] = openDevices("cpu:1");
  const buf = new DeviceBuffer(0, 64);
  try {
    const list = new CommandList();
    list.memcpy(buf.ptr as number, buf.ptr as number, 64);
    dev!.failNextBatch(6);
    dev!.submit(list);
    expect(() => dev!.wait()).toThrow(new DeviceError("device cpu:0 failed the batch: command 0 (fail): injected fault", "cpu:0"));
    dev!.submit(list);
    dev!.wait();
    expect(dev!.stats().commands).toBe(2);
  } finally {
    buf.dispose();
    dev!.dispose();
  }
});
