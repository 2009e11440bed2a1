// The table of ONNX operators rankfn imports (what `supportedOps` lists in
// every unsupported-operator error). Every op runs with its ONNX semantics;
// some have a row-wise form tried first (GEMMs with constant weights as
// linears, constants folded into per-column weights), and where it does not
// apply, the general tensor op. Fusions are compiler passes over the result.
import { GraphError } from "../graph/schema";
import { denseConverters } from "./convert-dense";
import { binaryGeneral, castGeneral, elementwiseConverters, unaryGeneral, whereGeneral } from "./convert-elementwise";
import { layerNormGeneral, reduceConverters, reduceGeneral, softmaxGeneral, topKGeneral } from "./convert-reduce";
import { type Converter, shapeConverters } from "./convert-shape";
import { tensorConverters, tensorFallbacks } from "./convert-tensor";
import type { Importer, OnnxNode } from "./importer";
import { embeddingBagLoop } from "./convert-embedding";
import { OnnxError } from "./tensors";

/**
 * The pattern/row-wise converter, and when it refuses the node, the general one
 * (whose error, if it fails too, is the one reported). What the refused attempt
 * emitted (materialised inputs, views) is valid and reused; anything unread is
 * dropped with the dead nodes at the end of the import.
 */
function patternThenGeneral(pattern: Converter, fallback: Converter): Converter {
  return (imp: Importer, node: OnnxNode) => {
    try {
      pattern(imp, node);
    } catch (err) {
      if (!(err instanceof OnnxError || err instanceof GraphError)) throw err;
      fallback(imp, node);
    }
  };
}

const fallbacks: Record<string, Converter> = {
  ...tensorFallbacks,
  Add: binaryGeneral,
  Sub: binaryGeneral,
  Mul: binaryGeneral,
  Div: binaryGeneral,
  Relu: unaryGeneral,
  Sigmoid: unaryGeneral,
  Tanh: unaryGeneral,
  Gelu: unaryGeneral,
  Erf: unaryGeneral,
  Softmax: softmaxGeneral,
  LayerNormalization: layerNormGeneral,
  Where: whereGeneral,
  TopK: topKGeneral,
};

const patterned: Record<string, Converter> = { ...shapeConverters, ...denseConverters };

/** Cast of an activation is a real cast (ids i32 <-> i64 included); constants and shape values fold. */
const cast: Converter = (imp, node) => {
  const v = imp.vals.get(node.input?.[0] ?? "");
  if (v && (v.kind === "const" || v.kind === "sym" || v.kind === "flatIds")) return shapeConverters.Cast!(imp, node);
  castGeneral(imp, node);
};

export const converters: Record<string, Converter> = {
  ...elementwiseConverters,
  ...reduceConverters,
  ...tensorConverters,
  ...Object.fromEntries(Object.entries(patterned).map(([op, convert]) => [op, fallbacks[op] ? patternThenGeneral(convert, fallbacks[op]!) : convert])),
  Cast: cast,
  Loop: embeddingBagLoop,
};

const notes: Record<string, string> = {
  Loop: "Loop (PyTorch's EmbeddingBag)",
};

export const supportedOps: string[] = Object.keys(converters)
  .sort()
  .map((op) => notes[op] ?? op);
