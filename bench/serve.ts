// `bun run bench serve [--json] [--quick]`: an open-loop load generator (this
// process, serve-load.ts) against a server in a child process, sweeping offered load, for
// coalescing off / static (0.5 ms and 4 ms queue delay) / adaptive and for a
// Hono + onnxruntime-node per-request server on the same DLRM-v2-shaped model,
// then whether adaptive holds its SLO where the best static delay does not,
// and the server's own per-request overhead on a trivial model. Latency is measured from
// each request's scheduled send time (no coordinated omission). Also, per mix: each
// model's latency alone beside the SLO it is held to; the same sweep with 5% malformed
// requests mixed in (missing feature, bad dtype, out-of-range id), reporting the valid
// requests; and goodput at 2× the load each policy saturated at. Writes
// .bench-out/serve.json and .bench-out/serve.svg (p99 latency vs rows/s).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeModel } from "../runtime/model/model-file";
import { Rng } from "../runtime/tensor/random";
import { encodeTensor, packr } from "../runtime/server/wire";
import { tensor } from "../runtime/tensor/tensor";
import { zoo } from "../sdk/zoo";
import { dlrmOptions } from "../sdk/zoo/dlrm";
import { dlrmOnnx } from "./dlrm-onnx";
import { Report } from "./report";
import { type PoolEntry, type StepResult, singleRequestLatency, sweep } from "./serve-load";
import { serverOverhead } from "./serve-overhead";
import { progress } from "./timing";

type Mode = "off" | "static-0.5ms" | "static-4ms" | "adaptive" | "ort";
const MODES: Mode[] = ["off", "static-0.5ms", "static-4ms", "adaptive", "ort"];
const STATIC: Mode[] = ["static-0.5ms", "static-4ms"];
/** The rankfn servers (the ort peer is only in the clean sweep). */
const RANKFN: Mode[] = ["off", "static-0.5ms", "static-4ms", "adaptive"];
type Malformed = "missing feature" | "bad dtype" | "id out of range";
const MALFORMED: Malformed[] = ["missing feature", "bad dtype", "id out of range"];
type Variant = "clean" | "5% malformed" | "2x overload";
interface Mix { name: string; sloMs: number; rates: number[]; make(rng: Rng, bad?: Malformed): PoolEntry }
interface Step extends StepResult { mode: Mode; mix: string; variant: Variant; offered: number }

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
    // An out-of-range id (for "id out of range") is the first id of the feature's first row.
    const ids = (rng: Rng, rows: number, i: number, outOfRange = false) =>
      tensor("i64", [rows, o.multiHot[i]!], BigInt64Array.from({ length: rows * o.multiHot[i]! }, (_, k) => {
        const id = rng.int(o.tableRows[i]!);
        return BigInt(outOfRange && k === 0 ? o.tableRows[i]! + 7 : id);
      }));
    const dense = (rng: Rng, rows: number, bad?: Malformed) =>
      encodeTensor(bad === "bad dtype" ? tensor("i32", [rows, 13], Int32Array.from(rng.floats(rows * 13, 0, 1), (v) => Math.round(v))) : tensor("f32", [rows, 13], rng.floats(rows * 13, 0, 1)));
    // Clients send their latency budget as the deadline (2× the SLO): the server sheds (503) what it predicts would miss it.
    const flat = (rng: Rng, rows: number, bad?: Malformed, deadlineMs = 40): PoolEntry => {
      const r: Record<string, unknown> = { dense: dense(rng, rows, bad) };
      o.multiHot.forEach((_, i) => (r[`cat_${i}`] = encodeTensor(ids(rng, rows, i, bad === "id out of range" && i === 0))));
      if (bad === "missing feature") delete r.cat_0;
      return { body: packr.pack({ rows: r, deadline_ms: deadlineMs }), rows, malformed: bad };
    };
    const ranking = (rng: Rng, bad?: Malformed, deadlineMs = 120): PoolEntry => {
      const first = o.contextFeatures; // the first candidate feature is the one spoiled
      const context: Record<string, unknown> = {};
      const candidates: Record<string, unknown> = { dense: dense(rng, 50, bad) };
      o.multiHot.forEach((_, i) => (i < o.contextFeatures ? (context[`cat_${i}`] = encodeTensor(ids(rng, 1, i))) : (candidates[`cat_${i}`] = encodeTensor(ids(rng, 50, i, bad === "id out of range" && i === first)))));
      if (bad === "missing feature") delete candidates[`cat_${first}`];
      return { body: packr.pack({ context, candidates, deadline_ms: deadlineMs }), rows: 50, malformed: bad };
    };
    const mixes: Mix[] = [
      { name: "small (1-4 rows)", sloMs: 20, rates: quick ? [200, 1000] : [100, 200, 400, 600, 800, 1200, 1600, 2400, 3200], make: (rng, bad) => flat(rng, 1 + rng.int(4), bad) },
      { name: "ranking (1 user x 50)", sloMs: 60, rates: quick ? [20, 80] : [10, 25, 50, 75, 100, 125, 150, 200], make: ranking },
    ];
    const steps: Step[] = [];
    const alone: { mix: string; p50: number; p99: number; sloMs: number }[] = [];
    for (const mix of mixes) {
      const rng = new Rng(7);
      const pool = Array.from({ length: 64 }, () => mix.make(rng));
      // 5 in 100 malformed, spread out and cycling through the kinds.
      const badRng = new Rng(8);
      const dirtyPool = Array.from({ length: 100 }, (_, i) => mix.make(badRng, i % 20 === 10 ? MALFORMED[Math.floor(i / 20) % MALFORMED.length] : undefined));
      const dirtyRates = quick ? mix.rates.slice(0, 1) : mix.rates.filter((_, i) => i % 2 === 0);
      const goodMs = 2 * mix.sloMs; // the clients' deadline
      for (const mode of MODES) {
        progress(`${mix.name}: starting the ${mode} server`);
        const server = Bun.spawn(["bun", join(import.meta.dir, "serve-server.ts"), mode, modelPath, onnxPath, String(mix.sloMs)], { stdout: "pipe", stderr: "inherit" });
        const url = await readUrl(server);
        const step = async (variant: Variant, rate: number, from: PoolEntry[]) => {
          progress(`${mix.name}: ${mode}${variant === "clean" ? "" : ` (${variant})`} at ${Math.round(rate)} req/s`);
          const s = await sweep(url, from, rate, seconds, goodMs);
          steps.push({ mode, mix: mix.name, variant, offered: Math.round(rate), ...s });
          return s;
        };
        try {
          await sweep(url, pool, 8, 1); // warm-up: plans for the batch sizes, JIT
          if (mode === "off") alone.push({ mix: mix.name, sloMs: mix.sloMs, ...(await singleRequestLatency(url, pool, quick ? 30 : 200)) });
          const clean = [];
          for (const rate of mix.rates) clean.push(await step("clean", rate, pool));
          if (RANKFN.includes(mode)) {
            for (const rate of dirtyRates) await step("5% malformed", rate, dirtyPool);
            // Twice the most this policy served in the sweep; where the sweep never saturated it, that is no overload (the table says so).
            await step("2x overload", Math.max(mix.rates[0]!, 2 * Math.max(...clean.map((s) => s.achieved))), pool);
          }
        } finally {
          server.kill();
          await server.exited;
        }
      }
      const mixSteps = (variant: Variant) => steps.filter((x) => x.mix === mix.name && x.variant === variant);
      const section = report.section(`${mix.name}: latency from the scheduled send time, ms`);
      for (const s of mixSteps("clean")) section.add({ mode: s.mode, "offered req/s": s.offered, "req/s": s.achieved, "rows/s": s.rowsPerS, p50: s.p50, p99: s.p99, p999: s.p999, "503": s.rejected, "504": s.expired, errors: s.errors });
      // With malformed requests mixed in, valid ones failed alongside them are the finding, not a reason to drop the step.
      const bestOf = (variant: Variant, mode: Mode) => Math.max(0, ...mixSteps(variant).filter((x) => x.mode === mode && x.p99 <= mix.sloMs && (x.errors === 0 || variant === "5% malformed")).map((x) => x.rowsPerS));
      const best = (mode: Mode) => bestOf("clean", mode);
      for (const mode of MODES) report.fact(`${mix.name}: rows/s at p99 <= ${mix.sloMs} ms, ${mode}`, best(mode));
      // Does adaptive hold its SLO where the best static delay breaks it?
      const slo = report.section(`${mix.name}: adaptive (SLO ${mix.sloMs} ms) against the best static delay at each offered load`);
      for (const rate of mix.rates) {
        const at = (mode: Mode) => mixSteps("clean").find((x) => x.mode === mode && x.offered === rate);
        const statics = STATIC.map(at).filter((x): x is Step => x !== undefined);
        const bestStatic = statics.reduce((a, b) => (b.p99 < a.p99 ? b : a), statics[0]!);
        const a = at("adaptive")!;
        slo.add({ "offered req/s": rate, "adaptive p99": a.p99, "adaptive rows/s": a.rowsPerS, "best static": bestStatic.mode, "best static p99": bestStatic.p99, "adaptive holds SLO": a.p99 <= mix.sloMs ? "yes" : "no", "best static holds SLO": bestStatic.p99 <= mix.sloMs ? "yes" : "no" });
      }
      const base = mix.name.startsWith("small") ? best("off") : best("ort");
      section.note(`rows/s at p99 <= ${mix.sloMs} ms: static 0.5 ms ${ratio(best("static-0.5ms"), base)}, static 4 ms ${ratio(best("static-4ms"), base)}, adaptive ${ratio(best("adaptive"), base)} of ${mix.name.startsWith("small") ? "coalescing off" : "the onnxruntime-node server"}`);
      malformedSection(report, mix, mixSteps("clean"), mixSteps("5% malformed"), bestOf);
      overloadSection(report, mix, mixSteps("clean"), mixSteps("2x overload"));
    }
    const single = report.section("each model alone (one request at a time, off server, over loopback), ms");
    for (const a of alone) {
      single.add({ mix: a.mix, "alone p50": a.p50, "alone p99": a.p99, "SLO (adaptive)": a.sloMs, "client deadline": 2 * a.sloMs, "SLO reachable": a.p99 <= a.sloMs ? "yes" : "no" });
      report.fact(`${a.mix}: single-request p99 ms (SLO ${a.sloMs})`, a.p99);
    }
    single.note("an SLO below a model's latency alone cannot be held at any load; adaptive admits against the clients' deadline instead once its SLO is under 1.5 batch times");
    mkdirSync(".bench-out", { recursive: true });
    writeFileSync(".bench-out/serve.json", JSON.stringify({ steps }, null, 2));
    writeFileSync(".bench-out/serve.svg", chart(steps.filter((s) => s.variant === "clean"), mixes));
    report.fact("chart", ".bench-out/serve.svg");
    await serverOverhead(report, quick);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.print(json);
}

/** Valid requests with 5% malformed mixed in, beside the clean sweep at the same rates. */
function malformedSection(report: Report, mix: Mix, clean: Step[], dirty: Step[], bestOf: (variant: Variant, mode: Mode) => number): void {
  const section = report.section(`${mix.name}: valid requests with 5% malformed mixed in (missing feature, bad dtype, id out of range)`);
  for (const d of dirty) {
    const c = clean.find((x) => x.mode === d.mode && x.offered === d.offered);
    section.add({ mode: d.mode, "offered req/s": d.offered, "valid ok % clean": c ? 100 * c.validOk : NaN, "valid ok % w/ malformed": 100 * d.validOk, "p99 clean": c?.p99 ?? NaN, "p99 w/ malformed": d.p99, "malformed 4xx": `${d.malformed4xx}/${d.malformedSent}`, "valid 503": d.rejected, "valid other errors": d.errors });
  }
  for (const mode of RANKFN) {
    const c = bestOf("clean", mode);
    const d = bestOf("5% malformed", mode);
    report.fact(`${mix.name}: valid rows/s at p99 <= ${mix.sloMs} ms, ${mode}: clean / 5% malformed`, `${c.toFixed(0)} / ${d.toFixed(0)}`);
  }
  section.note("every request is validated alone before it is queued, so a malformed one gets its own 4xx and never fails its batch-mates; a valid request failed any other way counts as 'valid other errors'");
}

/** Goodput (answered 200 within the clients' deadline) at twice the most each policy served in the clean sweep. */
function overloadSection(report: Report, mix: Mix, clean: Step[], overload: Step[]): void {
  const section = report.section(`${mix.name}: goodput at 2x the load each policy saturated at`);
  for (const o of overload) {
    const mine = clean.filter((x) => x.mode === o.mode);
    const sat = Math.max(...mine.map((x) => x.achieved));
    const saturated = mine.some((x) => x.achieved < 0.9 * x.offered || x.rejected > 0);
    section.add({ mode: o.mode, "saturation req/s": sat, "saturated in sweep": saturated ? "yes" : "no", "offered req/s": o.offered, "sent req/s": o.sentPerS, "served req/s": o.achieved, "goodput req/s": o.goodPerS, "goodput % of saturation": sat > 0 ? (100 * o.goodPerS) / sat : NaN, p99: o.p99, "503": o.rejected, "503 shed": o.overloaded, "504": o.expired, errors: o.errors });
    report.fact(`${mix.name}: goodput at 2x saturation, % of saturation, ${o.mode}`, sat > 0 ? Math.round((100 * o.goodPerS) / sat) : NaN);
  }
  section.note(`goodput: answered 200 within the clients' ${2 * mix.sloMs} ms deadline; "saturated in sweep: no" means the sweep never overloaded that policy, so 2x its best is a lower bound on overload; "sent req/s" below "offered" means the load generator fell behind`);
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
