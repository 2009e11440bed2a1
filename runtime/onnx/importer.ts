// ONNX -> rankfn graph. Parses a ModelProto with onnx-proto (no hand-written
// decoder), maps initializers to weights and graph inputs to context/candidate
// inputs, and converts nodes through the converter tables (convert-*.ts).
// Every op in the supported set runs with its ONNX semantics on the general
// tensor ops of the IR (runtime/onnx/general.ts); GEMMs with constant weights
// map to linears. The fused ops real exports need are compiler passes over
// that graph (runtime/compiler/): EmbeddingBag Loops and Gather -> Reduce to
// embedding_bag, bmm(T, Tᵀ) + triangular gather to dot_interaction, the erf
// GELU to gelu, gate ⊙ stacked experts to mixture, attention, DCN cross.
// Values are stored batch-major, one row per candidate; the importer tracks
// each ONNX value's dims per row, and where the batch moved inside the shape
// (attention's [L, N, E]) its place (batch-layout.ts). Shape arithmetic
// (Shape, Gather, Concat, Range…) is evaluated symbolically in the batch size
// and constant subgraphs fold. Anything else fails at load, naming the op,
// the node and what is supported.
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { onnx } from "onnx-proto";
import type { BuiltModel } from "../graph/builder";
import { inferGraph } from "../graph/infer";
import { type OpInput, type ValueType, ops } from "../graph/ops";
import { type Graph, type GraphInput, type Node, parseGraph } from "../graph/schema";
import type { Tensor } from "../tensor/tensor";
import { converters, supportedOps } from "./converters";
import { materialize } from "./general";
import { ONNX, OnnxError, initializerTensor, num } from "./tensors";
import type { RowDType, Val } from "./values";

export { supportedOps };

export interface OnnxImportOptions {
  /** Inputs that are per request (user, query, page); the rest are per candidate. */
  context?: string[];
  /** Folder external data files are read from (default: the model file's). */
  modelDir?: string;
  name?: string;
  /** Progress while initializers (weights) are read: bytes done of the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Values of the inputs' dynamic dimensions after the batch (dim_params such as "hist_len"):
   * the graph is imported for exactly these sizes (rankfn plans one import per size bucket).
   */
  dims?: Record<string, number>;
  /** Initializers already read from this file, by name (shared between imports of several sizes). */
  initializers?: Map<string, Tensor>;
}

/** A dynamic dimension after the batch: input `input`'s dimension `axis` (1 = the first after the batch), named `param`. */
export interface DynamicDim {
  input: string;
  axis: number;
  param: string;
}

/** An ONNX file's bytes decoded (once: several imports of one file share it). */
export function decodeOnnx(bytes: Uint8Array): onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxError(`not an ONNX model: ${(err as Error).message}`);
  }
}

/** The dynamic dimensions after the batch of a model's inputs (what `dims` must give sizes for). */
export function dynamicDims(model: onnx.ModelProto): DynamicDim[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).flatMap((input) =>
    inits.has(input.name)
      ? []
      : (input.type?.tensorType?.shape?.dim ?? []).flatMap((d, axis) => (axis > 0 && !(num(d.dimValue) > 0) ? [{ input: input.name!, axis, param: d.dimParam || `${input.name}:${axis}` }] : [])),
  );
}

/** Import an ONNX file's bytes as a rankfn model (graph + weights + which patterns fired). */
export function importOnnx(source: Uint8Array | onnx.ModelProto, options: OnnxImportOptions = {}): BuiltModel {
  const model = source instanceof Uint8Array ? decodeOnnx(source) : source;
  const opset = num(model.opsetImport.find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
  if (opset < 13 || opset > 21) throw new OnnxError(`opset ${opset} is not supported (13 to 21)`);
  const g = model.graph;
  if (!g) throw new OnnxError("the model has no graph");
  // Exporters may name the context inputs in metadata; the option wins.
  const fromMetadata = model.metadataProps?.find((p) => p.key === "rankfn.context")?.value;
  const context = options.context ?? (fromMetadata ? fromMetadata.split(",").map((s) => s.trim()).filter(Boolean) : []);
  return new Importer(g, { ...options, context }, opset).run();
}

export type OnnxNode = onnx.INodeProto;

/** Values per row an input may have (2^24: 64 MB of f32 per candidate). */
const MAX_ROW_VALUES = 2 ** 24;

/** The conversion state every converter works on. */
export class Importer {
  readonly vals = new Map<string, Val>();
  readonly weights = new Map<string, Tensor>();
  readonly nodes: Node[] = [];
  readonly inputs: GraphInput[] = [];
  /** Pattern -> how many times it fired (reported under RANKFN_DEBUG=1 and in inspect()). */
  readonly patterns = new Map<string, number>();
  readonly nodeNames = new Set<string>();
  /** The IR type of every rankfn value emitted so far (inferred as each node is emitted). */
  readonly types = new Map<string, ValueType>();
  /** Reshapes already emitted to give a value the dims its ONNX consumers see: "value|dims" -> view. */
  readonly views = new Map<string, string>();
  counter = 0;

  constructor(
    readonly g: onnx.IGraphProto,
    readonly options: OnnxImportOptions,
    readonly opset: number,
  ) {}

  get modelDir(): string {
    return this.options.modelDir ?? ".";
  }

  run(): BuiltModel {
    const inits = this.g.initializer ?? [];
    const sizes = inits.map((t) => (t.dims ?? []).map(num).reduce((a, b) => a * b, 1) * (t.dataType === ONNX.INT64 || t.dataType === ONNX.DOUBLE ? 8 : t.dataType === ONNX.BOOL ? 1 : 4));
    const total = sizes.reduce((a, b) => a + b, 0);
    let done = 0;
    const shared = this.options.initializers;
    inits.forEach((init, i) => {
      let t = shared?.get(init.name!);
      if (!t) {
        t = initializerTensor(init, this.modelDir);
        shared?.set(init.name!, t);
      }
      this.setConst(init.name!, t, (init.dims ?? []).map(num));
      this.options.onProgress?.((done += sizes[i]!), total);
    });
    if (inits.length === 0) this.options.onProgress?.(0, 0);
    const context = new Set(this.options.context ?? []);
    for (const input of this.g.input ?? []) {
      if (this.vals.has(input.name!)) continue;
      this.inputs.push(this.graphInput(input, context.has(input.name!)));
    }
    for (const c of context) if (!this.inputs.some((i) => i.name === c)) throw new OnnxError(`context input "${c}" is not an input of the graph (inputs: ${this.inputs.map((i) => i.name).join(", ")})`);
    (this.g.node ?? []).forEach((node) => {
      // A custom-domain op only shares its name with the ONNX one; converting it as that would be a silent lie.
      if (node.domain && node.domain !== "ai.onnx") this.fail(node, `operator of domain "${node.domain}" is not supported (only the default ONNX domain)`);
      const convert = converters[node.opType ?? ""];
      if (!convert) this.fail(node, `unsupported operator (supported: ${supportedOps.join(", ")})`);
      convert(this, node);
    });
    const outputs: Record<string, string> = {};
    for (const o of this.g.output ?? []) {
      const v = this.vals.get(o.name!);
      if (v?.kind === "tensor" && v.layout) throw new OnnxError(`graph output "${o.name}" has the batch inside axis ${v.layout.axis} of its shape; rankfn outputs are [N, ...], one row per candidate`);
      if (!v || v.kind !== "tensor" || this.inputs.some((i) => i.name === v.value)) throw new OnnxError(`graph output "${o.name}" is not produced by a supported node`);
      if (v.dtype !== "f32") throw new OnnxError(`graph output "${o.name}" holds ${v.dtype} values; rankfn outputs are float (cast it to float in the model)`);
      outputs[o.name!] = v.value;
    }
    // Nodes no output reads (views a converter emitted and nothing used, a refused row-wise attempt) go now.
    const live = new Set(Object.values(outputs));
    const nodes = this.nodes.toReversed().filter((n) => n.outputs.some((o) => live.has(o)) && (n.inputs.forEach((i) => live.add(i)), true)).reverse();
    const graph: Graph = parseGraph({
      format: "rankfn.graph/1",
      name: this.options.name ?? (this.g.name || "onnx"),
      inputs: this.inputs,
      weights: Object.fromEntries([...this.weights].filter(([n]) => live.has(n)).map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }])),
      nodes,
      outputs,
    });
    inferGraph(graph);
    const notes = [...this.patterns].map(([p, n]) => `${p}${n > 1 ? ` (×${n})` : ""}`);
    return { graph, weights: new Map([...this.weights].filter(([n]) => live.has(n))), notes: notes.length ? [`onnx-import: ${notes.join("; ")}`] : ["onnx-import: no patterns rewritten"] };
  }

  graphInput(v: onnx.IValueInfoProto, isContext: boolean): GraphInput {
    const t = v.type?.tensorType;
    const elem = t?.elemType ?? 0;
    const dtype = elem === ONNX.FLOAT ? "f32" : elem === ONNX.INT64 ? "i64" : elem === ONNX.INT32 ? "i32" : elem === ONNX.BOOL ? "bool" : undefined;
    if (!dtype) throw new OnnxError(`input "${v.name}": element type ${elem} is not supported (float, int32, int64, bool)`);
    // A dynamic dimension after the batch takes the size this import is for (options.dims).
    const dims = (t!.shape?.dim ?? []).slice(1).map((d, i) => {
      const fixed = num(d.dimValue);
      if (fixed > 0) return fixed;
      const param = d.dimParam || `${v.name}:${i + 1}`;
      const size = this.options.dims?.[param];
      if (size === undefined) throw new OnnxError(`input "${v.name}": dimension ${i + 1} is dynamic ("${param}"); give its largest size to load it (loadModel(path, { dims: { "${param}": 64 } }))`);
      if (!(Number.isSafeInteger(size) && size > 0)) throw new OnnxError(`dims["${param}"]: expected a positive integer, got ${size}`);
      return size;
    });
    if ((t!.shape?.dim ?? []).length < 1) throw new OnnxError(`input "${v.name}": expected [batch, ...] with the batch first, got a scalar`);
    const width = dims.reduce((a, b) => a * b, 1);
    // A row that wide is a corrupt shape, not a feature: refuse it before anything is sized by it.
    if (width > MAX_ROW_VALUES) throw new OnnxError(`input "${v.name}": [batch, ${dims.join(", ")}] is ${width} values per row, more than rankfn takes (${MAX_ROW_VALUES})`);
    this.vals.set(v.name!, { kind: "tensor", value: v.name!, dims, dtype });
    this.types.set(v.name!, { dtype, shape: [width] });
    return { name: v.name!, dtype, shape: [width], role: isContext ? "context" : "candidate" };
  }

  // ------------------------------------------------------------------ values

  get(name: string, node: OnnxNode): Val {
    const v = this.vals.get(name);
    if (!v) this.fail(node, `input "${name}" is not produced by a supported node`);
    return v;
  }

  set(name: string, v: Val): void {
    this.vals.set(name, v);
  }

  setConst(name: string, t: Tensor, dims: number[]): void {
    this.vals.set(name, { kind: "const", t, dims });
  }

  /** A per-row tensor; lazy pattern values explain what they can feed instead. */
  tensor(name: string, node: OnnxNode, dtypes: string[] = ["f32"], anyLayout = false): Extract<Val, { kind: "tensor" }> {
    const raw = this.get(name, node);
    if (raw.kind === "const" || raw.kind === "sym") this.fail(node, `input "${name}" ${describe(raw)} where a per-row tensor is expected`);
    const v = materialize(this, name, node);
    // Row-wise patterns read batch-first values only; the general converters map the axes of the others.
    if (v.layout && !anyLayout) this.fail(node, `input "${name}" holds the batch at axis ${v.layout.axis} of its shape, where a batch-first value is expected`);
    if (!dtypes.includes(v.dtype)) this.fail(node, `input "${name}" holds ${v.dtype} values, expected ${dtypes.join(" or ")}`);
    return v;
  }

  constant(name: string | undefined): { t: Tensor; dims: number[] } | undefined {
    const v = name ? this.vals.get(name) : undefined;
    return v?.kind === "const" ? v : undefined;
  }

  // ------------------------------------------------------------------ emitting

  /** A weight from a constant (its name kept), registered once. */
  weight(name: string, t: Tensor): string {
    if (!this.weights.has(name)) this.weights.set(name, t);
    return name;
  }

  derived(base: string, t: Tensor): string {
    const name = `${base}:${this.counter++}`;
    this.weights.set(name, t);
    return name;
  }

  /** Emit a rankfn node producing ONNX value `out` (per-row dims `dims`). */
  emit(op: string, inputs: string[], out: string, dims: number[], attrs: Record<string, unknown> = {}, node?: OnnxNode, dtype: RowDType = "f32"): void {
    this.emitOutputs(op, inputs, [{ name: out, dims, dtype }], attrs, node);
  }

  /** Emit a rankfn node with several outputs, each an ONNX value (an unnamed one gets a fresh name). */
  emitOutputs(op: string, inputs: string[], outs: { name: string; dims: number[]; dtype: RowDType }[], attrs: Record<string, unknown> = {}, node?: OnnxNode): string[] {
    let name = node?.name || `${op}_${this.nodes.length}`;
    if (this.nodeNames.has(name)) name = `${name}:${this.counter++}`;
    this.nodeNames.add(name);
    const values = outs.map((o) => {
      const onnxName = o.name || `${name}:out${this.counter++}`;
      const value = this.vals.has(onnxName) || this.weights.has(onnxName) ? `${onnxName}:${this.counter++}` : onnxName;
      this.vals.set(onnxName, { kind: "tensor", value, dims: o.dims, dtype: o.dtype });
      return value;
    });
    const made = { name, op, inputs, outputs: values, attrs };
    this.inferTypes(made).forEach((t, i) => this.types.set(values[i]!, t));
    this.nodes.push(made);
    return values;
  }

  /** IR types of a node's outputs from its op's shape inference (a GraphError names the node). */
  inferTypes(node: Node): ValueType[] {
    const def = ops[node.op];
    if (!def) throw new OnnxError(`internal: op "${node.op}" is not in the graph IR`);
    const inputs = node.inputs.map((name): OpInput => {
      const w = this.weights.get(name);
      if (w) return { kind: "weight", name, spec: { dtype: w.dtype, shape: w.shape } };
      const t = this.types.get(name);
      if (!t) throw new OnnxError(`internal: value "${name}" read by "${node.name}" has no type`);
      return { kind: "value", name, type: t };
    });
    return def.infer(inputs, def.attrs.parse(node.attrs), node);
  }

  /** Emit an intermediate node (no ONNX name); returns its rankfn value. */
  temp(op: string, inputs: string[], width: number, attrs: Record<string, unknown> = {}, hint = op): string {
    const out = `${hint}:t${this.counter++}`;
    this.emit(op, inputs, out, [width], attrs);
    return (this.vals.get(out) as Extract<Val, { kind: "tensor" }>).value;
  }

  fired(pattern: string): void {
    this.patterns.set(pattern, (this.patterns.get(pattern) ?? 0) + 1);
  }

  // ------------------------------------------------------------------ attributes

  /** The named attribute; with `type`, one of another declared type fails (an unset type, from old exporters, is trusted). */
  attr(node: OnnxNode, name: string, type?: onnx.AttributeProto.AttributeType): onnx.IAttributeProto | undefined {
    const a = (node.attribute ?? []).find((x) => x.name === name);
    if (a && type !== undefined && a.type && a.type !== type) {
      const names = onnx.AttributeProto.AttributeType as unknown as Record<number, string>;
      this.fail(node, `attribute "${name}" is of type ${names[a.type] ?? a.type}, expected ${names[type]}`);
    }
    return a;
  }

  intAttr(node: OnnxNode, name: string, fallback: number): number {
    const a = this.attr(node, name, onnx.AttributeProto.AttributeType.INT);
    return a ? num(a.i) : fallback;
  }

  floatAttr(node: OnnxNode, name: string, fallback: number): number {
    const a = this.attr(node, name, onnx.AttributeProto.AttributeType.FLOAT);
    return a ? (a.f ?? fallback) : fallback;
  }

  intsAttr(node: OnnxNode, name: string): number[] | undefined {
    const a = this.attr(node, name, onnx.AttributeProto.AttributeType.INTS);
    return a ? (a.ints ?? []).map(num) : undefined;
  }

  stringAttr(node: OnnxNode, name: string, fallback: string): string {
    const s = this.attr(node, name, onnx.AttributeProto.AttributeType.STRING)?.s;
    return s && s.length ? new TextDecoder().decode(s) : fallback;
  }

  fail(node: OnnxNode, message: string): never {
    throw new OnnxError(`node "${node.name || "(unnamed)"}" (${node.opType}): ${message}`);
  }
}

function describe(v: Val): string {
  return v.kind === "const" ? "is a constant" : v.kind === "sym" ? "is shape arithmetic that depends on the batch size (an integer vector)" : "is a tensor";
}

/** An ONNX file's bytes, and the import options its place implies (external data next to it, its name). */
export function readOnnxFile(path: string): { bytes: Uint8Array; modelDir: string; name: string } {
  try {
    return { bytes: readFileSync(path), modelDir: dirname(path), name: basename(path).replace(/\.onnx$/, "") };
  } catch (err) {
    throw new OnnxError(`${path}: cannot read (${(err as Error).message})`);
  }
}

/** Read an ONNX file (external data next to it). */
export function importOnnxFile(path: string, options: OnnxImportOptions = {}): BuiltModel {
  const { bytes, modelDir, name } = readOnnxFile(path);
  return importOnnx(bytes, { modelDir, name: options.name ?? name, ...options });
}
