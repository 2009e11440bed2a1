// rankfn's public API: load or build a ranking model, score requests in-process.
import { openModel } from "../runtime/engine/open-model";
import { readModel } from "../runtime/model/model-file";
import { importOnnxFile } from "../runtime/onnx/importer";
import type { BuiltModel } from "../runtime/graph/builder";
import type { CompileOptions } from "../runtime/compiler/compile";
import { setNumThreads } from "../runtime/ffi/device";
import { Model } from "./model";
import type { RankRequest } from "./request";
import { calibrate } from "../runtime/quality/calibrate";
import type { RemoteEmbeddingOptions } from "../runtime/embeddings/remote-tables";
import type { ExpertParallelConfig } from "../runtime/moe/expert-parallel";
import type { KvCacheOptions } from "../runtime/engine/kv-cache";
import type { SequenceParallelConfig } from "../runtime/sequence-parallel/sequence-parallel";
import type { Device } from "../runtime/devices";
import type { ParallelConfig } from "../runtime/parallel/parallel-options";

export interface LoadOptions extends CompileOptions {
  /** Threads of the kernel library's pool (process-wide). */
  threads?: number;
  /** Largest batch (rows) the model accepts. Default 4096. */
  maxBatch?: number;
  /** Compute on a dedicated Worker thread (never blocks this thread's event loop). */
  worker?: boolean;
  /** ONNX files: the inputs that are per request (the rest are per candidate). */
  context?: string[];
  /**
   * ONNX files with dynamic dimensions after the batch (a history length exported with
   * dynamic_axes): each one's largest size, e.g. `{ hist_len: 256 }`. The model is planned per
   * size bucket (powers of two up to it) and each request padded to its bucket.
   */
  dims?: Record<string, number>;
  /**
   * With dims: the padding value (the model's padding id; default 0), side (default "left": most
   * recent event last), and whether a request is padded to its size bucket (default; for models
   * that mask their padding) or always to the largest size (`to: "max"`, for models whose
   * attention sees the padding, like SASRec).
   */
  padding?: { value?: number; side?: "left" | "right"; to?: "bucket" | "max" };
  /** Serve these embedding tables from Redis (hot-row cache → host cache → Redis), e.g. `{ redis: "redis://10.0.0.5:6379", tables: "all" }`. */
  embeddings?: RemoteEmbeddingOptions;
  /** Run MoE layers expert-parallel over devices, e.g. `{ devices: "cpu:2" }` (see ModelOptions.experts). */
  experts?: ExpertParallelConfig;
  /**
   * Sample requests to calibrate a bf16/int8 quantization on (runtime/quality/calibrate.ts): the layers
   * that cost the ranking most on this CPU path stay fp32 until Kendall's τ against fp32 reaches
   * `calibrationTarget` (default 0.99); for int8 on AVX-512 the layers whose activations may be u8
   * (twice the VNNI speed of the default 16-bit) without costing the order are narrowed to 8 bits.
   * Without them every GEMM weight but the output head's last `headLayers` (3) linear layers is
   * quantized, int8 with 16-bit activations. Calibration compiles the model a few times per layer: seconds.
   */
  calibration?: RankRequest[];
  calibrationTarget?: number;
  /**
   * Reuse each user's history K/V across requests (HSTU models): `{ mb: 256 }`, optionally
   * `dtype: "bf16" | "i8"`, `host: { mb, dtype }`, `version`. Requests opt in with `user`.
   */
  kvCache?: KvCacheOptions;
  /**
   * Split a long history's HSTU layers over devices (sequence parallelism): `{ devices: "cpu:2",
   * minLength: 4096 }` (see ModelOptions.sequenceParallel).
   */
  sequenceParallel?: SequenceParallelConfig;
  /** Local devices `parallel` spreads the model over: "cpu:2" (two core groups), "cpu:3x1", "opencl", or opened devices. */
  devices?: string | Device[];
  /**
   * How the model spreads over `devices`, per part, e.g. `{ embeddings: "row" }` shards the
   * embedding tables by row ranges ("table", "row", "column", "replicated"; see ModelOptions.parallel);
   * `{ dense: "tensor" | "replicate" }` splits the chains of linears (tensor-parallel pairs, or row shares).
   */
  parallel?: ParallelConfig;
}

/**
 * Load a model file (safetensors with the graph in its metadata; weights are
 * memory-mapped), an ONNX file (`.onnx`, imported), or a model built in code,
 * and compile it.
 * @example
 * const model = loadModel("dlrm.safetensors", { precision: "int8" });
 * const { outputs } = await model.rank({ context: { ... }, candidates: { ... } });
 */
export function loadModel(source: string | BuiltModel, options: LoadOptions = {}): Model {
  if (options.threads !== undefined) setNumThreads(options.threads);
  const { calibration, calibrationTarget, ...rest } = options;
  let opts: LoadOptions = rest;
  if (calibration && rest.precision && rest.precision !== "f32") {
    // Calibration scores the model itself, so it needs the built graph: read (or import) it once more.
    const onnx = typeof source === "string" && source.endsWith(".onnx");
    const built = typeof source !== "string" ? source : onnx ? importOnnxFile(source, { context: rest.context, dims: rest.dims }) : readModel(source);
    const { keep, narrow } = calibrate(built, calibration, { precision: rest.precision, tables: rest.tables, headLayers: rest.headLayers, keep: rest.keep, activationGroups: rest.activationGroups, maxActivationGroup: rest.maxActivationGroup, activationBits: rest.activationBits, narrow: rest.narrow, tauTarget: calibrationTarget });
    opts = { ...rest, keep: [...(rest.keep ?? []), ...keep], narrow: [...(rest.narrow ?? []), ...narrow] };
  }
  if (typeof source === "string") return openModel(source, opts);
  return new Model(source, opts);
}

export { Model } from "./model";
export type { ModelInspection, ModelStats, TensorInfo } from "./model";
export type { FlatRequest, RankingRequest, RankRequest, RankResponse } from "./request";
export { GraphBuilder } from "../runtime/graph/builder";
export { writeModel, readModel } from "../runtime/model/model-file";
export { tensor } from "../runtime/tensor/tensor";
export type { Tensor } from "../runtime/tensor/tensor";
export { RankfnError, TensorError, KernelError } from "../runtime/errors";
export { RequestError } from "../runtime/errors";
export { zoo, zooNames } from "./zoo";
export { updateEmbeddingRows, type RowUpdate } from "../runtime/embeddings/update-rows";
export { pushTables, type PushOptions } from "../runtime/embeddings/push";
export { RedisEmbeddingStore, RemoteTierError } from "../runtime/embeddings/redis-store";
export type { RemoteEmbeddingOptions, RemoteEmbeddingStats } from "../runtime/embeddings/remote-tables";
export type { KvCacheOptions, KvCacheStats } from "../runtime/engine/kv-cache";
