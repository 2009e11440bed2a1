// Builds the CPU backend and its C driver with AddressSanitizer and UBSan and
// runs the reduced case set (every op, every ISA, bad arguments) under them.
import { expect, test } from "bun:test";
import { join } from "node:path";

const repo = join(import.meta.dir, "..", "..");

test("the CPU backend is clean under ASan + UBSan", () => {
  const build = Bun.spawnSync(["bun", "kernels/build.ts", "--sanitize"], { cwd: repo });
  if (build.exitCode !== 0) throw new Error(`sanitizer build failed:\n${build.stdout}${build.stderr}`);
  const run = Bun.spawnSync([join(repo, "kernels", "build", "sanitize_test")], {
    cwd: repo,
    env: { ...process.env, ASAN_OPTIONS: "abort_on_error=1:detect_leaks=1", UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1" },
  });
  const out = `${run.stdout}${run.stderr}`;
  if (run.exitCode !== 0) throw new Error(`sanitizer run failed (exit ${run.exitCode}):\n${out}`);
  const summary = out.match(/^(\d+) passed, (\d+) failed$/m);
  expect(summary).not.toBeNull();
  expect(Number(summary![2])).toBe(0);
  expect(Number(summary![1])).toBeGreaterThanOrEqual(1);
  expect(out).not.toContain("runtime error");
}, 1_500_000); // the ASan build compiles every unit (multi/ ones three times) from scratch: minutes on a busy machine
