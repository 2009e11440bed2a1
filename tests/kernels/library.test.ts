// Loading the library, its identity, devices, threads, ISA selection, device
// memory, streams, ownership of native objects and the FFI tracing proxy.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { releasePages } from "../../runtime/ffi/weights";
import { native } from "../../runtime/ffi/native";
import * as k from "../../runtime/ffi";
import { KernelError, TensorError } from "../../runtime/errors";
import { kernelSourceHash } from "../../kernels/source-hash";
import { tensor } from "../../runtime/tensor/tensor";

const repo = join(import.meta.dir, "..", "..");
// `RANKFN_BACKEND=opencl bun test tests/kernels` runs this file against that backend.
const backend = process.env.RANKFN_BACKEND ?? "cpu";
const threadsAtStart = k.numThreads();
afterAll(() => k.setNumThreads(threadsAtStart));

/** Run a TypeScript snippet in a fresh Bun process from the repository root. */
function runSnippet(code: string, env: Record<string, string> = {}) {
  const proc = Bun.spawnSync(["bun", "-e", code], { cwd: repo, env: { ...process.env, ...env } });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

test("the library reports its ABI version, backend and the hash of the current sources", () => {
  const lib = k.loadLibrary();
  expect(lib.abiVersion).toBe(k.ABI_VERSION);
  expect(lib.backend).toBe(backend);
  expect(lib.sourceHash).toBe(kernelSourceHash());
});

test("a missing library fails with the command that builds it", () => {
  const r = runSnippet(`import { deviceCount } from "./runtime/ffi"; deviceCount();`, { RANKFN_LIBRARY: "/nonexistent/librankfn_cpu.so" });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("rankfn kernel library not found at /nonexistent/librankfn_cpu.so: run `bun install`");
});

test("a stale build is named with both hashes", () => {
  expect(k.staleness("/x.so", "aaaa", "aaaa")).toBeNull();
  expect(k.staleness("/x.so", "aaaa", "bbbb")).toBe("stale kernel library: /x.so was built from sources aaaa, the checkout has bbbb: run `bun run build:kernels`");
});

test("RANKFN_TRACE_FFI=1 logs every native call with its status", () => {
  const r = runSnippet(
    `import * as k from "./runtime/ffi"; import { tensor } from "./runtime/tensor/tensor";
     const a = tensor("f32", [1, 3], new Float32Array([1, 2, 3]));
     console.log(Array.from(k.binary({ op: "mul", a, b: a }).data).join(","));`,
    { RANKFN_TRACE_FFI: "1" },
  );
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe("1,4,9");
  expect(r.stderr).toMatch(/\[rankfn ffi\] rf_binary\(null, 2, 1, 3, Float32Array\(3\), 3, Float32Array\(3\), 3, Float32Array\(3\), 3\) -> 0 /);
});

// (The OpenCL backend's devices: tests/kernels/opencl.test.ts.)
test.skipIf(backend !== "cpu")("the cpu backend has one device that describes itself", () => {
  expect(k.deviceCount()).toBe(1);
  const info = k.deviceInfo(0);
  expect(info.kind).toBe("cpu");
  expect(info.isa).toBe(k.isa().active);
  expect(info.name).toBe(`cpu (${info.isa})`);
  expect(info.computeUnits).toBe(k.numThreads());
  expect(info.totalMemory).toBeGreaterThan(1 << 30);
  expect(() => k.deviceInfo(1)).toThrow("rf_device_info: the cpu backend has device 0 only, got 1");
});

test("sub-devices are asked for before first use; the cpu and cuda backends have none to offer", () => {
  expect(k.deviceCount()).toBeGreaterThanOrEqual(1); // devices set up
  const sym = k.loadLibrary().symbols;
  expect(sym.rf_set_device_partitions(0)).toBe(1);
  expect(String(sym.rf_last_error())).toBe("rf_set_device_partitions: parts = 0 must be >= 1");
  expect(sym.rf_set_device_partitions(1)).toBe(0);
  // RF_ERR_UNSUPPORTED where a backend cannot partition; OpenCL partitions, but only before first use.
  const answer: Record<string, [number, string]> = {
    cpu: [3, "the cpu backend has one device, asked for 2"],
    cuda: [3, "the cuda backend cannot partition a GPU (asked for 2 parts)"],
    opencl: [1, "already set up (1 partition(s)); call it before first use"],
  };
  const [status, message] = answer[backend]!;
  expect(sym.rf_set_device_partitions(2)).toBe(status);
  expect(String(sym.rf_last_error())).toContain(message);
});

test("the thread pool size can be set and read back", () => {
  k.setNumThreads(1);
  expect(k.numThreads()).toBe(1);
  k.setNumThreads(3);
  expect(k.numThreads()).toBe(3);
  expect(() => k.setNumThreads(0)).toThrow(TensorError);
});

test("the ISA can be forced down to the reference and back", () => {
  const { active, best } = k.isa();
  k.setIsa("ref");
  expect(k.isa().active).toBe("ref");
  k.setIsa(best);
  expect(k.isa().active).toBe(best);
  k.setIsa(active);
  expect(() => k.setIsa("sse9" as k.Isa)).toThrow('setIsa: unknown isa "sse9"');
});

test("device memory round-trips bytes and refuses out-of-range copies", () => {
  using buf = new k.DeviceBuffer(0, 64);
  const src = Float32Array.from({ length: 8 }, (_, i) => i * 1.5);
  buf.upload(src, 16);
  const back = new Float32Array(8);
  buf.download(back, 16);
  expect(Array.from(back)).toEqual(Array.from(src));
  expect(new Float32Array(buf.view(), 16, 8)[7]).toBe(10.5);
  expect(() => buf.upload(src, 40)).toThrow("DeviceBuffer.upload: bytes [40, 72) outside the buffer's 64");
  expect(() => new k.DeviceBuffer(0, -1)).toThrow(TensorError);
});

test("native objects free once and fail loudly when used after dispose()", () => {
  const w = k.PackedWeight.pack(tensor("f32", [2, 3], new Float32Array([1, 0, 0, 0, 1, 0])));
  const stream = new k.Stream(0);
  const x = tensor("f32", [1, 3], new Float32Array([4, 5, 6]));
  const y = k.gemm({ x, w, stream });
  stream.sync(); // ops on a stream are asynchronous on a device backend
  expect(Array.from(y.data)).toEqual([4, 5]);
  w.dispose();
  w.dispose();
  stream.dispose();
  stream.dispose();
  expect(() => k.gemm({ x, w })).toThrow("PackedWeight used after dispose()");
  expect(() => stream.sync()).toThrow("Stream used after dispose()");
  const buf = new k.DeviceBuffer(0, 8);
  buf[Symbol.dispose]();
  expect(() => buf.ptr).toThrow(KernelError);
});

test("rf_release_pages drops the pages of a mapped file without changing what it reads, and refuses a negative size", () => {
  const dir = mkdtempSync(join(tmpdir(), "rankfn-pages-"));
  try {
    const path = join(dir, "w.bin");
    const values = Float32Array.from({ length: 300_000 }, (_, i) => Math.sin(i));
    writeFileSync(path, new Uint8Array(values.buffer));
    const mapped = Bun.mmap(path, { shared: false });
    const view = new Float32Array(mapped.buffer, mapped.byteOffset, values.length);
    expect(view[123_456]).toBe(values[123_456]!);
    releasePages(view);
    // Read again (from the file where the pages went): the same values.
    expect(Buffer.from(mapped).equals(Buffer.from(values.buffer))).toBe(true);
    const small = Float32Array.from(values.subarray(0, 10));
    releasePages(small); // anonymous memory, less than a page: nothing released, nothing changed
    expect(Array.from(small)).toEqual(Array.from(values.subarray(0, 10)));
    expect(native().rf_release_pages(view as never, -1)).not.toBe(0);
    expect(String(native().rf_last_error())).toContain("rf_release_pages: negative size");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
