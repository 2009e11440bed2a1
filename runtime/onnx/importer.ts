// ONNX -> rankfn graph. Parses a ModelProto with onnx-proto (no hand-written
// decoder), maps initializers to weights and graph inputs to context/candidate
// inputs, and converts nodes, rewriting the patterns exporters produce:
//   Gather(table, ids) -> ReduceSum/ReduceMean(axis 1)   => embedding_bag (sum/mean)
//   Gather(table, ids[N,1]) -> Flatten/Squeeze/Reshape   => embedding_bag (gather)
//   Gemm / MatMul(+Add)(+activation)                     => linear, fused by the compiler
// Anything else fails at load, naming the op, the node and what is supported.
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { onnx } from "onnx-proto";
import type { BuiltModel } from "../graph/builder";
import { inferGraph } from "../graph/infer";
import { type Graph, type GraphInput, type Node, parseGraph } from "../graph/schema";
import { type Tensor, tensor } from "../tensor/tensor";
import { ONNX, OnnxError, initializerTensor, num } from "./tensors";

export interface OnnxImportOptions {
  /** Inputs that are per request (user, query, page); the rest are per candidate. */
  context?: string[];
  /** Folder external data files are read from (default: the model file's). */
  modelDir?: string;
  name?: string;
}

export const supportedOps = [
  "Add", "BatchNormalization", "Cast", "Concat", "Constant", "Div", "Flatten", "Gather (into ReduceSum/ReduceMean/Flatten/Squeeze/Reshape)", "Gelu", "Gemm",
  "Identity", "LayerNormalization", "MatMul", "Mul", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Sigmoid", "Softmax", "Squeeze", "Sub", "Tanh",
  "Transpose (of a constant weight)",
];

/** Import an ONNX file's bytes as a rankfn model (graph + weights). */
export function importOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): BuiltModel {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxError(`not an ONNX model: ${(err as Error).message}`);
  }
  const opset = num(model.opsetImport.find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
  if (opset < 13 || opset > 21) throw new OnnxError(`opset ${opset} is not supported (13 to 21)`);
  const g = model.graph;
  if (!g) throw new OnnxError("the model has no graph");
  return new Importer(g, options).run();
}

class Importer {
  readonly consts = new Map<string, Tensor>();
  readonly weights = new Map<string, Tensor>();
  readonly nodes: Node[] = [];
  readonly inputs: GraphInput[] = [];
  readonly consumed = new Set<onnx.INodeProto>();
  readonly consumers = new Map<string, onnx.INodeProto[]>();
  /** Per-row width of every value produced so far (graph inputs included). */
  readonly widths = new Map<string, number>();
  /** ONNX value -> the rankfn value it is (pass-through ops make no node). */
  readonly alias = new Map<string, string>();
  counter = 0;

  constructor(
    readonly g: onnx.IGraphProto,
    readonly options: OnnxImportOptions,
  ) {}

  run(): BuiltModel {
    const dir = this.options.modelDir ?? ".";
    for (const init of this.g.initializer ?? []) this.consts.set(init.name!, initializerTensor(init, dir));
    for (const node of this.g.node ?? []) for (const i of node.input ?? []) this.consumers.set(i, [...(this.consumers.get(i) ?? []), node]);
    const context = new Set(this.options.context ?? []);
    for (const input of this.g.input ?? []) {
      if (this.consts.has(input.name!)) continue;
      this.inputs.push(this.graphInput(input, context.has(input.name!)));
    }
    for (const c of context) if (!this.inputs.some((i) => i.name === c)) throw new OnnxError(`context input "${c}" is not an input of the graph (inputs: ${this.inputs.map((i) => i.name).join(", ")})`);
    (this.g.node ?? []).forEach((node, i) => {
      if (!this.consumed.has(node)) this.convert(node, i);
    });
    const outputs: Record<string, string> = {};
    for (const o of this.g.output ?? []) {
      const value = this.alias.get(o.name!) ?? o.name!;
      if (!this.widths.has(value) || this.inputs.some((i) => i.name === value)) throw new OnnxError(`graph output "${o.name}" is not produced by a supported node`);
      outputs[o.name!] = value;
    }
    const graph: Graph = parseGraph({
      format: "rankfn.graph/1",
      name: this.options.name ?? (this.g.name || "onnx"),
      inputs: this.inputs,
      weights: Object.fromEntries([...this.weights].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }])),
      nodes: this.nodes,
      outputs,
    });
    inferGraph(graph);
    return { graph, weights: this.weights };
  }

  graphInput(v: onnx.IValueInfoProto, isContext: boolean): GraphInput {
    const t = v.type?.tensorType;
    const elem = t?.elemType ?? 0;
    const dtype = elem === ONNX.FLOAT ? "f32" : elem === ONNX.INT64 ? "i64" : elem === ONNX.INT32 ? "i32" : undefined;
    if (!dtype) throw new OnnxError(`input "${v.name}": element type ${elem} is not supported (float, int32, int64)`);
    const dims = t!.shape?.dim ?? [];
    if (dims.length < 1 || dims.length > 2) throw new OnnxError(`input "${v.name}": expected [batch] or [batch, width], got rank ${dims.length}`);
    const width = dims.length === 2 ? num(dims[1]!.dimValue) : 1;
    if (!(width > 0)) throw new OnnxError(`input "${v.name}": the width (second dimension) must be a fixed number`);
    this.widths.set(v.name!, width);
    return { name: v.name!, dtype, shape: [width], role: isContext ? "context" : "candidate" };
  }

  /** A weight from a constant (its name kept), registered once. */
  weight(name: string, t = this.consts.get(name)!): string {
    if (!this.weights.has(name)) this.weights.set(name, t);
    return name;
  }

  derived(base: string, t: Tensor): string {
    const name = `${base}:${this.counter++}`;
    this.weights.set(name, t);
    return name;
  }

  emit(op: string, inputs: string[], output: string, width: number, attrs: Record<string, unknown> = {}, name?: string): void {
    this.nodes.push({ name: name || `${op}_${this.nodes.length}`, op, inputs, outputs: [output], attrs });
    this.widths.set(output, width);
  }

  value(onnxName: string, node: onnx.INodeProto): string {
    const name = this.alias.get(onnxName) ?? onnxName;
    if (!this.widths.has(name)) throw new OnnxError(`node "${node.name || node.opType}" (${node.opType}): input "${name}" is a constant or unknown where a tensor is expected`);
    return name;
  }

  attr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
    return (node.attribute ?? []).find((a) => a.name === name);
  }

  intAttr(node: onnx.INodeProto, name: string, fallback: number): number {
    const a = this.attr(node, name);
    return a ? num(a.i) : fallback;
  }

  fail(node: onnx.INodeProto, message: string): never {
    throw new OnnxError(`node "${node.name || "(unnamed)"}" (${node.opType}): ${message}`);
  }

  convert(node: onnx.INodeProto, index: number): void {
    const ins = node.input ?? [];
    const out = node.output?.[0] ?? "";
    const nm = node.name || `${node.opType}_${index}`;
    switch (node.opType) {
      case "Constant": {
        const t = this.attr(node, "value")?.t;
        if (!t) this.fail(node, "only the tensor `value` form is supported");
        this.consts.set(out, initializerTensor(t, this.options.modelDir ?? "."));
        return;
      }
      case "Identity":
      case "Flatten":
      case "Squeeze":
      case "Reshape":
        return this.passThrough(node, ins[0]!, out);
      case "Cast": {
        // Casts between id types, or float to float, change nothing rankfn stores per row.
        const to = this.intAttr(node, "to", 0);
        const x = this.alias.get(ins[0]!) ?? ins[0]!;
        const from = this.inputs.find((i) => i.name === x)?.dtype ?? "f32";
        const ok = to === ONNX.FLOAT ? from === "f32" : to === ONNX.INT64 || to === ONNX.INT32 ? from !== "f32" : false;
        if (!ok) this.fail(node, `cast from ${from} to type ${to} is not supported (only id-to-id and float-to-float)`);
        return this.passThrough(node, ins[0]!, out);
      }
      case "Transpose": {
        // Exporters transpose weights (nn.Linear): fold it on the constant.
        const w = this.consts.get(ins[0]!);
        if (!w || w.shape.length !== 2 || w.dtype !== "f32") this.fail(node, "only a transpose of a 2-D float constant (a weight) is supported");
        const [r, c] = w.shape as [number, number];
        const src = w.data as Float32Array;
        const t = new Float32Array(r * c);
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = src[i * c + j]!;
        this.consts.set(out, tensor("f32", [c, r], t));
        return;
      }
      case "MatMul": {
        const w = this.consts.get(ins[1]!);
        if (!w || w.shape.length !== 2) this.fail(node, "the second input must be a 2-D constant weight [k, n]");
        return this.emit("matmul", [this.value(ins[0]!, node), this.weight(ins[1]!)], out, w.shape[1]!, {}, nm);
      }
      case "Gemm": return this.gemm(node, nm);
      case "Add": case "Sub": case "Mul": case "Div": return this.binary(node, nm);
      case "Relu": case "Sigmoid": case "Tanh": case "Gelu": {
        if (node.opType === "Gelu" && (this.attr(node, "approximate")?.s?.length ?? 0) > 0 && new TextDecoder().decode(this.attr(node, "approximate")!.s!) !== "none") this.fail(node, 'only approximate="none" (erf) is supported');
        const x = this.value(ins[0]!, node);
        return this.emit(node.opType.toLowerCase(), [x], out, this.widths.get(x)!, {}, nm);
      }
      case "Softmax": {
        const axis = this.intAttr(node, "axis", -1);
        if (axis !== -1 && axis !== 1) this.fail(node, `softmax over axis ${axis}: only the last axis is supported`);
        const x = this.value(ins[0]!, node);
        return this.emit("softmax", [x], out, this.widths.get(x)!, {}, nm);
      }
      case "Concat": {
        const axis = this.intAttr(node, "axis", 1);
        if (axis !== 1 && axis !== -1) this.fail(node, `concat over axis ${axis}: only axis 1 (features) is supported`);
        const xs = ins.map((i) => this.value(i, node));
        return this.emit("concat", xs, out, xs.reduce((a, x) => a + this.widths.get(x)!, 0), {}, nm);
      }
      case "Gather": return this.gather(node, nm);
      case "LayerNormalization": {
        const x = this.value(ins[0]!, node);
        const eps = this.attr(node, "epsilon")?.f ?? 1e-5;
        return this.emit("layer_norm", [x, ...ins.slice(1).filter(Boolean).map((w) => this.weight(w))], out, this.widths.get(x)!, { eps }, nm);
      }
      case "BatchNormalization": {
        const x = this.value(ins[0]!, node);
        const eps = this.attr(node, "epsilon")?.f ?? 1e-5;
        return this.emit("batch_norm", [x, ...ins.slice(1, 5).map((w) => this.weight(w))], out, this.widths.get(x)!, { eps }, nm);
      }
      default:
        this.fail(node, `unsupported operator (supported: ${supportedOps.join(", ")})`);
    }
  }

  /** Identity, Flatten(axis 1), Squeeze, Reshape to [batch, width]: the per-row values are unchanged. */
  passThrough(node: onnx.INodeProto, input: string, out: string): void {
    if (this.consts.has(input)) return void this.consts.set(out, this.consts.get(input)!);
    if (node.opType === "Flatten" && this.intAttr(node, "axis", 1) !== 1) this.fail(node, "only Flatten(axis=1) is supported");
    this.alias.set(out, this.value(input, node));
  }

  gemm(node: onnx.INodeProto, nm: string): void {
    const [a, b, c] = node.input ?? [];
    if (this.intAttr(node, "transA", 0) !== 0) this.fail(node, "transA=1 is not supported");
    const w = this.consts.get(b!);
    if (!w || w.shape.length !== 2 || w.dtype !== "f32") this.fail(node, "B must be a 2-D float constant");
    const alpha = this.attr(node, "alpha")?.f ?? 1;
    const beta = this.attr(node, "beta")?.f ?? 1;
    const transB = this.intAttr(node, "transB", 0) === 1;
    const [r, cdim] = w.shape as [number, number];
    const n = transB ? r : cdim;
    const k = transB ? cdim : r;
    const src = w.data as Float32Array;
    const wt = new Float32Array(n * k);
    for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) wt[j * k + l] = alpha * (transB ? src[j * k + l]! : src[l * n + j]!);
    const inputs = [this.value(a!, node), transB && alpha === 1 ? this.weight(b!) : this.derived(b!, tensor("f32", [n, k], wt))];
    if (c) {
      const bias = this.consts.get(c);
      if (!bias || bias.dtype !== "f32") this.fail(node, "C must be a float constant");
      const full = new Float32Array(n).map((_, j) => beta * (bias.data as Float32Array)[bias.data.length === 1 ? 0 : j]!);
      inputs.push(this.derived(c, tensor("f32", [n], full)));
    }
    this.emit("linear", inputs, node.output![0]!, n, {}, nm);
  }

  binary(node: onnx.INodeProto, nm: string): void {
    let [a, b] = node.input as [string, string];
    const op = (node.opType ?? "").toLowerCase();
    if (this.consts.has(a) && !this.consts.has(b)) {
      if (op !== "add" && op !== "mul") this.fail(node, `${node.opType} with a constant first operand is not supported`);
      [a, b] = [b, a];
    }
    const x = this.value(a, node);
    const width = this.widths.get(x)!;
    const cst = this.consts.get(b);
    if (cst) {
      if (cst.dtype !== "f32") this.fail(node, "constant operands must be float");
      const values = cst.data as Float32Array;
      if (values.length !== width && values.length !== 1) this.fail(node, `constant of ${values.length} values does not broadcast over ${width} features`);
      const row = values.length === width ? this.weight(b, tensor("f32", [width], values.slice())) : this.derived(b, tensor("f32", [width], new Float32Array(width).fill(values[0]!)));
      return this.emit(op, [x, row], node.output![0]!, width, {}, nm);
    }
    const y = this.value(b, node);
    if (this.widths.get(y) !== width) this.fail(node, `operands have ${width} and ${this.widths.get(y)} features per row`);
    this.emit(op, [x, y], node.output![0]!, width, {}, nm);
  }

  /** Gather(table, ids) feeding a reduction (bag) or a flatten of one id (lookup). */
  gather(node: onnx.INodeProto, nm: string): void {
    const [data, idsName] = node.input as [string, string];
    const table = this.consts.get(data);
    if (!table || table.shape.length !== 2 || table.dtype !== "f32") this.fail(node, "only Gather on a 2-D float table constant (an embedding lookup) is supported");
    const ids = this.value(idsName, node);
    const next = this.consumers.get(node.output![0]!) ?? [];
    if (next.length !== 1) this.fail(node, "the lookup must feed exactly one ReduceSum/ReduceMean (a bag) or Flatten/Squeeze/Reshape (one id)");
    const reduce = next[0]!;
    const dim = table.shape[1]!;
    let mode: "sum" | "mean" | "gather";
    if (reduce.opType === "ReduceSum" || reduce.opType === "ReduceMean") {
      const axes = this.reduceAxes(reduce);
      if (axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -2)) this.fail(reduce, "an embedding bag reduces over axis 1 (the ids)");
      if (this.intAttr(reduce, "keepdims", 1) !== 0) this.fail(reduce, "an embedding bag needs keepdims=0");
      mode = reduce.opType === "ReduceSum" ? "sum" : "mean";
    } else if (["Flatten", "Squeeze", "Reshape"].includes(reduce.opType ?? "") && this.widths.get(ids) === 1) {
      mode = "gather";
    } else {
      this.fail(node, `the lookup feeds ${reduce.opType}; supported: ReduceSum/ReduceMean over axis 1, or Flatten/Squeeze/Reshape of a single id`);
    }
    this.consumed.add(reduce);
    this.emit("embedding_bag", [ids, this.weight(data)], reduce.output![0]!, dim, { mode }, nm);
  }

  reduceAxes(node: onnx.INodeProto): number[] {
    const fromAttr = this.attr(node, "axes")?.ints;
    if (fromAttr && fromAttr.length > 0) return fromAttr.map(num);
    const axesInput = node.input?.[1];
    const t = axesInput ? this.consts.get(axesInput) : undefined;
    if (!t) this.fail(node, "axes must be a constant");
    return Array.from(t.data as ArrayLike<number | bigint>, Number);
  }
}

/** Read an ONNX file (external data next to it). */
export function importOnnxFile(path: string, options: OnnxImportOptions = {}): BuiltModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new OnnxError(`${path}: cannot read (${(err as Error).message})`);
  }
  return importOnnx(bytes, { modelDir: dirname(path), name: options.name ?? basename(path).replace(/\.onnx$/, ""), ...options });
}
