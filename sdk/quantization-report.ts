// How much quantization costs, in the SDK's terms: the one accuracy harness
// (runtime/quality/ranking-accuracy.ts) on generated ranking requests (1 user ×
// 200 candidates, Zipf ids, log-count dense features), summarised for the
// CLI, the benchmarks and the examples.
import type { BuiltModel } from "../runtime/graph/builder";
import type { CompileOptions } from "../runtime/compiler/compile";
import type { KeptWeight, TablePrecision, WeightPrecision } from "../runtime/compiler/quantize";
import type { Isa } from "../runtime/ffi/device";
import { type OutputAccuracy, type RankingAccuracy, rankingAccuracy } from "../runtime/quality/ranking-accuracy";

export { kendallTau, maxAbsDelta, ndcgAtK } from "../runtime/quality/ranking-metrics";

export interface QuantizationReport {
  precision: WeightPrecision;
  tables: TablePrecision;
  /** The CPU code path measured (see RankingAccuracy.path). */
  path: string;
  requests: number;
  candidates: number;
  /** max |score_quantized − score_fp32| over every output and candidate. */
  maxAbsDelta: number;
  /** Mean NDCG@10 of the quantized ranking, per output column. */
  ndcg10: Record<string, number>;
  /** Mean Kendall's τ of the quantized candidate order, per output column. */
  kendallTau: Record<string, number>;
  /** Everything the harness measured, per output column. */
  outputs: Record<string, OutputAccuracy>;
  /** GEMM weights left in fp32, and why (output head, kept by name, calibration). */
  keptFp32: KeptWeight[];
  /** int8: the GEMM weights whose activations are u8, and why (activationBits 8, narrowed by name or calibration); the others have 16-bit activations. */
  u8Activations: KeptWeight[];
}

export interface QuantizationReportOptions extends Omit<CompileOptions, "precision" | "tables"> {
  precision: WeightPrecision;
  tables?: TablePrecision;
  requests?: number;
  candidates?: number;
  seed?: number;
}

function summarise(r: RankingAccuracy, precision: WeightPrecision, tables: TablePrecision): QuantizationReport {
  const pick = (f: (o: OutputAccuracy) => number) => Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, f(o)]));
  return { precision, tables, path: r.path, requests: r.requests, candidates: r.candidates, maxAbsDelta: r.worst.maxAbsDelta, ndcg10: pick((o) => o.ndcg10), kendallTau: pick((o) => o.kendallTau), outputs: r.outputs, keptFp32: r.keptFp32, u8Activations: r.u8Activations };
}

/** The quantized model against fp32 on the active CPU path (one report), or on each of `isas`. */
export function quantizationReport(built: BuiltModel, options: QuantizationReportOptions): QuantizationReport;
export function quantizationReport(built: BuiltModel, options: QuantizationReportOptions, isas: Isa[]): QuantizationReport[];
export function quantizationReport(built: BuiltModel, options: QuantizationReportOptions, isas?: Isa[]): QuantizationReport | QuantizationReport[] {
  const { precision, tables = "f32", requests = 8, candidates = 200, seed = 1, ...compile } = options;
  const reports = rankingAccuracy(built, { ...compile, precision, tables }, { count: requests, candidates, seed, isas }).map((r) => summarise(r, precision, tables));
  return isas ? reports : reports[0]!;
}
