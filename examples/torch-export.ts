// For the PyTorch examples: run an export script with the first python3 that has
// torch and onnx (the Debian python3-torch / python3-onnx live at /usr/bin/python3,
// often not the first python3 on PATH). The script gets the .onnx path as argv[1]
// and prints one JSON line (its inputs and PyTorch's own scores).
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Export with `script` into a fresh `file` (e.g. "ranker.onnx"); returns its path and the script's JSON. Exits with a hint when torch is missing. */
export function runTorchExport<T>(script: string, file: string): { path: string; exported: T } {
  const python = ["/usr/bin/python3", "python3"].find((p) => (p.startsWith("/") ? existsSync(p) : Bun.which(p)) && Bun.spawnSync([p, "-c", "import torch, onnx"]).exitCode === 0);
  if (!python) {
    console.error("needs a python3 with torch and onnx: apt-get install python3-torch python3-onnx");
    process.exit(1);
  }
  const path = join(mkdtempSync(join(tmpdir(), "rankfn-torch-")), file);
  const run = Bun.spawnSync([python, "-W", "ignore", "-c", script, path]);
  if (run.exitCode !== 0) throw new Error(run.stderr.toString());
  return { path, exported: JSON.parse(run.stdout.toString()) as T };
}
