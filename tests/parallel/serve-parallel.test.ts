// `rankfn serve --parallel-devices cpu:2x1 --parallel dense=tensor` over real HTTP:
// the served model (on its worker, devices opened there from the spec) scores as
// the local single-device model within 1e-5; a bad strategy stops the command
// with the model's message naming the field, before any model loads.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, writeModel, zoo } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { zooRequest } from "./sharding-fixtures";

const cli = join(import.meta.dir, "..", "..", "sdk", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "rankfn-serve-parallel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

test.each(["dense=tensor", "dense=replicate,embeddings=row"])("rankfn serve --parallel %s scores as one device", async (parallel) => {
  const built = zoo.dcnv2.build({ scale: 0.001, seed: 3 });
  const path = join(dir, `dcnv2-${parallel.length}.safetensors`);
  writeModel(path, built);
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `ctr=${path}`, "--port", String(port), "--parallel-devices", "cpu:2x1", "--parallel", parallel], { stdout: "pipe", stderr: "pipe" });
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
      const ready = await fetch(`${url}/readyz`).catch(() => undefined);
      if (ready?.status === 200) break;
      await Bun.sleep(30);
    }
    using local = loadModel(built);
    const req = zooRequest("dcnv2", built, 9, 4, { scale: 0.001, seed: 3 });
    const want = local.rankSync(req).outputs.ctr!.data;
    const got = (await new RankingClient({ url }).rank("ctr", req)).outputs.ctr!.data;
    expect(got.length).toBe(want.length);
    expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!)))).toBeLessThan(1e-5);
  } finally {
    proc.kill("SIGTERM");
  }
  expect(await proc.exited).toBe(0);
}, 60_000);

test.each([
  [["--parallel", "dense=diagonal", "--parallel-devices", "cpu:2"], 'parallel.dense: unknown strategy "diagonal"'],
  [["--parallel", "dense"], "--parallel needs --parallel-devices"],
  [["--parallel", "dense", "--parallel-devices", "cpu:2"], '--parallel takes part=strategy[,part=strategy], got "dense"'],
  [["--parallel-devices", "cpu:2"], "--parallel-devices needs --parallel"],
] as const)("rankfn serve %p exits 1 with %p", (flags, message) => {
  const p = Bun.spawnSync([process.execPath, cli, "serve", "--model", `ctr=${join(dir, "never-loaded.safetensors")}`, "--port", "0", ...flags]);
  expect(p.exitCode).toBe(1);
  expect(p.stderr.toString()).toContain(message);
});
