// A small ONNX graph writer over onnx-proto, for the models the tests and
// benchmarks export the way PyTorch does (shape arithmetic, Loop bodies,
// bmm + advanced indexing). Values are named automatically.
import { onnx } from "onnx-proto";

const A = onnx.AttributeProto.AttributeType;
export const F32 = onnx.TensorProto.DataType.FLOAT;
export const I64 = onnx.TensorProto.DataType.INT64;
export const BOOL = onnx.TensorProto.DataType.BOOL;

/** Attribute values: plain numbers are INT; use float()/ints()/floats()/graph() for the rest. */
export type AttrValue = number | string | { f: number } | { ints: number[] } | { floats: number[] } | { g: onnx.IGraphProto };
export const float = (f: number) => ({ f });
export const ints = (xs: number[]) => ({ ints: xs });

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === "number") return { name, type: A.INT, i: v };
  if (typeof v === "string") return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if ("f" in v) return { name, type: A.FLOAT, f: v.f };
  if ("ints" in v) return { name, type: A.INTS, ints: v.ints };
  if ("floats" in v) return { name, type: A.FLOATS, floats: v.floats };
  return { name, type: A.GRAPH, g: v.g };
}

export function valueInfo(name: string, elem: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } } };
}

export class OnnxGraph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  #n = 0;

  constructor(readonly prefix = "v") {}

  /** Add a node; returns its (first) output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string {
    const outs = Array.from({ length: outputs }, () => `${this.prefix}${this.#n++}_${opType}`);
    this.nodes.push({ opType, name: `${opType}_${this.#n}`, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs[0]!;
  }

  /** Add a node with several outputs; returns them all. */
  multi(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    this.op(opType, inputs, attrs, outputs);
    return this.nodes.at(-1)!.output!;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, dataType: F32, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }

  int64s(name: string, dims: number[], data: number[]): string {
    this.initializers.push({ name, dims, dataType: I64, rawData: new Uint8Array(BigInt64Array.from(data, (x) => BigInt(x)).buffer) });
    return name;
  }

  /** A fresh int64 constant (dims [] for a scalar). */
  ints(data: number[], dims: number[] = [data.length]): string {
    return this.int64s(`${this.prefix}c${this.#n++}`, dims, data);
  }

  scalar(x: number): string {
    return this.floats(`${this.prefix}s${this.#n++}`, [], new Float32Array([x]));
  }

  input(name: string, elem: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem = F32, dims: (number | string)[] = ["N", 1]): void {
    this.outputs.push(valueInfo(name, elem, dims));
  }

  graph(name: string): onnx.IGraphProto {
    return { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  encode(name: string, opset = 17, metadata: Record<string, string> = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: opset }],
      graph: onnx.GraphProto.create(this.graph(name)),
      producerName: "rankfn-tests",
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  // ------------------------------------------------------------------ exporter idioms

  /** y = act(x · Wᵀ + b) written as Gemm(transB=1), nn.Linear's export. */
  linear(x: string, w: string, b: string, act?: "Relu" | "Sigmoid" | "Tanh"): string {
    const y = this.op("Gemm", [x, w, b], { transB: 1 });
    return act ? this.op(act, [y]) : y;
  }

  /** The erf GELU exporters emit: x · 0.5 · (1 + Erf(x / √2)). */
  erfGelu(x: string): string {
    const e = this.op("Erf", [this.op("Div", [x, this.scalar(Math.SQRT2)])]);
    return this.op("Mul", [this.op("Mul", [x, this.op("Add", [e, this.scalar(1)])]), this.scalar(0.5)]);
  }

  /** x.view(N, -1, d): the batch size comes from Shape(x) at run time. */
  viewRows(x: string, d: number): string {
    const n = this.op("Unsqueeze", [this.op("Gather", [this.op("Shape", [x]), this.ints([0], [])]), this.ints([0])]);
    return this.op("Reshape", [x, this.op("Concat", [n, this.ints([-1]), this.ints([d])], { axis: 0 })]);
  }

  /**
   * nn.EmbeddingBag(mode) over ids [N, L] the way PyTorch exports it: ids flattened, offsets =
   * range(0, numel, L), and a Loop slicing, gathering and pooling one bag per iteration.
   */
  embeddingBagLoop(table: string, ids: string, mode: "sum" | "mean"): string {
    const flat = this.op("Reshape", [ids, this.ints([-1])]);
    const numel = this.op("Size", [ids]);
    const perRow = this.op("Gather", [this.op("Shape", [ids]), this.ints([1], [])]);
    const offsets = this.op("Range", [this.ints([0], []), numel, perRow]);
    const len = this.op("Unsqueeze", [this.op("Gather", [this.op("Shape", [flat]), this.ints([0], [])]), this.ints([0])]);
    const all = this.op("Concat", [offsets, len], { axis: 0 });
    const starts = this.op("Slice", [all, this.ints([0]), this.ints([2 ** 53]), this.ints([0])]);
    const ends = this.op("Slice", [all, this.ints([1]), this.ints([2 ** 53]), this.ints([0])]);
    const trips = this.op("Gather", [this.op("Shape", [ends]), this.ints([0], [])]);
    const cond = this.op("Cast", [this.ints([1], [])], { to: BOOL });
    const body = new OnnxGraph(`${this.prefix}b${this.#n++}_`);
    const iter = body.input("iter", I64, []);
    const condIn = body.input("cond_in", BOOL, []);
    const s = body.op("Unsqueeze", [body.op("Gather", [starts, iter]), body.ints([0])]);
    const e = body.op("Unsqueeze", [body.op("Gather", [ends, iter]), body.ints([0])]);
    const rows = body.op("Slice", [flat, s, e, body.ints([0])]);
    const pooled = body.op(mode === "sum" ? "ReduceSum" : "ReduceMean", [body.op("Gather", [table, rows]), ...(mode === "sum" ? [body.ints([0])] : [])], mode === "sum" ? { keepdims: 0 } : { keepdims: 0, axes: ints([0]) });
    const condOut = body.op("Identity", [condIn]);
    body.outputs.push(valueInfo(condOut, BOOL, []), { name: pooled, type: { tensorType: { elemType: F32 } } });
    return this.op("Loop", [trips, cond], { body: { g: body.graph("bag") } });
  }

  /**
   * DLRM's dot interaction as PyTorch exports `bmm(T, Tᵀ)[:, li, lj]`: Transpose to [F, F, N],
   * Flatten, Gather of the flattened (li·F + lj), Reshape and Transpose back to [N, P].
   */
  interaction(t: string, f: number, self: boolean): string {
    const z = this.op("MatMul", [t, this.op("Transpose", [t], { perm: ints([0, 2, 1]) })]);
    const li: number[] = [];
    const lj: number[] = [];
    for (let i = 0; i < f; i++) for (let j = 0; j < (self ? i + 1 : i); j++) (li.push(i), lj.push(j));
    const fDim = this.op("Gather", [this.op("Shape", [z]), this.ints([2])]);
    const flatIdx = this.op("Add", [this.ints(lj), this.op("Mul", [this.ints(li), fDim])]);
    const picked = this.op("Gather", [this.op("Flatten", [this.op("Transpose", [z], { perm: ints([1, 2, 0]) })], { axis: 2 }), flatIdx], { axis: 0 });
    const n = this.op("Gather", [this.op("Shape", [z]), this.ints([0])]);
    const folded = this.op("Reshape", [picked, this.op("Concat", [this.ints([-1]), n], { axis: 0 })]);
    return this.op("Transpose", [folded], { perm: ints([1, 0]) });
  }
}
