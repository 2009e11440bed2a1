// `bun run bench moe [--json] [--quick]`: expert parallelism on CPU core
// groups, figures and ratios from one run:
// - a MoE layer (16 experts, top-2, d=512, hidden 2048) at batch 2048, balanced
//   routing: rows/s on 1 device of 1 core, 2 devices of 1 core each, and 1
//   device using 2 cores (intra-op threads) — scaling and the cost of dispatch
//   and combine;
// - the same layer under Zipf-skewed routing on 2 devices: initial placement,
//   re-planned from routing statistics without and with hot-expert replication
//   (imbalance = max/mean device load, % of balanced throughput);
// - the zoo MMoE and PLE models (dense mixtures) on the same device setups.
import type { Device } from "../runtime/devices";
import { openDevices } from "../runtime/devices";
import * as k from "../runtime/ffi";
import { ExpertLayer, type ExpertLinear } from "../runtime/moe/expert-layer";
import { imbalance } from "../runtime/moe/placement";
import { Rng } from "../runtime/tensor/random";
import { tensor } from "../runtime/tensor/tensor";
import { Model } from "../sdk/model";
import { sampleFlatRequest } from "../sdk/sample-requests";
import { zoo } from "../sdk/zoo";
import { Report } from "./report";
import { progress, time } from "./timing";
import { type Routing, balancedRouting, zipfRouting } from "./moe/routing";

const E = 16;
const TOP_K = 2;
const D_MODEL = 512;
const HIDDEN = 2048;
const ALPHA = 1.2;

/** Device setups compared: [label, spec, library pool threads for the rest of the model]. */
const setups = [
  ["1 device × 1 core", "cpu:1x1", 1],
  ["2 devices × 1 core", "cpu:2x1", 2],
  ["1 device × 2 cores", "cpu:1x2", 2],
] as const;

function experts(): ExpertLinear[][] {
  const rng = new Rng(7);
  const t = (shape: number[], scale: number) => tensor("f32", shape, Float32Array.from({ length: shape[0]! * (shape[1] ?? 1) }, () => rng.uniform(-scale, scale)));
  return Array.from({ length: E }, () => [
    { w: t([HIDDEN, D_MODEL], Math.sqrt(6 / (D_MODEL + HIDDEN))), b: t([HIDDEN], 0.01), act: 2 }, // gelu
    { w: t([D_MODEL, HIDDEN], Math.sqrt(6 / (D_MODEL + HIDDEN))), b: t([D_MODEL], 0.01), act: 0 },
  ]);
}

interface LayerRun {
  rowsPerS: number;
  /** max/mean device load (rows × cost) of the last batch. */
  loadImbalance: number;
  /** max/mean device busy time over the timed batches. */
  busyImbalance: number;
  /** Share of a batch's wall time no device was computing (dispatch, combine, waiting). */
  hostShare: number;
}

export async function main(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const quick = args.includes("--quick");
  const batch = quick ? 512 : 2048;
  const minSeconds = quick ? 0.3 : 1;
  const report = new Report("moe");
  const cores = k.probePeakGflops(1, "f32");
  report.fact("fp32 peak GFLOP/s per core (measured now)", cores);
  report.fact("MoE layer", `${E} experts, top-${TOP_K}, d=${D_MODEL}, hidden ${HIDDEN}, batch ${batch}`);
  const weights = experts();
  const rng = new Rng(3);
  const xBuf = new k.DeviceBuffer(0, batch * D_MODEL * 4);
  const yBuf = new k.DeviceBuffer(0, batch * D_MODEL * 4);
  const x = new Float32Array(xBuf.view());
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  const y = new Float32Array(yBuf.view());
  const flopsPerBatch = batch * TOP_K * 2 * 2 * D_MODEL * HIDDEN;

  const measure = async (layer: ExpertLayer, devices: Device[], r: Routing): Promise<LayerRun> => {
    const run = () => layer.run(batch, TOP_K, x, D_MODEL, r.topIdx, r.topVals, y, D_MODEL);
    run();
    const busy0 = devices.map((d) => d.stats().busyMs);
    const t0 = performance.now();
    let calls = 0;
    const t = await time(() => (calls++, run()), { warmup: 1, minCalls: 3, minSeconds });
    const wall = performance.now() - t0;
    const busy = devices.map((d, i) => d.stats().busyMs - busy0[i]!);
    return { rowsPerS: batch / t.median, loadImbalance: layer.stats().imbalanceLast, busyImbalance: imbalance(busy), hostShare: Math.max(0, 1 - Math.max(...busy) / wall) };
  };

  // ---------------------------------------------------------------- balanced routing
  const balanced = report.section(`MoE layer, balanced routing, batch ${batch}`);
  balanced.note("rows/s of the expert part (dispatch, expert GEMMs on the devices, combine); gating is separate");
  const routing = balancedRouting(batch, TOP_K, E);
  const figures = new Map<string, LayerRun>();
  for (const [label, spec, threads] of setups) {
    progress(`MoE layer on ${label}`);
    k.setNumThreads(threads); // the combine runs on the library pool: give it the setup's cores, no more
    const devices = openDevices(spec);
    const layer = new ExpertLayer("moe", weights, D_MODEL, D_MODEL, devices);
    const f = await measure(layer, devices, routing);
    figures.set(label, f);
    balanced.add({ devices: label, "rows/s": f.rowsPerS, "GFLOP/s": (flopsPerBatch * f.rowsPerS) / batch / 1e9, "% of peak": (100 * (flopsPerBatch * f.rowsPerS) / batch / 1e9) / (cores * devices.reduce((a, d) => a + d.stats().threads, 0)), "busy imbalance": f.busyImbalance, "host share %": 100 * f.hostShare });
    layer.dispose();
    devices.forEach((d) => d.dispose());
  }
  const one = figures.get("1 device × 1 core")!.rowsPerS;
  const two = figures.get("2 devices × 1 core")!.rowsPerS;
  const wide = figures.get("1 device × 2 cores")!.rowsPerS;
  report.fact("scaling: 2 devices × 1 core / 1 device × 1 core (target ≥ 1.8)", two / one);
  report.fact("cost of expert parallelism: 2 devices × 1 core / 1 device × 2 cores (target ≥ 0.95)", two / wide);

  // ---------------------------------------------------------------- skewed routing
  const skewed = report.section(`MoE layer, Zipf(${ALPHA}) routing on 2 devices × 1 core, batch ${batch}`);
  skewed.note("load imbalance = max/mean device rows × cost (last batch); busy imbalance = max/mean device compute time");
  const zipf = zipfRouting(batch, TOP_K, E, ALPHA);
  const counts = new Array<number>(E).fill(0);
  for (const e of zipf.topIdx) counts[e]!++;
  skewed.note(`rows per expert: ${counts.join(" ")}`);
  k.setNumThreads(2);
  const devices = openDevices("cpu:2x1");
  const row = (label: string, f: LayerRun, layer: ExpertLayer) =>
    skewed.add({ placement: label, "rows/s": f.rowsPerS, "% of balanced": (100 * f.rowsPerS) / two, "load imbalance": f.loadImbalance, "busy imbalance": f.busyImbalance, replicated: layer.placement.replicas.flatMap((r, e) => (r.length > 1 ? [e] : [])).join(",") || "-" });
  {
    progress("skewed: initial placement");
    const layer = new ExpertLayer("moe", weights, D_MODEL, D_MODEL, devices);
    row("initial (uniform loads assumed)", await measure(layer, devices, zipf), layer);
    progress("skewed: re-planned from routing statistics");
    layer.replan();
    const f = await measure(layer, devices, zipf);
    row("re-planned, no replication", f, layer);
    layer.dispose();
  }
  {
    progress("skewed: re-planned with hot-expert replication");
    const layer = new ExpertLayer("moe", weights, D_MODEL, D_MODEL, devices, { replicate: { threshold: 0.25 } });
    layer.run(batch, TOP_K, x, D_MODEL, zipf.topIdx, zipf.topVals, y, D_MODEL);
    layer.replan();
    const f = await measure(layer, devices, zipf);
    row("re-planned, hot experts replicated", f, layer);
    report.fact("replication: load imbalance under Zipf (target ≤ 1.2)", f.loadImbalance);
    report.fact("replication: % of balanced throughput under Zipf (target ≥ 85)", (100 * f.rowsPerS) / two);
    layer.dispose();
  }
  devices.forEach((d) => d.dispose());
  xBuf.dispose();
  yBuf.dispose();

  // ---------------------------------------------------------------- zoo MMoE / PLE
  const dense = report.section(`zoo MMoE and PLE (dense mixtures, default sizes), flat batch ${batch}`);
  dense.note("the experts run on the devices; embeddings, gates, mixtures and towers on the library pool (threads as listed)");
  for (const name of ["mmoe", "ple"] as const) {
    const built = zoo[name].build({});
    const req = sampleFlatRequest(built, batch, 5);
    const base = new Map<string, number>();
    for (const [label, spec, threads] of [["no devices (library pool)", "", 2] as const, ...setups]) {
      progress(`${name} on ${label}`);
      k.setNumThreads(threads);
      const model = new Model(built, { maxBatch: batch, ...(spec ? { experts: { devices: spec } } : {}) });
      const t = await time(() => model.rankSync(req), { warmup: 2, minCalls: 3, minSeconds });
      base.set(label, batch / t.median);
      dense.add({ model: name, devices: label, "pool threads": threads, "rows/s": batch / t.median, "× 1 device × 1 core": base.has("1 device × 1 core") ? batch / t.median / base.get("1 device × 1 core")! : "" });
      model.dispose();
    }
  }
  report.print(json);
}
