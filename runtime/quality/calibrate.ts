// Calibration of a quantization from sample requests: which GEMM layers may
// run in low precision on this CPU path without costing the ranking.
//
// Why layers, not activation scales: rf_gemm quantizes activations itself,
// dynamically, per row (rankfn.h; over the row's range to int16 levels or u8 on
// the AVX2 vpmaddwd and AVX-512 VNNI blocked kernels, int16 on the AVX2 small-M
// kernels, not at all on ref/portable/Zen 1's FMA path). A per-row range measured on the row
// itself is never looser than a static one calibrated offline, so calibration
// cannot improve the scales the kernel picks; what it can do is find the layers
// where one range per row is not enough — a concatenation whose segments
// (bottom-MLP output next to pooled embeddings) differ in scale, a long K with
// outliers — and keep exactly those in fp32. It measures, on the caller's
// requests, each layer quantized alone (Kendall's τ of the candidate order
// against fp32), then greedily returns the most damaging layers to fp32 until
// the whole quantized model meets the τ target or half the layers are kept.
// Without calibration the documented default applies: every GEMM weight but the
// output head's last 3 linear layers (CompileOptions.headLayers) is quantized.
//
// For int8 it then goes the other way, for speed: int8 layers quantize their
// activations to 16-bit levels by default (rf_weight_set_act_bits); on the
// AVX-512 VNNI path u8 activations run each GEMM about twice as fast, and cost
// the order of the candidates layer by layer. Each remaining int8 layer is
// measured with u8 activations alone, and the least damaging ones are narrowed
// to 8 bits, one by one, while τ stays within `narrowLoss` of the 16-bit model.
// Paths where u8 is no faster (AVX2: vpmaddwd multiplies int16 either way;
// ref, portable, OpenCL: fp32) narrow nothing: there is nothing to gain there,
// and a narrowed layer would cost the ranking for nothing.
import type { BuiltModel } from "../graph/builder";
import { type CompileOptions, compile } from "../compiler/compile";
import { type KeptWeight, gemmWeights, keptWeights } from "../compiler/quantize";
import { Model } from "../engine/model";
import type { RankRequest } from "../engine/request";
import { RankfnError } from "../errors";
import { kendallTau } from "./ranking-metrics";
import { isa } from "../ffi/device";
import { loadLibrary } from "../ffi/library";

export interface CalibrationOptions extends CompileOptions {
  /** Mean Kendall's τ (worst output) the quantized model should reach on the requests (default 0.99). */
  tauTarget?: number;
  /** At most this fraction of the quantizable layers goes back to fp32 (default 0.5). */
  maxKeptFraction?: number;
  /** int8: the τ that u8 activations may cost against the 16-bit model, all narrowed layers together (default 0.002). */
  narrowLoss?: number;
}

export interface LayerSensitivity {
  weight: string;
  /** Mean τ of the candidate order when only this layer is quantized. */
  tauAlone: number;
}

export interface Calibration {
  /** What to pass as CompileOptions.keep: the layers calibration returned to fp32, with the measured reason. */
  keep: KeptWeight[];
  /** int8: what to pass as CompileOptions.narrow: the layers whose activations may be u8, with the measured τ. */
  narrow: KeptWeight[];
  /** Every layer calibration measured, most damaging first. */
  layers: LayerSensitivity[];
  /** Mean τ (worst output) with the default quantization and with the calibrated one. */
  tauBefore: number;
  tauAfter: number;
}

function scores(model: Model, requests: RankRequest[]): Float32Array[][] {
  return requests.map((r) => Object.values(model.rankSync(r).outputs).map((t) => t.data));
}

/** Mean over requests of the worst output's τ against the reference scores. */
function tauAgainst(reference: Float32Array[][], model: Model, requests: RankRequest[]): number {
  const got = scores(model, requests);
  let sum = 0;
  reference.forEach((outs, i) => {
    sum += Math.min(...outs.map((want, o) => kendallTau(got[i]![o]!, want)));
  });
  return sum / reference.length;
}

/**
 * Measure on `requests` which layers to keep in fp32 for `options.precision` on the active CPU path.
 * @example const { keep } = calibrate(built, requests, { precision: "int8" }); new Model(built, { precision: "int8", keep })
 */
export function calibrate(built: BuiltModel, requests: RankRequest[], options: CalibrationOptions): Calibration {
  const { tauTarget = 0.99, maxKeptFraction = 0.5, narrowLoss = 0.002, ...compileOptions } = options;
  if (!compileOptions.precision || compileOptions.precision === "f32") throw new RankfnError("calibration needs precision bf16 or int8", "bad_option", 400);
  if (requests.length === 0) throw new RankfnError("calibration needs at least one sample request", "bad_option", 400);
  // Weight names as the quantize pass sees them (after fusion): the compiled fp32 graph's.
  const graph = compile(built, { ...compileOptions, precision: "f32" }).model.graph;
  const given = keptWeights(graph, { weights: compileOptions.precision, headLayers: compileOptions.headLayers, keep: compileOptions.keep });
  const fixed = new Set(given.map((k) => k.weight));
  const candidates = [...new Set(gemmWeights(graph).map((g) => g.weight))].filter((w) => !fixed.has(w));
  const fp32 = new Model(built, { ...compileOptions, precision: "f32" });
  const reference = (() => {
    try {
      return scores(fp32, requests);
    } finally {
      fp32.dispose();
    }
  })();
  const run = (keep: KeptWeight[], narrow: KeptWeight[] = []) => {
    const model = new Model(built, { ...compileOptions, keep: [...given, ...keep], narrow: [...(compileOptions.narrow ?? []), ...narrow] });
    try {
      return tauAgainst(reference, model, requests);
    } finally {
      model.dispose();
    }
  };
  const others = (w: string) => candidates.filter((c) => c !== w).map((c) => ({ weight: c, reason: "" }));
  const layers = candidates.map((weight) => ({ weight, tauAlone: run(others(weight)) })).sort((a, b) => a.tauAlone - b.tauAlone);
  const tauBefore = run([]);
  const keep: KeptWeight[] = [];
  let tauAfter = tauBefore;
  const budget = Math.floor(candidates.length * maxKeptFraction);
  for (const layer of layers) {
    if (tauAfter >= tauTarget || keep.length >= budget || layer.tauAlone >= 1) break;
    keep.push({ weight: layer.weight, reason: `calibration: quantized alone it takes Kendall τ to ${layer.tauAlone.toFixed(4)} on ${requests.length} sample requests (target ${tauTarget})` });
    tauAfter = run(keep);
  }
  const narrow = compileOptions.precision === "int8" && compileOptions.activationBits !== 8 && narrowsActivations() ? narrowLayers(candidates.filter((w) => !keep.some((k) => k.weight === w)), keep, run, tauAfter - narrowLoss, requests.length) : [];
  if (narrow.length > 0) tauAfter = run(keep, narrow);
  return { keep, narrow, layers, tauBefore, tauAfter };
}

/** Whether the active kernels quantize activations to u8 when a layer asks for 8 bits (the AVX-512 VNNI path). */
function narrowsActivations(): boolean {
  return loadLibrary().backend === "cpu" && isa().active === "avx512";
}

/** The int8 layers that may take u8 activations: least damaging alone first, each kept only while τ stays >= floor. */
function narrowLayers(layers: string[], keep: KeptWeight[], run: (keep: KeptWeight[], narrow: KeptWeight[]) => number, floor: number, count: number): KeptWeight[] {
  const alone = layers.map((weight) => ({ weight, tau: run(keep, [{ weight, reason: "" }]) })).sort((a, b) => b.tau - a.tau);
  const narrow: KeptWeight[] = [];
  for (const { weight, tau } of alone) {
    if (tau < floor) break;
    const next = [...narrow, { weight, reason: `calibration: u8 activations alone keep Kendall τ at ${tau.toFixed(4)} on ${count} sample requests` }];
    if (run(keep, next) >= floor) narrow.splice(0, narrow.length, ...next);
  }
  return narrow;
}
