// A device: a place where work runs with its own queue, threads and memory
// budget — a CPU core group (its own pinned pool) or a GPU. Work is submitted
// as command lists (runtime/ffi/commands.ts) and runs asynchronously; wait()
// blocks until it is done and throws a DeviceError naming the device.
import type { Pointer } from "bun:ffi";
import { KernelError, RankfnError } from "../errors";
import { type CommandList, CommandList as List } from "../ffi/commands";
import { type QueueStats, queueStats } from "../ffi/core-group";
import { NativeResource, check, native } from "../ffi/native";

export type DeviceKind = "cpu" | "cuda" | "opencl";

/** A device failed (or was made to fail) a batch; the next batch may run. */
export class DeviceError extends RankfnError {
  override readonly name = "DeviceError";
  constructor(
    message: string,
    readonly device: string,
  ) {
    super(message, "device_failed", 503);
  }
}

export interface DeviceDescription {
  id: string;
  kind: DeviceKind;
  /** The backend's device index (rf_malloc, rf_weight_pack). */
  backendDevice: number;
  /** Memory budget, bytes (a CPU core group gets its share of host memory). */
  memoryBytes: number;
  threads: number;
  /** CPU core group: the cores its threads are pinned to. */
  cpus: readonly number[];
  pinned: boolean;
}

export class Device extends NativeResource {
  protected readonly kind = "Device";
  readonly #handle: Pointer;
  readonly #counters = new BigInt64Array(2);
  readonly #ints = new Int32Array(2);
  readonly #fault = new List(1);
  #failNext = 0;
  #pending = false;

  /** Wrap a native stream (rf_stream_create_pool / rf_stream_create) that this device now owns. */
  constructor(
    handle: Pointer,
    readonly id: string,
    readonly deviceKind: DeviceKind,
    readonly backendDevice: number,
    readonly memoryBytes: number,
    readonly cpus: readonly number[] = [],
  ) {
    super();
    this.#handle = handle;
  }

  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  /** Queue a command list; returns at once on devices with their own threads. */
  submit(list: CommandList): void {
    if (this.#failNext > 0) {
      this.#fault.reset();
      this.#fault.fail(this.#failNext);
      this.#failNext = 0;
      check(native().rf_stream_enqueue(this.handle, this.#fault.bytes, 1), "rf_stream_enqueue");
    }
    if (list.length === 0) return;
    this.#pending = true;
    check(native().rf_stream_enqueue(this.handle, list.bytes, list.length), "rf_stream_enqueue");
  }

  /** Wait for the submitted work; a failure throws DeviceError and leaves the device usable. */
  wait(): void {
    this.#pending = false;
    try {
      check(native().rf_stream_sync(this.handle), "rf_stream_sync");
    } catch (err) {
      if (err instanceof KernelError) throw new DeviceError(`device ${this.id} failed the batch: ${err.message}`, this.id);
      throw err;
    }
  }

  /** Make the next submitted batch fail on this device with rf_status `status` (fault injection). */
  failNextBatch(status = 5): void {
    this.#failNext = status;
  }

  /** Time the device's threads spent computing since it was opened, and its pool. */
  stats(): QueueStats {
    return queueStats(this.handle, this.#counters, this.#ints);
  }

  describe(): DeviceDescription {
    const s = this.stats();
    return { id: this.id, kind: this.deviceKind, backendDevice: this.backendDevice, memoryBytes: this.memoryBytes, threads: s.threads, cpus: this.cpus, pinned: s.pinned };
  }

  protected release(): void {
    if (this.#pending) native().rf_stream_sync(this.#handle);
    native().rf_stream_destroy(this.#handle);
  }
}
