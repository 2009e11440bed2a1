// The zoo DLRM's ONNX twin (same weights), for the onnxruntime-node peer in
// benchmarks: MatMul/Add/Relu MLPs, Gather + ReduceSum embedding bags (fixed
// multi-hot, no padding ids), the low-rank DCN-v2 cross as MatMul/Mul/Add, and
// a sigmoid output. Inputs: dense [N, 13] float, cat_i [N, L_i] int64.
import { onnx } from "onnx-proto";
import type { BuiltModel } from "../runtime/graph/builder";
import type { DlrmOptions } from "../sdk/zoo/dlrm";

export function dlrmOnnx(model: BuiltModel, o: DlrmOptions & { tableRows: readonly number[] }): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let n = 0;
  const fresh = (p: string) => `${p}_${n++}`;
  const w = (name: string) => model.weights.get(name)!.data as Float32Array;
  const init = (name: string, dims: number[], data: Float32Array) => {
    inits.push({ name, dims, dataType: F, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  };
  /** Our weights are [out, in]; MatMul wants [in, out]. */
  const transposed = (name: string) => {
    const t = model.weights.get(name)!;
    const [out, inp] = t.shape as [number, number];
    const src = t.data as Float32Array;
    const dst = new Float32Array(out * inp);
    for (let r = 0; r < out; r++) for (let c = 0; c < inp; c++) dst[c * out + r] = src[r * inp + c]!;
    return init(`${name}.T`, [inp, out], dst);
  };
  const op = (opType: string, inputs: string[], attribute: onnx.IAttributeProto[] = []) => {
    const out = fresh(opType);
    nodes.push({ opType, input: inputs, output: [out], attribute });
    return out;
  };
  const linear = (x: string, prefix: string, act: "Relu" | "Sigmoid" | null) => {
    const y = op("Add", [op("MatMul", [x, transposed(`${prefix}.weight`)]), init(`${prefix}.bias`, [model.weights.get(`${prefix}.bias`)!.shape[0]!], w(`${prefix}.bias`))]);
    return act ? op(act, [y]) : y;
  };
  let h = "dense";
  o.bottomMlp.forEach((_, i) => (h = linear(h, `bottom.${i}`, "Relu")));
  const axes = (() => {
    inits.push({ name: "axes1", dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] });
    return "axes1";
  })();
  const pooled = o.multiHot.map((_, i) => {
    const table = init(`emb_${i}.table`, [o.tableRows[i]!, o.embeddingDim], w(`emb_${i}.table`));
    return op("ReduceSum", [op("Gather", [table, `cat_${i}`]), axes], [{ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 }]);
  });
  const x0 = op("Concat", [h, ...pooled], [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
  const width = o.embeddingDim * (o.multiHot.length + 1);
  let x = x0;
  for (let l = 0; l < o.crossLayers; l++) {
    const t = op("Add", [op("MatMul", [op("MatMul", [x, transposed(`cross_${l}.V`)]), transposed(`cross_${l}.U`)]), init(`cross_${l}.bias`, [width], w(`cross_${l}.bias`))]);
    x = op("Add", [op("Mul", [x0, t]), x]);
  }
  o.topMlp.forEach((_, i) => (x = linear(x, `top.${i}`, i === o.topMlp.length - 1 ? "Sigmoid" : "Relu")));
  const io = (name: string, elem: number, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } },
  });
  const graph = onnx.GraphProto.create({
    name: "dlrm",
    node: nodes.map((nd) => onnx.NodeProto.create(nd)),
    initializer: inits.map((t) => onnx.TensorProto.create(t)),
    input: [io("dense", F, ["N", o.denseFeatures]), ...o.multiHot.map((l, i) => io(`cat_${i}`, onnx.TensorProto.DataType.INT64, ["N", l]))],
    output: [io(x, F, ["N", 1])],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph, producerName: "rankfn-bench" })).finish();
}
