// Test fixture: Prometheus' own linter on a /metrics exposition (`promtool check metrics`).

/** Is promtool on PATH? */
export const hasPromtool = Bun.spawnSync(["sh", "-c", "command -v promtool"]).exitCode === 0;

/** `promtool check metrics` on `text`: its exit code and what it printed (problems, one per line). */
export async function promtool(text: string): Promise<{ code: number; output: string }> {
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
  return { code, output: `${out}${err}`.trim() };
}
