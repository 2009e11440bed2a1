// The one accuracy harness: a model at some precision and the same model in
// fp32 score the same generated ranking requests (ranking-requests.ts: 1 user ×
// 200 candidates, Zipf ids, log-count dense features), on each CPU code path
// asked for; per output column we report mean NDCG@10, mean Kendall's τ of the
// candidate order, and max |Δscore| (ranking-metrics.ts). The fp32 reference is
// scored on the same code path, so the figures measure quantization, not the
// (1e-6-sized) differences between ISA paths. What int8 does to activations
// depends on the path and batch size (rankfn.h, rf_gemm): ref, portable and
// Zen 1's FMA path keep them fp32, the AVX2 small-M kernels (≤ 24 rows) quantize
// each row to int16, the AVX2 vpmaddwd and AVX-512 VNNI blocked kernels to what
// each layer asks for (rf_weight_set_act_bits: int16 levels by default, u8 where
// asked or calibrated) — hence figures per path. `RANKFN_AVX2_INT8` (read once per process) picks the
// AVX2 int8 kernel and is reported with the path.
import type { BuiltModel } from "../graph/builder";
import { type CompileOptions, compile } from "../compiler/compile";
import { type KeptWeight, keptWeights, narrowedWeights } from "../compiler/quantize";
import { Model } from "../engine/model";
import type { RankRequest } from "../engine/request";
import { type Isa, isa as currentIsa, setIsa } from "../ffi/device";
import { RankfnError } from "../errors";
import { type OutputAccuracy, type ScoreColumns, addColumns, compareColumns, worstOf } from "./score-columns";
export type { OutputAccuracy } from "./score-columns";
import { type RankingRequestOptions, rankingRequests } from "./ranking-requests";

export interface RankingAccuracy {
  /** The CPU code path both models ran on, with the forced AVX2 int8 kernel when RANKFN_AVX2_INT8 is set ("avx2/vpmaddwd"). */
  path: string;
  precision: string;
  tables: string;
  requests: number;
  candidates: number;
  /** Per candidate output column: `ctr`, or `name[c]` for outputs wider than one. */
  outputs: Record<string, OutputAccuracy>;
  /** The worst of the outputs: lowest NDCG@10 and τ, largest |Δscore|. */
  worst: OutputAccuracy;
  /** GEMM weights the quantization left in fp32, and why. */
  keptFp32: KeptWeight[];
  /** int8 GEMM weights whose activations are u8 (the others: 16-bit), and why. */
  u8Activations: KeptWeight[];
}

/** The GEMM weights `target` leaves in fp32 (names as the compiled graph has them), with the reasons. */
export function keptFp32(model: BuiltModel, target: CompileOptions): KeptWeight[] {
  if (!target.precision || target.precision === "f32") return [];
  const graph = compile(model, { ...target, precision: "f32" }).model.graph;
  return keptWeights(graph, { weights: target.precision, headLayers: target.headLayers, keep: target.keep });
}

/** The int8 GEMM weights `target` runs with u8 activations (names as the compiled graph has them), with the reasons. */
export function u8Activations(model: BuiltModel, target: CompileOptions): KeptWeight[] {
  if (target.precision !== "int8") return [];
  const graph = compile(model, { ...target, precision: "f32" }).model.graph;
  return narrowedWeights(graph, { weights: "int8", headLayers: target.headLayers, keep: target.keep, activationBits: target.activationBits, narrow: target.narrow });
}

export interface AccuracyOptions extends RankingRequestOptions {
  /** The requests to score (default: rankingRequests(model, this)). */
  requests?: RankRequest[];
  /** CPU code paths to measure (default: the active one). */
  isas?: Isa[];
  /** NDCG cut-off (default 10). */
  k?: number;
}

function score(model: Model, requests: RankRequest[]): ScoreColumns {
  const out: ScoreColumns = {};
  for (const req of requests) addColumns(out, Object.fromEntries(Object.entries(model.rankSync(req).outputs).map(([name, t]) => [name, { dims: t.shape, data: t.data }])));
  return out;
}

/** The code path name the harness reports for `isa` in this process. */
export function pathName(isa: Isa): string {
  const forced = process.env.RANKFN_AVX2_INT8;
  return isa === "avx2" && forced ? `avx2/${forced}` : isa;
}

/**
 * Score `requests` (default: 8 generated ranking requests of 200 candidates) with `model` compiled at
 * `target` and at fp32, on each CPU path in `isas`; one report per path.
 * @example rankingAccuracy(zoo.dlrm.build({}), { precision: "int8" })[0].worst.ndcg10
 */
export function rankingAccuracy(model: BuiltModel, target: CompileOptions, options: AccuracyOptions = {}): RankingAccuracy[] {
  const requests = options.requests ?? rankingRequests(model, options);
  if (requests.length === 0) throw new RankfnError("rankingAccuracy: no requests to score", "bad_option", 400);
  const k = options.k ?? 10;
  const before = currentIsa().active;
  const isas = options.isas ?? [before];
  const kept = keptFp32(model, target);
  const narrowed = u8Activations(model, target);
  const fp32 = new Model(model, { precision: "f32", tables: "f32" });
  const quant = new Model(model, target);
  try {
    return isas.map((isa) => {
      setIsa(isa);
      const outputs = compareColumns(score(quant, requests), score(fp32, requests), k);
      const first = requests[0]!;
      const candidates = "rows" in first ? Object.values(first.rows)[0]!.shape[0]! : Object.values(first.candidates)[0]!.shape[0]!;
      return { path: pathName(isa), precision: target.precision ?? "f32", tables: target.tables ?? "f32", requests: requests.length, candidates, outputs, worst: worstOf(outputs), keptFp32: kept, u8Activations: narrowed };
    });
  } finally {
    setIsa(before);
    fp32.dispose();
    quant.dispose();
  }
}
