// Devices, threads, ISA selection, device memory, streams and machine probes.
import { type Pointer, toArrayBuffer } from "bun:ffi";
import { TensorError } from "../errors";
import type { TypedArray } from "../tensor/dtype";
import { NativeResource, check, native } from "./native";

export type Isa = "ref" | "portable" | "avx2" | "avx512";
export const isaNames: readonly Isa[] = ["ref", "portable", "avx2", "avx512"];

export interface DeviceInfo {
  index: number;
  name: string;
  totalMemory: number;
  kind: "cpu" | "cuda" | "opencl";
  computeUnits: number;
  isa: Isa;
}

export function deviceCount(): number {
  const out = new Int32Array(1);
  check(native().rf_device_count(out), "rf_device_count");
  return out[0]!;
}

export function deviceInfo(index = 0): DeviceInfo {
  const buf = new Uint8Array(88);
  check(native().rf_device_info(index, buf), "rf_device_info");
  const view = new DataView(buf.buffer);
  const nameEnd = buf.indexOf(0);
  return {
    index,
    name: new TextDecoder().decode(buf.subarray(0, nameEnd < 0 ? 64 : Math.min(nameEnd, 64))),
    totalMemory: Number(view.getBigInt64(64, true)),
    kind: (["cpu", "cuda", "opencl"] as const)[view.getInt32(72, true)] ?? "cpu",
    computeUnits: view.getInt32(76, true),
    isa: isaNames[view.getInt32(80, true)] ?? "ref",
  };
}

/** Threads of the kernel library's pool (including the calling thread). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TensorError(`setNumThreads: n must be an integer >= 1, got ${n}`);
  check(native().rf_set_num_threads(n), "rf_set_num_threads");
}

export function numThreads(): number {
  const out = new Int32Array(1);
  check(native().rf_get_num_threads(out), "rf_get_num_threads");
  return out[0]!;
}

/** Force a CPU code path (tests run every path against the reference). */
export function setIsa(isa: Isa): void {
  const code = isaNames.indexOf(isa);
  if (code < 0) throw new TensorError(`setIsa: unknown isa ${JSON.stringify(isa)} (expected ${isaNames.join(", ")})`);
  check(native().rf_set_isa(code), "rf_set_isa");
}

export function isa(): { active: Isa; best: Isa } {
  const active = new Int32Array(1);
  const best = new Int32Array(1);
  check(native().rf_get_isa(active, best), "rf_get_isa");
  return { active: isaNames[active[0]!]!, best: isaNames[best[0]!]! };
}

/** Every code path this CPU can run, reference first. */
export function supportedIsas(): Isa[] {
  return isaNames.slice(0, isaNames.indexOf(isa().best) + 1);
}

/** Device memory from rf_malloc, freed by dispose(). On the CPU backend `view()` maps it. */
export class DeviceBuffer extends NativeResource {
  protected readonly kind = "DeviceBuffer";
  readonly #ptr: Pointer;

  constructor(
    readonly device: number,
    readonly bytes: number,
  ) {
    super();
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new TensorError(`DeviceBuffer: bytes must be a non-negative integer, got ${bytes}`);
    const out = new BigUint64Array(1);
    check(native().rf_malloc(device, bytes, out), "rf_malloc");
    this.#ptr = Number(out[0]) as Pointer;
  }

  get ptr(): Pointer {
    this.alive();
    return this.#ptr;
  }

  /** Host view of the memory (CPU devices only; valid until dispose()). */
  view(): ArrayBuffer {
    if (this.bytes === 0) return new ArrayBuffer(0);
    return toArrayBuffer(this.ptr, 0, this.bytes);
  }

  /** Copy host bytes into this buffer at `offset`. */
  upload(src: TypedArray, offset = 0, stream?: Stream): void {
    this.#checkRange(offset, src.byteLength, "upload");
    check(native().rf_memcpy(((this.ptr as number) + offset) as Pointer, src, src.byteLength, 0, stream?.handle ?? null), "rf_memcpy");
  }

  /** Copy bytes from this buffer at `offset` into `dst`. */
  download(dst: TypedArray, offset = 0, stream?: Stream): void {
    this.#checkRange(offset, dst.byteLength, "download");
    check(native().rf_memcpy(dst, ((this.ptr as number) + offset) as Pointer, dst.byteLength, 1, stream?.handle ?? null), "rf_memcpy");
  }

  #checkRange(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.bytes) {
      throw new TensorError(`DeviceBuffer.${what}: bytes [${offset}, ${offset + length}) outside the buffer's ${this.bytes}`);
    }
  }

  protected release(): void {
    native().rf_free(this.#ptr);
  }
}

/** An ordered queue of work on one device (rf_stream). */
export class Stream extends NativeResource {
  protected readonly kind = "Stream";
  readonly #handle: Pointer;

  constructor(readonly device = 0) {
    super();
    const out = new BigUint64Array(1);
    check(native().rf_stream_create(device, out), "rf_stream_create");
    this.#handle = Number(out[0]) as Pointer;
  }

  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  sync(): void {
    check(native().rf_stream_sync(this.handle), "rf_stream_sync");
  }

  protected release(): void {
    native().rf_stream_destroy(this.#handle);
  }
}

/** Measured fp32/bf16/int8 multiply-add peak, GFLOP/s (2 ops per multiply-add). */
export function probePeakGflops(threads: number, dtype: "f32" | "bf16" | "i8" = "f32"): number {
  const out = new Float64Array(1);
  const code = { f32: 0, bf16: 2, i8: 3 }[dtype];
  check(native().rf_probe_peak_gflops(threads, code, out), "rf_probe_peak_gflops");
  return out[0]!;
}

/** Measured read bandwidth from memory, GB/s. */
export function probeMemBandwidth(threads: number): number {
  const out = new Float64Array(1);
  check(native().rf_probe_mem_bandwidth(threads, out), "rf_probe_mem_bandwidth");
  return out[0]!;
}

