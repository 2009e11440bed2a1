// Opens a model file as a Model: a rankfn model file (safetensors with the
// graph in its metadata; weights memory-mapped) or an ONNX file, imported.
// An ONNX file whose inputs have dynamic dimensions after the batch (a history
// length, exported with dynamic_axes) is planned per size bucket: `dims` gives
// each one's largest size, and each bucket is imported on first use, sharing
// the file's initializers.
import { readModel } from "../model/model-file";
import { OnnxError } from "../onnx/tensors";
import { type OnnxImportOptions, decodeOnnx, dynamicDims, importOnnx, readOnnxFile } from "../onnx/importer";
import type { Tensor } from "../tensor/tensor";
import { Model, type ModelOptions } from "./model";
import type { ShapeBucketOptions } from "./shape-buckets";

export interface OpenOptions extends ModelOptions {
  /** ONNX files: the inputs that are per request (the rest are per candidate). */
  context?: string[];
  /** ONNX files: the largest size of each dynamic dimension after the batch, e.g. `{ hist_len: 256 }`. */
  dims?: Record<string, number>;
  /**
   * ONNX files with dims: how short inputs are padded (default `{ value: 0, side: "left", to: "bucket" }`).
   * `to: "bucket"` pads to the smallest size bucket that holds the request (for models that mask
   * their padding); `to: "max"` always to the largest size (for models that see the padding, as
   * SASRec's attention does: the size they were trained at).
   */
  padding?: { value?: number; side?: "left" | "right"; to?: "bucket" | "max" };
  /** ONNX files: progress while the weights are read. */
  onProgress?: OnnxImportOptions["onProgress"];
}

/** Open `path` (`.onnx` is imported; anything else is a rankfn model file). */
export function openModel(path: string, options: OpenOptions = {}): Model {
  const { context, dims, padding, onProgress, ...modelOptions } = options;
  if (!path.endsWith(".onnx")) return new Model(readModel(path), { ...modelOptions, path });
  const { bytes, modelDir, name } = readOnnxFile(path);
  const base: OnnxImportOptions = { context, modelDir, name, onProgress };
  // Decoded once: every size bucket's import reads the same ModelProto.
  const proto = decodeOnnx(bytes);
  const dynamic = dynamicDims(proto);
  if (dynamic.length === 0) return new Model(importOnnx(proto, { ...base, dims }), modelOptions);
  const missing = [...new Set(dynamic.map((d) => d.param))].filter((p) => dims?.[p] === undefined);
  if (missing.length) {
    const which = dynamic.filter((d) => missing.includes(d.param)).map((d) => `input "${d.input}" dimension ${d.axis} ("${d.param}")`);
    throw new OnnxError(`${path}: ${which.join(", ")} ${which.length > 1 ? "are" : "is"} dynamic; give the largest size to plan for: loadModel(path, { dims: { ${missing.map((p) => `"${p}": 256`).join(", ")} } })`);
  }
  // The file's initializers are read once and shared by every size bucket's import.
  const initializers = new Map<string, Tensor>();
  const largest = importOnnx(proto, { ...base, dims, initializers });
  const buckets: ShapeBucketOptions = { max: dims!, pad: padding?.value, side: padding?.side, ...(padding?.to === "max" ? { minSize: Number.POSITIVE_INFINITY } : {}) };
  const build = (sizes: Record<string, number>) => (Object.keys(sizes).every((k) => sizes[k] === dims![k]) ? largest : importOnnx(proto, { ...base, dims: { ...dims, ...sizes }, initializers }));
  return new Model(largest, { ...modelOptions, shapes: { dims: dynamic, buckets, build } });
}
