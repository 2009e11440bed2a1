#!/usr/bin/env bun
// Builds the kernel library: kernels/build/librankfn_cpu.so (always),
// librankfn_opencl.so where the OpenCL ICD loader and headers exist (required
// under CI=true) and librankfn_cuda.so where nvcc exists (under CI=true its
// failure there fails the build). Run by `bun install` (postinstall); rebuilds
// only when a source changed (kernels/source-hash.ts).
//
//   bun kernels/build.ts              build what is stale
//   bun kernels/build.ts --force      rebuild everything
//   bun kernels/build.ts --sanitize   build kernels/build/sanitize_test (ASan+UBSan driver)
//   bun kernels/build.ts --hip-check  compile the device kernels with hipcc (AMD; compile-only)
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { buildCuda, hipCheck } from "./cuda/build";
import { buildOpencl } from "./opencl/build";
import { type Unit, commonFlags, compileAll, cxx, run } from "./toolchain";
import { kernelSourceHash, kernelsDir } from "./source-hash";

const buildDir = join(kernelsDir, "build");
const cpuDir = join(kernelsDir, "cpu");

const isaFlags = {
  base: [],
  avx2: ["-mavx2", "-mfma", "-mf16c"],
  avx512: [
    "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
    "-mavx512bf16", "-mavx512vnni", "-mprefer-vector-width=512",
  ],
} as const;
type Isa = keyof typeof isaFlags;


/** Every compilation unit of the CPU backend, following the naming rules in kernels/cpu/backend.h. */
export function cpuUnits(objDir: string, optFlags: string[]): Unit[] {
  const units: Unit[] = [];
  const add = (source: string, isa: Isa, extra: string[] = [], tag = "") =>
    units.push({
      source,
      object: join(objDir, basename(source, ".cpp") + tag + ".o"),
      flags: [...commonFlags, ...optFlags, ...isaFlags[isa], ...extra],
    });
  for (const name of readdirSync(cpuDir).sort()) {
    if (!name.endsWith(".cpp")) continue;
    const source = join(cpuDir, name);
    if (name.endsWith("_avx512.cpp")) add(source, "avx512");
    else if (name.endsWith("_avx2.cpp")) add(source, "avx2");
    else if (name.endsWith("_ref.cpp")) add(source, "base", ["-ffp-contract=off"]);
    else add(source, "base");
  }
  const multiDir = join(cpuDir, "multi");
  if (existsSync(multiDir)) {
    for (const name of readdirSync(multiDir).sort()) {
      if (!name.endsWith(".cpp")) continue;
      const source = join(multiDir, name);
      add(source, "base", ["-DRF_ISA_NS=portable"], "_multi_portable");
      add(source, "avx2", ["-DRF_ISA_NS=avx2"], "_multi_avx2");
      add(source, "avx512", ["-DRF_ISA_NS=avx512"], "_multi_avx512");
    }
  }
  return units;
}

async function buildCpu(force: boolean): Promise<void> {
  const hash = kernelSourceHash();
  const lib = join(buildDir, "librankfn_cpu.so");
  const stamp = join(buildDir, "librankfn_cpu.stamp");
  if (!force && existsSync(lib) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
    console.log(`rankfn kernels: librankfn_cpu.so is up to date (${hash})`);
    return;
  }
  const objDir = join(buildDir, "obj");
  mkdirSync(objDir, { recursive: true });
  const units = cpuUnits(objDir, ["-O3", `-DRF_SOURCE_HASH="${hash}"`]);
  console.log(`rankfn kernels: building librankfn_cpu.so (${units.length} units, ${cxx}, sources ${hash})`);
  const started = performance.now();
  await compileAll(units, availableParallelism());
  const tmp = `${lib}.tmp`;
  await run([cxx, "-shared", "-pthread", "-o", tmp, ...units.map((u) => u.object)], "link librankfn_cpu.so");
  renameSync(tmp, lib); // atomic: a reader never sees a half-written library
  writeFileSync(stamp, hash + "\n");
  console.log(`rankfn kernels: built ${lib} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** ASan+UBSan build of the CPU backend linked with the C test driver in kernels/tests/. */
async function buildSanitizer(): Promise<string> {
  const objDir = join(buildDir, "obj-sanitize");
  mkdirSync(objDir, { recursive: true });
  const san = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"];
  const units = cpuUnits(objDir, san);
  const testsDir = join(kernelsDir, "tests");
  for (const name of readdirSync(testsDir).sort()) {
    if (!name.startsWith("sanitize_") || !name.endsWith(".cpp")) continue;
    units.push({ source: join(testsDir, name), object: join(objDir, basename(name, ".cpp") + ".o"), flags: [...commonFlags, ...san] });
  }
  console.log(`rankfn kernels: building sanitizer driver (${units.length} units)`);
  await compileAll(units, availableParallelism());
  const exe = join(buildDir, "sanitize_test");
  await run([cxx, ...san, "-pthread", "-o", exe, ...units.map((u) => u.object)], "link sanitize_test");
  return exe;
}

/** The CUDA backend where nvcc exists: a failure fails the build under CI=true, elsewhere it is a notice. */
async function buildCudaWhereNvcc(force: boolean): Promise<void> {
  try {
    await buildCuda(force);
  } catch (err) {
    const ci = process.env.CI === "true" || process.env.CI === "1";
    if (ci) throw new Error(`cannot build the CUDA backend (nvcc is on PATH): ${(err as Error).message}`);
    console.log(`rankfn kernels: skipping librankfn_cuda.so: ${(err as Error).message}`);
  }
}

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  try {
    if (args.has("--sanitize")) {
      console.log(await buildSanitizer());
    } else if (args.has("--hip-check")) {
      await hipCheck();
    } else {
      await buildCpu(args.has("--force"));
      await buildOpencl(args.has("--force"));
      await buildCudaWhereNvcc(args.has("--force"));
    }
  } catch (err) {
    console.error(`rankfn kernels: ${(err as Error).message}`);
    process.exit(1);
  }
}
