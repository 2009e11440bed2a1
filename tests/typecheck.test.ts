// The whole codebase type-checks under strict TypeScript (tsconfig.json).
import { expect, test } from "bun:test";
import { join } from "node:path";

test("tsc --noEmit reports no errors", () => {
  const repo = join(import.meta.dir, "..");
  const tsc = Bun.spawnSync([join(repo, "node_modules", ".bin", "tsc"), "--noEmit", "-p", repo], { cwd: repo });
  const out = `${tsc.stdout}${tsc.stderr}`;
  expect(out).toBe("");
  expect(tsc.exitCode).toBe(0);
});
