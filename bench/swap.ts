// `bun run bench swap [--json] [--quick]`: hot swap under load, what users of
// TF Serving and Triton complain about (p99 spikes and doubled memory while a
// version reloads). A server in a child process serves a ~1 GB DLRM-v2-shaped
// model (--quick: ~100 MB) to an open-loop stream of ranking requests (1 user
// × 50 candidates) at half the rate it sustains; mid-run the model is replaced
// by a second file through PUT /v1/models/dlrm. Reports p50/p99 before, during
// and after the swap, failed requests, the swap's own time, and the server's
// peak RSS against its steady RSS (sampled from /proc every 20 ms).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeModel } from "../runtime/model/model-file";
import { Rng } from "../runtime/tensor/random";
import { MSGPACK, encodeTensor, packr } from "../runtime/server/wire";
import { tensor } from "../runtime/tensor/tensor";
import { zoo } from "../sdk/zoo";
import { dlrmOptions } from "../sdk/zoo/dlrm";
import { Report } from "./report";
import { progress } from "./timing";

interface Sample { at: number; ms: number; ok: boolean }

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const scale = quick ? 0.0009 : 0.0095;
  const phaseMs = quick ? 2000 : 5000;
  const dir = mkdtempSync(join(tmpdir(), "rankfn-swap-bench-"));
  const report = new Report("swap");
  let server: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const paths = [join(dir, "v1.safetensors"), join(dir, "v2.safetensors")];
    for (const [i, path] of paths.entries()) {
      progress(`building version ${i + 1} of the DLRM-v2-shaped model (scale ${scale})`);
      writeModel(path, zoo.dlrm.build({ scale, seed: 1 + i }));
    }
    const fileBytes = statSync(paths[0]!).size;
    report.fact("model file", `${(fileBytes / 2 ** 20).toFixed(0)} MiB`);
    progress("starting the server and warming version 1");
    server = Bun.spawn(["bun", join(import.meta.dir, "swap-server.ts"), paths[0]!, dir], { stdout: "pipe", stderr: "inherit" });
    const url = await readUrl(server.stdout as ReadableStream<Uint8Array>);
    const o = dlrmOptions({ scale, seed: 1 });
    const rng = new Rng(3);
    const pool = Array.from({ length: 64 }, () => rankingBody(rng, o));
    const post = async (body: Uint8Array): Promise<boolean> => {
      const res = await fetch(`${url}/v1/models/dlrm/rank`, { method: "POST", headers: { "Content-Type": MSGPACK, Accept: MSGPACK }, body });
      await res.arrayBuffer();
      return res.status === 200;
    };
    // One request at a time for a second: the rate the server sustains without queueing.
    let sequential = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) await post(pool[sequential++ % pool.length]!);
    const singleMs = (performance.now() - t0) / sequential;
    const rate = Math.max(5, Math.round(500 / singleMs));
    report.fact("single-request latency", `${singleMs.toFixed(2)} ms`);
    report.fact("offered load", `${rate} req/s (half the sequential rate)`);

    const rss = new RssSampler(server.pid);
    const samples: Sample[] = [];
    const pending: Promise<void>[] = [];
    const start = performance.now();
    let swapStart = Infinity;
    let swapEnd = Infinity;
    let swapError: string | undefined;
    const swap = async () => {
      swapStart = performance.now() - start;
      const res = await fetch(`${url}/v1/models/dlrm`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ path: paths[1] }) });
      if (res.status !== 200) swapError = `${res.status} ${await res.text()}`;
      swapEnd = performance.now() - start;
    };
    progress(`steady load ${(phaseMs / 1000).toFixed(0)} s, swap to version 2, then ${(phaseMs / 1000).toFixed(0)} s more`);
    let swapping: Promise<void> | undefined;
    for (let i = 0; ; i++) {
      const at = (i * 1000) / rate;
      if (at > 3 * phaseMs && swapEnd < Infinity && at > swapEnd + phaseMs) break;
      const wait = start + at - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      if (!swapping && at >= phaseMs) swapping = swap();
      const body = pool[i % pool.length]!;
      pending.push(post(body).then((ok) => void samples.push({ at, ms: performance.now() - start - at, ok }), () => void samples.push({ at, ms: performance.now() - start - at, ok: false })));
    }
    await Promise.all(pending);
    await swapping;
    rss.stop();

    const phases = [
      { name: "before", from: 0, to: swapStart },
      { name: "during", from: swapStart, to: swapEnd },
      { name: "after", from: swapEnd, to: Infinity },
    ];
    const table = report.section("latency around the swap (from each request's scheduled send time)");
    const p99: Record<string, number> = {};
    for (const p of phases) {
      const inPhase = samples.filter((s) => s.at >= p.from && s.at < p.to);
      const ms = inPhase.map((s) => s.ms).sort((a, b) => a - b);
      const q = (f: number) => ms[Math.min(ms.length - 1, Math.floor(f * ms.length))] ?? NaN;
      p99[p.name] = q(0.99);
      table.add({ phase: p.name, requests: inPhase.length, failed: inPhase.filter((s) => !s.ok).length, "p50 ms": q(0.5), "p99 ms": q(0.99), "max ms": ms.at(-1) ?? NaN });
    }
    const failed = samples.filter((s) => !s.ok).length;
    const steadyRss = rss.median(0, swapStart);
    const peakRss = rss.max();
    const summary = report.section("targets");
    summary.add({ figure: "swap time (PUT → new version serving)", measured: `${(swapEnd - swapStart).toFixed(0)} ms`, target: "—" });
    summary.add({ figure: "failed requests", measured: String(failed), target: "0" });
    summary.add({ figure: "p99 during / steady p99", measured: `${(p99.during! / p99.before!).toFixed(2)}×`, target: "≤ 1.5×" });
    summary.add({ figure: "peak RSS / steady RSS", measured: `${(peakRss / steadyRss).toFixed(2)}× (${mib(peakRss)} / ${mib(steadyRss)})`, target: "≤ 1.25×" });
    if (swapError) summary.note(`the swap failed: ${swapError}`);
    summary.note("steady = the 'before' phase; RSS is the server process's VmRSS (mapped weight pages count once they are touched).");
    report.print(json);
  } finally {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rankingBody(rng: Rng, o: ReturnType<typeof dlrmOptions>): Uint8Array {
  const ids = (rows: number, i: number) => tensor("i64", [rows, o.multiHot[i]!], BigInt64Array.from({ length: rows * o.multiHot[i]! }, () => BigInt(rng.int(o.tableRows[i]!))));
  const context: Record<string, unknown> = {};
  const candidates: Record<string, unknown> = { dense: encodeTensor(tensor("f32", [50, 13], rng.floats(50 * 13, 0, 1))) };
  o.multiHot.forEach((_, i) => (i < o.contextFeatures ? (context[`cat_${i}`] = encodeTensor(ids(1, i))) : (candidates[`cat_${i}`] = encodeTensor(ids(50, i)))));
  return packr.pack({ context, candidates });
}

/** The server process's resident set, sampled every 20 ms. */
class RssSampler {
  readonly #samples: { at: number; bytes: number }[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #start = performance.now();

  constructor(pid: number) {
    this.#timer = setInterval(() => {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
      this.#samples.push({ at: performance.now() - this.#start, bytes: kb * 1024 });
    }, 20);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  median(from: number, to: number): number {
    const b = this.#samples.filter((s) => s.at >= from && s.at < to).map((s) => s.bytes).sort((x, y) => x - y);
    return b[Math.floor(b.length / 2)] ?? NaN;
  }

  max(): number {
    return Math.max(...this.#samples.map((s) => s.bytes));
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function readUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the server exited before it was ready");
    text += new TextDecoder().decode(value);
    const m = /ready (http:\/\/\S+)/.exec(text);
    if (m) {
      reader.releaseLock();
      return m[1]!;
    }
  }
}
