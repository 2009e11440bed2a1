// Status checking shared by every typed wrapper: a non-zero rf_status becomes a
// KernelError carrying rf_last_error().
import { KernelError } from "../errors";
import { type NativeSymbols, loadLibrary } from "./library";

/** The loaded library's symbols (loads it on first use). */
export function native(): NativeSymbols {
  return loadLibrary().symbols;
}

/** Throw KernelError unless `status` is RF_OK. */
export function check(status: number, op: string): void {
  if (status !== 0) {
    const message = String(native().rf_last_error()) || `${op} failed with status ${status}`;
    throw new KernelError(message, status, op);
  }
}

/** Guard shared by every class that owns native memory. */
export abstract class NativeResource {
  #disposed = false;
  protected abstract release(): void;
  protected abstract readonly kind: string;

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Throws if used after dispose(): a freed native pointer must never reach C. */
  protected alive(): void {
    if (this.#disposed) throw new KernelError(`${this.kind} used after dispose()`, 1, this.kind);
  }

  /** Free the native memory; calling it again does nothing. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
