// The table of ONNX operators rankfn imports (what `supportedOps` lists in
// every unsupported-operator error).
import { denseConverters } from "./convert-dense";
import { type Converter, shapeConverters } from "./convert-shape";
import { embeddingBagLoop } from "./pattern-embedding";

export const converters: Record<string, Converter> = {
  ...shapeConverters,
  ...denseConverters,
  Loop: embeddingBagLoop,
};

const notes: Record<string, string> = {
  Erf: "Erf (in the GELU pattern)",
  Loop: "Loop (PyTorch's EmbeddingBag)",
  Where: "Where (constant condition)",
  Transpose: "Transpose (of constants, and in the DLRM interaction)",
};

export const supportedOps: string[] = Object.keys(converters)
  .sort()
  .map((op) => notes[op] ?? op);
