// onnxruntime's own int8 peer for `bench onnx`: an fp32 ONNX file rewritten the
// way onnxruntime's `quantize_dynamic(per_channel=True)` writes it. Each MatMul
// (and Gemm) whose weight is a 2-D fp32 initializer becomes
//   DynamicQuantizeLinear(x) → (x_u8, x_scale, x_zp)
//   MatMulInteger(x_u8, W_s8, x_zp, W_zp) → int32   W_s8 per output column,
//   Cast(to float) · Mul(x_scale · W_scale)          symmetric (zp 0), [-127, 127]
//   (+ Add bias for a Gemm)
// so ORT sees exactly the graph its quantizer would hand it and fuses it as it
// would its own (DynamicQuantizeMatMul). quantize_dynamic itself leaves Gemm in
// fp32 (Gemm is not in its dynamic-op registry); we rewrite Gemm too — as the
// MatMul + Add it computes — so the peer quantizes every layer rankfn does, the
// strongest int8 peer ORT can run. Embedding tables (Gather) stay fp32, as with
// `op_types_to_quantize=["MatMul"]` and as rankfn int8 keeps them; weights in
// Loop bodies are left alone. Weights: QInt8, symmetric, no reduce_range (its defaults).
import { onnx } from "onnx-proto";
import { OnnxError } from "../runtime/onnx/tensors";

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

export interface Int8Twin {
  bytes: Uint8Array;
  /** The MatMul/Gemm nodes rewritten (their first output's name). */
  quantized: string[];
}

function floatsOf(t: onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // protobuf views are not 4-byte aligned
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function attr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** numpy's round (half to even), which onnxruntime's quantizer uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** W [K, N] row-major → per-column symmetric int8 (q = round(w / s), s = max|W[:, n]| / 127). */
export function quantizePerColumn(w: Float32Array, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    let m = 0;
    for (let r = 0; r < k; r++) m = Math.max(m, Math.abs(w[r * n + c]!));
    scale[c] = m > 0 ? m / 127 : 1;
  }
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) q[r * n + c] = Math.max(-127, Math.min(127, roundHalfEven(w[r * n + c]! / scale[c]!)));
  return { q, scale };
}

/** The names every node of `graph` (and its subgraphs) reads. */
function readNames(graph: onnx.IGraphProto, into = new Map<string, number>()): Map<string, number> {
  for (const node of graph.node ?? []) {
    for (const i of node.input ?? []) into.set(i, (into.get(i) ?? 0) + 1);
    for (const a of node.attribute ?? []) if (a.g) readNames(a.g, into);
  }
  return into;
}

/** The weight of a MatMul/Gemm as [K, N] with its optional bias, or why the node stays fp32. */
function weightOf(node: onnx.INodeProto, inits: Map<string, onnx.ITensorProto>): { w: Float32Array; k: number; n: number; bias?: Float32Array; biasName?: string; replacedBias?: string } | string {
  const b = inits.get(node.input?.[1] ?? "");
  if (!b || b.dataType !== T.FLOAT || b.dims?.length !== 2) return "weight is not a 2-D fp32 initializer";
  const [d0, d1] = b.dims.map(Number) as [number, number];
  const data = floatsOf(b);
  if (node.opType === "MatMul") return { w: data, k: d0, n: d1 };
  if (Number(attr(node, "transA")?.i ?? 0) !== 0) return "Gemm with transA";
  const alpha = attr(node, "alpha")?.f ?? 1;
  const beta = attr(node, "beta")?.f ?? 1;
  const transB = Number(attr(node, "transB")?.i ?? 0) !== 0;
  const [k, n] = transB ? [d1, d0] : [d0, d1];
  const w = new Float32Array(k * n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) w[r * n + c] = alpha * (transB ? data[c * k + r]! : data[r * n + c]!);
  const cName = node.input?.[2];
  if (!cName) return { w, k, n };
  if (beta === 1) return { w, k, n, biasName: cName };
  const c = inits.get(cName);
  if (!c || c.dataType !== T.FLOAT) return "Gemm with beta ≠ 1 over a computed bias";
  return { w, k, n, bias: floatsOf(c).map((v) => v * beta), replacedBias: cName };
}

/**
 * The int8 twin of fp32 ONNX `bytes`, as `quantize_dynamic(per_channel=True)` writes it (see the top of the file).
 * @example int8Twin(readFileSync("dlrm.onnx")).quantized.length
 */
export function int8Twin(bytes: Uint8Array): Int8Twin {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxError(`int8Twin: not an ONNX model (${(e as Error).message})`);
  }
  const graph = model.graph;
  if (!graph) throw new OnnxError("int8Twin: the ONNX model has no graph");
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t] as const));
  const reads = readNames(graph);
  const nodes: onnx.INodeProto[] = [];
  const added: onnx.ITensorProto[] = [];
  const dropped = new Set<string>();
  const quantizedInputs = new Map<string, [string, string, string]>();
  const quantized: string[] = [];
  let fresh = 0;
  const node = (opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []) =>
    nodes.push({ opType, name: `int8twin_${opType}_${fresh++}`, input, output, attribute });
  for (const nd of graph.node ?? []) {
    const plan = nd.opType === "MatMul" || nd.opType === "Gemm" ? weightOf(nd, inits) : "not a MatMul";
    if (typeof plan === "string") {
      nodes.push(nd);
      continue;
    }
    const out = nd.output![0]!;
    const x = nd.input![0]!;
    const wName = nd.input![1]!;
    // One DynamicQuantizeLinear per activation, shared by every layer reading it (as the quantizer does).
    let xq = quantizedInputs.get(x);
    if (!xq) {
      xq = [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`];
      node("DynamicQuantizeLinear", [x], xq);
      quantizedInputs.set(x, xq);
    }
    const { q, scale } = quantizePerColumn(plan.w, plan.k, plan.n);
    const base = `${wName}_int8twin`;
    added.push(
      { name: `${base}_quantized`, dims: [plan.k, plan.n], dataType: T.INT8, rawData: new Uint8Array(q.buffer) },
      { name: `${base}_zero_point`, dims: [plan.n], dataType: T.INT8, rawData: new Uint8Array(plan.n) },
      { name: `${base}_scale`, dims: [plan.n], dataType: T.FLOAT, rawData: new Uint8Array(scale.buffer) },
    );
    node("MatMulInteger", [xq[0], `${base}_quantized`, xq[2], `${base}_zero_point`], [`${out}_int32`]);
    node("Cast", [`${out}_int32`], [`${out}_cast`], [{ name: "to", type: A.INT, i: T.FLOAT }]);
    node("Mul", [xq[1], `${base}_scale`], [`${out}_combined_scale`]);
    const biasName = plan.bias ? `${base}_bias` : plan.biasName;
    if (plan.bias) added.push({ name: biasName, dims: [plan.n], dataType: T.FLOAT, rawData: new Uint8Array(plan.bias.buffer) });
    node("Mul", [`${out}_cast`, `${out}_combined_scale`], [biasName ? `${out}_scaled` : out]);
    if (biasName) node("Add", [`${out}_scaled`, biasName], [out]);
    quantized.push(out);
    for (const replaced of [wName, plan.replacedBias]) {
      if (replaced === undefined) continue;
      const left = reads.get(replaced)! - 1;
      reads.set(replaced, left);
      if (left === 0) dropped.add(replaced);
    }
  }
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !dropped.has(t.name!)), ...added];
  model.producerName = "rankfn-bench int8 twin (quantize_dynamic layout)";
  return { bytes: onnx.ModelProto.encode(model).finish(), quantized };
}
