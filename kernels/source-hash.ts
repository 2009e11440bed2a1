// Hash of every input of the native build (sources, headers, build script), so
// the build can skip unchanged work and the runtime can refuse a stale library.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export const kernelsDir = import.meta.dir;

const hashedExtensions = [".h", ".c", ".cpp", ".cu", ".cl", ".ts"];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "build" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (hashedExtensions.some((ext) => name.endsWith(ext))) out.push(path);
  }
  return out;
}

/** sha256 (hex, first 16 chars) of every kernel source and the build script. */
export function kernelSourceHash(): string {
  const hash = createHash("sha256");
  for (const file of listFiles(kernelsDir)) {
    if (file.includes(`${kernelsDir}/tests/`)) continue; // test drivers do not change the library
    hash.update(relative(kernelsDir, file));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}
