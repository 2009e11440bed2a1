// A rankfn model file: one safetensors file whose `__metadata__["rankfn.graph"]`
// holds the graph JSON. Reading validates the file, the graph, and that every
// weight the graph names is in the file with the declared dtype and shape.
import type { BuiltModel } from "../graph/builder";
import { inferGraph } from "../graph/infer";
import { type Graph, GraphError, parseGraph } from "../graph/schema";
import type { Tensor } from "../tensor/tensor";
import { ModelFileError, type WriteOptions, readSafetensors, writeSafetensors } from "./safetensors";

export const GRAPH_KEY = "rankfn.graph";

export interface ModelFile extends BuiltModel {
  path: string;
  metadata: Record<string, string>;
  bytes: number;
}

/** Write a graph and its weights as one safetensors file; returns its size in bytes. */
export function writeModel(path: string, model: BuiltModel, options: WriteOptions = {}): number {
  const tensors: Record<string, Tensor> = {};
  for (const name of Object.keys(model.graph.weights)) {
    const t = model.weights.get(name);
    if (!t) throw new GraphError(`writeModel: the graph names weight "${name}" but no tensor was given`);
    tensors[name] = t;
  }
  return writeSafetensors(path, tensors, { ...options, metadata: { ...options.metadata, [GRAPH_KEY]: JSON.stringify(model.graph) } });
}

/** Map and validate a model file (weights stay views of the mapping). */
export function readModel(path: string): ModelFile {
  const file = readSafetensors(path);
  const json = file.metadata[GRAPH_KEY];
  if (json === undefined) throw new ModelFileError(path, `no "${GRAPH_KEY}" entry in __metadata__: not a rankfn model (convert ONNX files with \`rankfn convert\`)`);
  let graph: Graph;
  try {
    graph = parseGraph(JSON.parse(json));
    inferGraph(graph);
  } catch (err) {
    throw new ModelFileError(path, (err as Error).message);
  }
  for (const [name, spec] of Object.entries(graph.weights)) {
    const t = file.tensors.get(name);
    if (!t) throw new ModelFileError(path, `the graph needs weight "${name}", which the file does not contain`);
    if (t.dtype !== spec.dtype || t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelFileError(path, `weight "${name}" is ${t.dtype} [${t.shape.join(", ")}] in the file, the graph declares ${spec.dtype} [${spec.shape.join(", ")}]`);
    }
  }
  return { path, graph, weights: file.tensors, metadata: file.metadata, bytes: file.bytes };
}
