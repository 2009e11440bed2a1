// A stream that owns a pinned thread pool (rf_stream_create_pool): the native
// half of a CPU core-group device. Commands queued on it run on its own
// threads while the caller goes on; sync() waits and throws the first failure.
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";
import type { CommandList } from "./commands";
import { NativeResource, check, native } from "./native";

export interface QueueStats {
  /** Time its threads spent running commands since creation. */
  busyMs: number;
  commands: number;
  threads: number;
  /** Every thread of its pool is pinned to its cpus. */
  pinned: boolean;
}

/** rf_stream_stats of `handle`, read through the caller's (reused) out arrays. */
export function queueStats(handle: Pointer, i64: BigInt64Array, i32: Int32Array): QueueStats {
  check(native().rf_stream_stats(handle, i64.subarray(0, 1), i64.subarray(1, 2), i32.subarray(0, 1), i32.subarray(1, 2)), "rf_stream_stats");
  return { busyMs: Number(i64[0]) / 1e6, commands: Number(i64[1]), threads: i32[0]!, pinned: i32[1] === 1 };
}

export class CoreGroupStream extends NativeResource {
  protected readonly kind = "CoreGroupStream";
  readonly #handle: Pointer;
  readonly #i64 = new BigInt64Array(2);
  readonly #i32 = new Int32Array(2);

  /** `threads` threads (1..256) pinned to `cpus` where the OS allows (empty: unpinned). */
  constructor(readonly threads: number, readonly cpus: readonly number[] = []) {
    super();
    if (!Number.isInteger(threads) || threads < 1) throw new TensorError(`CoreGroupStream: threads must be an integer >= 1, got ${threads}`);
    const out = new BigUint64Array(1);
    check(native().rf_stream_create_pool(0, threads, Int32Array.from(cpus), cpus.length, out), "rf_stream_create_pool");
    this.#handle = Number(out[0]) as Pointer;
  }

  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  /** Queue the list's commands; returns at once (buffers they name must stay alive until sync()). */
  enqueue(list: CommandList): void {
    if (list.length === 0) return;
    check(native().rf_stream_enqueue(this.handle, list.bytes, list.length), "rf_stream_enqueue");
  }

  /** Wait for everything queued; throws KernelError with the first failed command's message. */
  sync(): void {
    check(native().rf_stream_sync(this.handle), "rf_stream_sync");
  }

  stats(): QueueStats {
    return queueStats(this.handle, this.#i64, this.#i32);
  }

  protected release(): void {
    native().rf_stream_destroy(this.#handle);
  }
}
