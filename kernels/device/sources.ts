// The shared device code, as each device backend's build reads it: the kernel
// dialect header, then every kernel file (common.cl first, the rest by name),
// and the host-side launchers compiled into each device library.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelsDir } from "../source-hash";
import type { Unit } from "../toolchain";

export const deviceDir = join(kernelsDir, "device");
export const dialectHeader = join(deviceDir, "dialect.h");
export const hostDir = join(deviceDir, "host");

/** The kernel files of kernels/device/, in program order (common.cl first). */
export function kernelFiles(): string[] {
  const names = readdirSync(deviceDir).filter((n) => n.endsWith(".cl"));
  names.sort((a, b) => (a === "common.cl" ? -1 : b === "common.cl" ? 1 : a.localeCompare(b)));
  return names.map((n) => join(deviceDir, n));
}

/** The dialect header and the kernel files as one program text (OpenCL compiles it at run time). */
export function programText(): string[] {
  return [dialectHeader, ...kernelFiles()].map((f) => `// ---- ${f.slice(deviceDir.length + 1)}\n${readFileSync(f, "utf8")}`);
}

/** CPU entry points a device library reuses for their argument checks (their dispatch goes to its namespace). */
const reusedCpuEntries = ["errors", "convert", "embedding_bag", "dot_interaction", "norms", "recurrent", "topk", "target_attention", "gather_scatter", "elementwise", "emb_cache", "emb_cache_sets",
  "tensor_elementwise", "tensor_copy", "tensor_reduce", "matmul_batched", "tensor_gather", "tensor_scan",
  "sequence_attention", "sequence_rows", "grouped_gemm"];
// The user-history KV store lives host-side in a device library, as the hot-row cache does.
const kvStoreEntries = ["kv_store", "kv_store_alloc", "kv_store_shards", "kv_store_pages"];

/** The reused CPU entry points as units of a device library built with `flags` (its -DRF_DISPATCH_NS included). */
export function reusedCpuUnits(objDir: string, flags: string[]): Unit[] {
  return [...reusedCpuEntries, ...kvStoreEntries].map((name) => ({
    source: join(kernelsDir, "cpu", `${name}.cpp`),
    object: join(objDir, `cpu_${name}.o`),
    flags: [...flags, "-include", join(hostDir, "ops.h")],
  }));
}

/** The host-side launchers shared by the device backends (kernels/device/host/*.cpp). */
export function hostSources(): string[] {
  return readdirSync(hostDir).filter((n) => n.endsWith(".cpp")).sort().map((n) => join(hostDir, n));
}
