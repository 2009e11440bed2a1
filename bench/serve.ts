// `bun run bench serve [--json] [--quick]`: an open-loop load generator (this
// process) against a server in a child process, sweeping offered load, for
// coalescing off / static (0.5 ms and 4 ms queue delay) / adaptive and for a
// Hono + onnxruntime-node per-request server on the same DLRM-v2-shaped model,
// then whether adaptive holds its SLO where the best static delay does not,
// and the server's own per-request overhead on a trivial model. Latency is measured from
// each request's scheduled send time (no coordinated omission). Writes
// .bench-out/serve.json and .bench-out/serve.svg (p99 latency vs rows/s).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeModel } from "../runtime/model/model-file";
import { Rng } from "../runtime/tensor/random";
import { MSGPACK, encodeTensor, packr } from "../runtime/server/wire";
import { tensor } from "../runtime/tensor/tensor";
import { zoo } from "../sdk/zoo";
import { dlrmOptions } from "../sdk/zoo/dlrm";
import { dlrmOnnx } from "./dlrm-onnx";
import { Report } from "./report";
import { serverOverhead } from "./serve-overhead";
import { progress } from "./timing";

type Mode = "off" | "static-0.5ms" | "static-4ms" | "adaptive" | "ort";
const MODES: Mode[] = ["off", "static-0.5ms", "static-4ms", "adaptive", "ort"];
const STATIC: Mode[] = ["static-0.5ms", "static-4ms"];
interface Mix { name: string; sloMs: number; rates: number[]; make(rng: Rng): { body: Uint8Array; rows: number } }
interface Step { mode: Mode; mix: string; offered: number; achieved: number; rowsPerS: number; p50: number; p99: number; p999: number; rejected: number; expired: number; errors: number }

const SCALE = 0.0005;

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const seconds = quick ? 1 : 4; // p99 over a few hundred requests per step at the low rates
  const dir = mkdtempSync(join(tmpdir(), "rankfn-serve-bench-"));
  const report = new Report("serve");
  try {
    progress("building the DLRM-v2-shaped model and its ONNX twin");
    const o = dlrmOptions({ scale: SCALE, seed: 1 });
    const built = zoo.dlrm.build({ scale: SCALE, seed: 1 });
    const modelPath = join(dir, "dlrm.safetensors");
    const onnxPath = join(dir, "dlrm.onnx");
    writeModel(modelPath, built);
    writeFileSync(onnxPath, dlrmOnnx(built, o));
    const ids = (rng: Rng, rows: number, i: number) => tensor("i64", [rows, o.multiHot[i]!], BigInt64Array.from({ length: rows * o.multiHot[i]! }, () => BigInt(rng.int(o.tableRows[i]!))));
    // Clients send their latency budget as the deadline (2× the SLO): the server sheds (503) what it predicts would miss it.
    const flat = (rng: Rng, rows: number, deadlineMs = 40) => {
      const r: Record<string, unknown> = { dense: encodeTensor(tensor("f32", [rows, 13], rng.floats(rows * 13, 0, 1))) };
      o.multiHot.forEach((_, i) => (r[`cat_${i}`] = encodeTensor(ids(rng, rows, i))));
      return { body: packr.pack({ rows: r, deadline_ms: deadlineMs }), rows };
    };
    const ranking = (rng: Rng, deadlineMs = 120) => {
      const context: Record<string, unknown> = {};
      const candidates: Record<string, unknown> = { dense: encodeTensor(tensor("f32", [50, 13], rng.floats(50 * 13, 0, 1))) };
      o.multiHot.forEach((_, i) => (i < o.contextFeatures ? (context[`cat_${i}`] = encodeTensor(ids(rng, 1, i))) : (candidates[`cat_${i}`] = encodeTensor(ids(rng, 50, i)))));
      return { body: packr.pack({ context, candidates, deadline_ms: deadlineMs }), rows: 50 };
    };
    const mixes: Mix[] = [
      { name: "small (1-4 rows)", sloMs: 20, rates: quick ? [200, 1000] : [100, 200, 400, 600, 800, 1200, 1600, 2400, 3200], make: (rng) => flat(rng, 1 + rng.int(4)) },
      { name: "ranking (1 user x 50)", sloMs: 60, rates: quick ? [20, 80] : [10, 25, 50, 75, 100, 125, 150, 200], make: ranking },
    ];
    const steps: Step[] = [];
    for (const mix of mixes) {
      const rng = new Rng(7);
      const pool = Array.from({ length: 64 }, () => mix.make(rng));
      for (const mode of MODES) {
        progress(`${mix.name}: starting the ${mode} server`);
        const server = Bun.spawn(["bun", join(import.meta.dir, "serve-server.ts"), mode, modelPath, onnxPath, String(mix.sloMs)], { stdout: "pipe", stderr: "inherit" });
        const url = await readUrl(server);
        try {
          await sweep(url, pool, 8, 1); // warm-up: plans for the batch sizes, JIT
          for (const rate of mix.rates) {
            progress(`${mix.name}: ${mode} at ${rate} req/s`);
            const s = await sweep(url, pool, rate, seconds);
            steps.push({ mode, mix: mix.name, offered: rate, ...s });
          }
        } finally {
          server.kill();
          await server.exited;
        }
      }
      const section = report.section(`${mix.name}: latency from the scheduled send time, ms`);
      for (const s of steps.filter((x) => x.mix === mix.name)) section.add({ mode: s.mode, "offered req/s": s.offered, "req/s": s.achieved, "rows/s": s.rowsPerS, p50: s.p50, p99: s.p99, p999: s.p999, "503": s.rejected, "504": s.expired, errors: s.errors });
      const best = (mode: Mode) => Math.max(0, ...steps.filter((x) => x.mix === mix.name && x.mode === mode && x.p99 <= mix.sloMs && x.errors === 0).map((x) => x.rowsPerS));
      for (const mode of MODES) report.fact(`${mix.name}: rows/s at p99 <= ${mix.sloMs} ms, ${mode}`, best(mode));
      // Does adaptive hold its SLO where the best static delay breaks it?
      const slo = report.section(`${mix.name}: adaptive (SLO ${mix.sloMs} ms) against the best static delay at each offered load`);
      for (const rate of mix.rates) {
        const at = (mode: Mode) => steps.find((x) => x.mix === mix.name && x.mode === mode && x.offered === rate);
        const statics = STATIC.map(at).filter((x): x is Step => x !== undefined);
        const bestStatic = statics.reduce((a, b) => (b.p99 < a.p99 ? b : a), statics[0]!);
        const a = at("adaptive")!;
        slo.add({ "offered req/s": rate, "adaptive p99": a.p99, "adaptive rows/s": a.rowsPerS, "best static": bestStatic.mode, "best static p99": bestStatic.p99, "adaptive holds SLO": a.p99 <= mix.sloMs ? "yes" : "no", "best static holds SLO": bestStatic.p99 <= mix.sloMs ? "yes" : "no" });
      }
      const base = mix.name.startsWith("small") ? best("off") : best("ort");
      section.note(`rows/s at p99 <= ${mix.sloMs} ms: static 0.5 ms ${ratio(best("static-0.5ms"), base)}, static 4 ms ${ratio(best("static-4ms"), base)}, adaptive ${ratio(best("adaptive"), base)} of ${mix.name.startsWith("small") ? "coalescing off" : "the onnxruntime-node server"}`);
    }
    mkdirSync(".bench-out", { recursive: true });
    writeFileSync(".bench-out/serve.json", JSON.stringify({ steps }, null, 2));
    writeFileSync(".bench-out/serve.svg", chart(steps, mixes));
    report.fact("chart", ".bench-out/serve.svg");
    await serverOverhead(report, quick);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.print(json);
}

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : a > 0 ? "∞×" : "n/a");

async function readUrl(proc: { stdout: ReadableStream<Uint8Array> }): Promise<string> {
  const reader = proc.stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before it was ready: ${text}`);
    text += new TextDecoder().decode(value);
    const m = text.match(/ready (http:\/\/\S+)/);
    if (m) return m[1]!;
  }
}

/** Open loop: request i is sent at start + i/rate whatever the responses do. */
async function sweep(url: string, pool: { body: Uint8Array; rows: number }[], rate: number, seconds: number) {
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  let rows = 0;
  let rejected = 0;
  let expired = 0;
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    const req = pool[i % pool.length]!;
    inflight.push(
      fetch(`${url}/v1/models/dlrm/rank`, { method: "POST", body: req.body, headers: { "Content-Type": MSGPACK, Accept: MSGPACK } })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status === 503) rejected++;
          else if (res.status === 504) expired++;
          else if (!res.ok) errors++;
          else {
            latencies.push(performance.now() - at);
            rows += req.rows;
          }
        })
        .catch(() => void errors++),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { achieved: latencies.length / elapsed, rowsPerS: rows / elapsed, p50: q(0.5), p99: q(0.99), p999: q(0.999), rejected, expired, errors };
}

/** p99 latency (log scale) against rows/s, one polyline per mode, one panel per mix. */
function chart(steps: Step[], mixes: Mix[]): string {
  const W = 520, H = 320, pad = 50;
  const colors: Record<Mode, string> = { off: "#999", "static-0.5ms": "#17becf", "static-4ms": "#1f77b4", adaptive: "#2ca02c", ort: "#d62728" };
  const panels = mixes.map((mix, m) => {
    const pts = steps.filter((s) => s.mix === mix.name && Number.isFinite(s.p99));
    const maxX = Math.max(1, ...pts.map((s) => s.rowsPerS));
    const maxY = Math.log10(Math.max(10, ...pts.map((s) => s.p99)));
    const x = (v: number) => pad + ((W - 2 * pad) * v) / maxX;
    const y = (v: number) => H - pad - ((H - 2 * pad) * Math.log10(Math.max(0.1, v) * 10)) / (maxY + 1);
    const lines = (Object.keys(colors) as Mode[]).map((mode) => {
      const ps = pts.filter((s) => s.mode === mode).map((s) => `${x(s.rowsPerS).toFixed(1)},${y(s.p99).toFixed(1)}`);
      return `<polyline fill="none" stroke="${colors[mode]}" stroke-width="2" points="${ps.join(" ")}"/><text x="${W - pad - 60}" y="${pad + 16 * (Object.keys(colors).indexOf(mode) + 1)}" fill="${colors[mode]}" font-size="12">${mode}</text>`;
    });
    const slo = `<line x1="${pad}" x2="${W - pad}" y1="${y(mix.sloMs)}" y2="${y(mix.sloMs)}" stroke="#000" stroke-dasharray="4"/><text x="${pad + 4}" y="${y(mix.sloMs) - 4}" font-size="11">SLO ${mix.sloMs} ms</text>`;
    const axes = `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#000"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#000"/><text x="${W / 2 - 40}" y="${H - 15}" font-size="12">rows/s (max ${maxX.toFixed(0)})</text><text x="8" y="${pad - 10}" font-size="12">p99 ms (log)</text>`;
    return `<g transform="translate(${m * W},0)"><text x="${pad}" y="20" font-size="14">${mix.name}</text>${axes}${slo}${lines.join("")}</g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * mixes.length}" height="${H}" font-family="sans-serif">${panels.join("")}</svg>\n`;
}
