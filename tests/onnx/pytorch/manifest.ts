// The PyTorch exports of tests/onnx/pytorch/models.py (used by the oracle
// tests and by `bench onnx`), of dynamic.py and of layers.py. Finds a
// python3 that has torch and onnx (the Debian python3-torch installs for
// /usr/bin/python3, which is often not the first python3 on PATH), runs the
// script once into a folder under the OS temp dir keyed by the scripts' and
// the python's hash (so later runs reuse it), and returns the manifest with
// the inputs and PyTorch's outputs decoded.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const scriptDir = import.meta.dir;
const scripts = ["models.py", "architectures.py", "sequences.py"].map((f) => join(scriptDir, f));

export type ExportedTensor =
  | { name: string; dtype: "f32"; shape: number[]; data: Float32Array }
  | { name: string; dtype: "i64"; shape: number[]; data: BigInt64Array };

/** One model exported at one opset, with its fixed batch and what PyTorch computed for it. */
export interface PytorchExport {
  name: string;
  opset: number;
  /** Absolute path of the .onnx file. */
  path: string;
  /** Inputs named in metadata_props["rankfn.context"] (the same row repeated over the batch). */
  context: string[];
  /** Regexes rankfn's inspect().compiler must match once the model imports. */
  fusions: string[];
  inputs: ExportedTensor[];
  outputs: ExportedTensor[];
}

export interface PytorchManifest {
  torch: string;
  onnx: string;
  batch: number;
  models: PytorchExport[];
}

type RawTensor = { name: string; dtype: "f32" | "i64"; shape: number[]; data: string };
type RawExport = Omit<PytorchExport, "inputs" | "outputs"> & { inputs: RawTensor[]; outputs: RawTensor[] };

const PYTHONS = ["/usr/bin/python3", "python3", "python"];

/** The first candidate python that imports torch and onnx, or why none does. */
export function findTorchPython(): { python: string } | { missing: string } {
  const tried: string[] = [];
  for (const candidate of PYTHONS) {
    const exe = candidate.startsWith("/") ? (existsSync(candidate) ? candidate : null) : Bun.which(candidate);
    if (!exe) {
      tried.push(`${candidate}: not found`);
      continue;
    }
    const probe = Bun.spawnSync([exe, "-c", "import torch, onnx"], { stdout: "ignore", stderr: "pipe" });
    if (probe.exitCode === 0) return { python: exe };
    const last = probe.stderr.toString().trim().split("\n").at(-1) ?? `exit ${probe.exitCode}`;
    tried.push(`${exe}: ${last}`);
  }
  return { missing: `no python with torch and onnx (${tried.join("; ")}); apt-get install python3-torch python3-onnx` };
}

function decode(t: RawTensor): ExportedTensor {
  const bytes = Buffer.from(t.data, "base64");
  // Copy into a fresh, aligned buffer: a Buffer slice may start at any offset.
  const buf = new Uint8Array(bytes.byteLength);
  buf.set(bytes);
  if (t.dtype === "f32") return { name: t.name, dtype: "f32", shape: t.shape, data: new Float32Array(buf.buffer) };
  return { name: t.name, dtype: "i64", shape: t.shape, data: new BigInt64Array(buf.buffer) };
}

let cached: PytorchManifest | undefined;

/**
 * Run an export script of this folder into a temp folder named by the hash of the python and
 * the scripts (so it runs once per version), and return that folder; throws if the script fails.
 */
export function exportFolder(python: string, script: string, deps: string[] = scripts): string {
  const hash = createHash("sha256").update(python);
  for (const s of [...deps, join(scriptDir, script)]) hash.update(readFileSync(s));
  const dir = join(tmpdir(), `rankfn-pytorch-${script.replace(/\.py$/, "")}-${hash.digest("hex").slice(0, 16)}`);
  if (!existsSync(join(dir, "manifest.json"))) {
    const work = mkdtempSync(join(tmpdir(), "rankfn-pytorch-exporting-"));
    const run = Bun.spawnSync([python, "-W", "ignore", join(scriptDir, script), work], { stdout: "pipe", stderr: "pipe" });
    if (run.exitCode !== 0) {
      rmSync(work, { recursive: true, force: true });
      throw new Error(`${python} ${join(scriptDir, script)} failed (exit ${run.exitCode}):\n${run.stderr.toString().slice(-4000)}`);
    }
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another run got there first
    }
  }
  return dir;
}

/** Export every model (once per script version) and return the manifest; throws if the script fails. */
export function pytorchExports(python: string): PytorchManifest {
  if (cached) return cached;
  const dir = exportFolder(python, "models.py");
  const raw = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Omit<PytorchManifest, "models"> & { models: RawExport[] };
  cached = { ...raw, models: raw.models.map((m) => ({ ...m, path: join(dir, m.path), inputs: m.inputs.map(decode), outputs: m.outputs.map(decode) })) };
  return cached;
}

let cachedLayers: (PytorchManifest & { seconds: number }) | undefined;

/** Run layers.py (one tiny module per PyTorch layer and variant, opsets 13 to 17; once per version of it and its modules) and return its manifest. */
export function layerExports(python: string): PytorchManifest & { seconds: number } {
  if (cachedLayers) return cachedLayers;
  const dir = exportFolder(python, "layers.py", [...scripts, ...["layer_modules.py", "layer_variants.py"].map((f) => join(scriptDir, f))]);
  const raw = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Omit<PytorchManifest, "models"> & { seconds: number; models: RawExport[] };
  cachedLayers = { ...raw, models: raw.models.map((m) => ({ ...m, path: join(dir, m.path), inputs: m.inputs.map(decode), outputs: m.outputs.map(decode) })) };
  return cachedLayers;
}

/** A model exported with a dynamic history length, and ranking requests each with a history of its own length. */
export interface DynamicExport {
  name: string;
  opset: number;
  path: string;
  context: string[];
  history: string;
  /** "bucket": the model masks its padding (pad to any size); "max": it must see histories padded to the full length. */
  padTo: "bucket" | "max";
  requests: { inputs: ExportedTensor[]; outputs: ExportedTensor[] }[];
}

/** Run dynamic.py (once per version) and return its exports. */
export function dynamicExports(python: string): { maxLen: number; models: DynamicExport[] } {
  const dir = exportFolder(python, "dynamic.py");
  type Raw = Omit<DynamicExport, "requests" | "padTo"> & { pad_to: "bucket" | "max"; requests: { inputs: RawTensor[]; outputs: RawTensor[] }[] };
  const raw = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { max_len: number; models: Raw[] };
  return {
    maxLen: raw.max_len,
    models: raw.models.map(({ pad_to, ...m }) => ({ ...m, padTo: pad_to, path: join(dir, m.path), requests: m.requests.map((r) => ({ inputs: r.inputs.map(decode), outputs: r.outputs.map(decode) })) })),
  };
}
