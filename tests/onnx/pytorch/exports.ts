// Test fixture: describe() over the PyTorch exports (manifest.ts). Where no
// python with torch exists the suites skip with a message — except under
// CI=true, where that is a failure.
import { describe, test } from "bun:test";
import { isCI } from "../../../runtime/ffi";
import { type PytorchManifest, findTorchPython, pytorchExports } from "./manifest";

export * from "./manifest";

/** describe() over the PyTorch exports when torch is installed; otherwise a skip with a message (a failure under CI). */
export function describePytorch(name: string, body: (manifest: PytorchManifest) => void): void {
  const found = findTorchPython();
  if ("python" in found) {
    const manifest = pytorchExports(found.python);
    return describe(name, () => body(manifest));
  }
  if (isCI()) {
    test(`${name}: python3 with torch and onnx is installed`, () => {
      throw new Error(`${found.missing}; CI=true requires the PyTorch oracle suites to run (.ci/run installs them)`);
    });
    return;
  }
  console.warn(`[rankfn tests] skipping "${name}": ${found.missing}`);
  describe.skip(name, () => {});
}
