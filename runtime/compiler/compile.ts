// The compiler pipeline: validation, lowering, folding, strength reduction and
// common subexpressions, fusion (GELU, mixtures, the DLRM interaction, GEMMs,
// cross, pooled lookups, multi-head and HSTU pointwise attention), DCE, quantization and concat
// elimination. Memory planning happens per batch-size
// bucket when the executor builds a plan (runtime/engine/plan.ts).
import type { BuiltModel } from "../graph/builder";
import { eliminateConcat } from "./eliminate-concat";
import { eliminateDeadCode } from "./eliminate-dead-code";
import { foldConstants } from "./fold-constants";
import { fuseAttention } from "./fuse-attention";
import { fuseCross } from "./fuse-cross";
import { fuseEmbeddings } from "./fuse-embeddings";
import { fuseGelu } from "./fuse-gelu";
import { fuseHstuAttention } from "./fuse-hstu-attention";
import { fuseInteraction } from "./fuse-interaction";
import { fuseLinear } from "./fuse-linear";
import { fuseLookupPool } from "./fuse-lookup-pool";
import { fuseMixture } from "./fuse-mixture";
import { inferShapes } from "./infer-shapes";
import { insertBroadcast } from "./insert-broadcast";
import { type Pass, debugEnabled, runPasses } from "./pass";
import { simplifyArithmetic } from "./simplify-arithmetic";
import { splitHistoryTokens } from "./split-history-tokens";
import { type KeptWeight, type TablePrecision, type WeightPrecision, quantize } from "./quantize";

export interface CompileOptions {
  /** GEMM weight precision (default f32). */
  precision?: WeightPrecision;
  /** Embedding table precision (default: f32, or the stored one). */
  tables?: TablePrecision;
  /** Linear layers at the end of each output head kept fp32 when quantizing (default 3). */
  headLayers?: number;
  /**
   * Further GEMM weights kept fp32 when quantizing, by name or with a reason: what calibration on
   * sample requests chose (runtime/quality/calibrate.ts; the SDK's `loadModel(path, { calibration })`).
   */
  keep?: (string | KeptWeight)[];
  /** int8: one activation range per concatenated segment ("segments", default) or per row (compiler/activation-groups.ts). */
  activationGroups?: "segments" | "row";
  /** int8: split activation groups longer than this many columns (group-wise scales over long K). */
  maxActivationGroup?: number;
  /**
   * int8: the fewest bits activations are quantized to, per row (rankfn.h, rf_weight_set_act_bits): 16
   * (default) keeps the ranking (DLRM-v2 NDCG@10 0.9989 against 0.938 with u8); 8 is the VNNI u8 path,
   * ~2x faster per GEMM on AVX-512 and coarser. `narrow` lists weights that get 8 bits whatever the
   * default: what calibration found harmless (runtime/quality/calibrate.ts).
   */
  activationBits?: 8 | 16;
  narrow?: (string | KeptWeight)[];
  /** false: only the lowering execution needs (for comparing against the optimised graph). */
  optimize?: boolean;
}

export function compilePasses({ precision = "f32", tables = "f32", headLayers, keep, activationGroups, maxActivationGroup, activationBits, narrow, optimize = true }: CompileOptions = {}): Pass[] {
  const lowering = [inferShapes, insertBroadcast];
  if (!optimize) return lowering;
  return [...lowering, foldConstants, simplifyArithmetic, fuseGelu, fuseMixture, fuseInteraction, fuseLinear, fuseCross, fuseLookupPool, fuseAttention, fuseHstuAttention, splitHistoryTokens, eliminateDeadCode, fuseEmbeddings, quantize({ weights: precision, tables, headLayers, keep, activationGroups, maxActivationGroup, activationBits, narrow }), eliminateConcat];
}

/** Compile a model; `summaries` holds one line per pass (printed under RANKFN_DEBUG=1). */
export function compile(model: BuiltModel, options: CompileOptions = {}): { model: BuiltModel; summaries: string[] } {
  const notes = model.notes ?? [];
  if (debugEnabled()) for (const line of notes) console.error(`[rankfn compile] ${line}`);
  const result = runPasses(model, compilePasses(options));
  return { model: result.model, summaries: [...notes, ...result.summaries] };
}
