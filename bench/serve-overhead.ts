// Server overhead for `bench serve`: parse + validate + coalesce + respond on
// a trivial model (4 features -> 1 score), so what is measured is the server,
// not the math. Handler-only (app.fetch, no socket) and over loopback HTTP
// (client in the same process), per coalescing policy, inline and on a worker.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder } from "../runtime/graph/builder";
import { writeModel } from "../runtime/model/model-file";
import { createApp } from "../runtime/server/app";
import { MSGPACK, encodeTensor, packr } from "../runtime/server/wire";
import type { CoalescingPolicy } from "../runtime/serving/coalescing-policy";
import { tensor } from "../runtime/tensor/tensor";
import type { Report } from "./report";
import { progress } from "./timing";

async function p50(calls: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(500, calls); i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]! * 1000;
}

export async function serverOverhead(report: Report, quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rankfn-overhead-"));
  try {
    const b = new GraphBuilder("tiny", 1);
    b.output("score", b.linear(b.input("x", "f32", 4, "candidate"), 1, "sigmoid", "l"));
    writeModel(join(dir, "tiny.safetensors"), b.build());
    const body = packr.pack({ rows: { x: encodeTensor(tensor("f32", [1, 4], new Float32Array([0.1, 0.2, 0.3, 0.4]))) } });
    // Content-Length as every HTTP client sends it (a Request built in code has none, and would take the streamed-body path).
    const init = { method: "POST", headers: { "Content-Type": MSGPACK, Accept: MSGPACK, "Content-Length": String(body.byteLength) }, body };
    const section = report.section("server overhead per request, trivial 4 -> 1 model, p50 µs (target ≤ 100)");
    section.note("handler = app.fetch without a socket; loopback = Bun.serve + fetch from this process (client cost included); static waits its 200 µs queue delay by design");
    const calls = quick ? 1000 : 4000;
    for (const worker of [false, true]) {
      for (const policy of ["off", "static", "adaptive"] as CoalescingPolicy[]) {
        progress(`server overhead: ${policy}, ${worker ? "worker" : "inline"}`);
        const { app, ready, close } = createApp({ models: { tiny: "tiny.safetensors" }, modelRoot: dir, coalescing: { policy, maxQueueDelayUs: 200, sloP99Ms: 20 }, modelOptions: { worker } });
        await ready;
        const ok = async (res: Response) => {
          if (!res.ok) throw new Error(`server overhead: HTTP ${res.status}: ${await res.text()}`);
          return res.arrayBuffer();
        };
        const handler = await p50(calls, async () => ok(await app.fetch(new Request("http://rankfn/v1/models/tiny/rank", init))));
        const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
        const url = `http://127.0.0.1:${server.port}/v1/models/tiny/rank`;
        const loopback = await p50(calls, async () => ok(await fetch(url, init)));
        server.stop(true);
        await close();
        section.add({ coalescing: policy, compute: worker ? "worker" : "inline", "handler p50 µs": handler, "loopback p50 µs": loopback });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
