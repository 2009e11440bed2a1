// The only dlopen in rankfn: finds the kernel library of the backend asked for
// (RANKFN_BACKEND, or RANKFN_DEVICES=opencl:2), checks it is the build of the
// current sources, and exposes its symbols (optionally traced with
// RANKFN_TRACE_FFI=1). A device backend that cannot run here (library not
// built, no ICD, no device) falls back to the cpu backend with one log line.
// Everything else goes through runtime/ffi/index.ts.
import { CString, dlopen } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { kernelSourceHash, kernelsDir } from "../../kernels/source-hash";
import { LibraryError } from "../errors";
import { type SymbolName, symbols } from "./symbols";

export type NativeSymbols = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

export interface LoadedLibrary {
  path: string;
  symbols: NativeSymbols;
  abiVersion: number;
  backend: string;
  sourceHash: string;
  /** Why the backend asked for was not loaded (the cpu backend was, instead). */
  fallbackReason?: string;
}

/** ABI version this binding was written against (RF_ABI_VERSION). */
export const ABI_VERSION = 1;

let loaded: LoadedLibrary | undefined;

/** The backend and sub-device count asked for: RANKFN_BACKEND, else RANKFN_DEVICES (`cpu`, `opencl`, `opencl:2`). */
export function requestedDevices(): { backend: string; partitions: number } {
  const spec = process.env.RANKFN_DEVICES;
  const m = spec ? /^([a-z]+)(?::(\d+))?$/.exec(spec) : null;
  if (spec && !m) throw new LibraryError(`RANKFN_DEVICES must look like "opencl:2" or "cpu", got "${spec}"`);
  const partitions = m?.[2] ? Number(m[2]) : 1;
  if (partitions < 1) throw new LibraryError(`RANKFN_DEVICES: the device count must be >= 1, got "${spec}"`);
  return { backend: process.env.RANKFN_BACKEND || m?.[1] || "cpu", partitions };
}

/** Path of the library for a backend: RANKFN_LIBRARY, else kernels/build/librankfn_<backend>.so. */
export function libraryPath(backend = requestedDevices().backend): string {
  return process.env.RANKFN_LIBRARY ?? join(kernelsDir, "build", `librankfn_${backend}.so`);
}

function traced(raw: NativeSymbols): NativeSymbols {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(raw) as [string, (...a: unknown[]) => unknown][]) {
    out[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      const result = f(...args);
      const us = ((performance.now() - t0) * 1000).toFixed(1);
      const shown = args.map((a) => (ArrayBuffer.isView(a) ? `${a.constructor.name}(${(a as Uint8Array).length})` : String(a)));
      console.error(`[rankfn ffi] ${name}(${shown.join(", ")}) -> ${String(result)} ${us}us`);
      return result;
    };
  }
  return out as NativeSymbols;
}

function readLibraryInfo(sym: NativeSymbols): { abiVersion: number; backend: string; sourceHash: string } {
  const abi = new Int32Array(1);
  const backendPtr = new BigUint64Array(1);
  const hashPtr = new BigUint64Array(1);
  const status = sym.rf_library_info(abi, backendPtr, hashPtr);
  if (status !== 0) throw new LibraryError(`rf_library_info failed: ${String(sym.rf_last_error())}`);
  const str = (p: BigUint64Array) => new CString(Number(p[0]) as never).toString();
  return { abiVersion: abi[0]!, backend: str(backendPtr), sourceHash: str(hashPtr) };
}

/**
 * Load the kernel library once (lazily). Throws LibraryError with the fix
 * ("run bun install") when it is missing, and when it is stale under CI=true;
 * outside CI a stale build only warns, once. A non-cpu backend that cannot
 * run here falls back to the cpu backend with one warning line.
 */
export function loadLibrary(): LoadedLibrary {
  if (loaded) return loaded;
  const { backend, partitions } = requestedDevices();
  if (backend === "cpu" || process.env.RANKFN_LIBRARY) {
    loaded = open(libraryPath(backend), partitions, false);
    return loaded;
  }
  try {
    loaded = open(libraryPath(backend), partitions, true);
  } catch (err) {
    const reason = (err as Error).message;
    if (reason.startsWith("stale kernel library")) throw err; // a build problem, not a missing device
    console.warn(`rankfn: the ${backend} backend is unavailable (${reason.replace(/\s*\n\s*/g, " | ")}): using the cpu backend`);
    loaded = { ...open(libraryPath("cpu"), 1, false), fallbackReason: reason };
  }
  return loaded;
}

function open(path: string, partitions: number, needDevice: boolean): LoadedLibrary {
  if (!existsSync(path)) {
    throw new LibraryError(`rankfn kernel library not found at ${path}: run \`bun install\` (or \`bun run build:kernels\`) to build it`);
  }
  let lib: ReturnType<typeof dlopen<typeof symbols>>;
  try {
    lib = dlopen(path, symbols);
  } catch (err) {
    throw new LibraryError(`cannot load ${path}: ${(err as Error).message}; rebuild with \`bun run build:kernels\``);
  }
  const info = readLibraryInfo(lib.symbols);
  if (info.abiVersion !== ABI_VERSION) {
    throw new LibraryError(`${path} has ABI version ${info.abiVersion}, this runtime needs ${ABI_VERSION}: rebuild with \`bun run build:kernels\``);
  }
  if (!process.env.RANKFN_LIBRARY) {
    const problem = staleness(path, info.sourceHash, kernelSourceHash());
    if (problem && isCI()) throw new LibraryError(problem);
    if (problem) console.warn(`rankfn: warning: ${problem}`);
  }
  const raw = lib.symbols;
  if (partitions > 1 && raw.rf_set_device_partitions(partitions) !== 0) throw new LibraryError(String(raw.rf_last_error()));
  if (needDevice) {
    const count = new Int32Array(1);
    if (raw.rf_device_count(count) !== 0) throw new LibraryError(String(raw.rf_last_error()));
    if (count[0] === 0) {
      // The backend's own words for why (e.g. CUDA without a driver), from the first device's info.
      const why = raw.rf_device_info(0, new Uint8Array(88)) !== 0 ? ` (${String(raw.rf_last_error())})` : "";
      throw new LibraryError(`${info.backend}: no device${why}`);
    }
  }
  const sym = process.env.RANKFN_TRACE_FFI === "1" ? traced(raw) : raw;
  return { path, symbols: sym, ...info };
}

/** Under CI a stale or missing library is a failure, never a warning or a skip. */
export function isCI(): boolean {
  return process.env.CI === "true" || process.env.CI === "1";
}

/** Why the library at `path` is stale, or null when it was built from the current sources. */
export function staleness(path: string, built: string, expected: string): string | null {
  if (built === expected) return null;
  return `stale kernel library: ${path} was built from sources ${built}, the checkout has ${expected}: run \`bun run build:kernels\``;
}

/** Names of the exported functions this binding declares. */
export function declaredSymbols(): SymbolName[] {
  return Object.keys(symbols) as SymbolName[];
}
