// A MatMul+Add+Relu ONNX model (the peer's spelling of one fused GEMM layer),
// built in memory with onnx-proto for onnxruntime-node.
import { onnx } from "onnx-proto";

/** ONNX bytes for Y = Relu(X · W + b), X [M, K] with M dynamic, W [K, N]. */
export function matmulAddReluModel(k: number, n: number, w: Float32Array, bias: Float32Array): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const init = (name: string, dims: number[], data: Float32Array) =>
    onnx.TensorProto.create({ name, dims, dataType: F, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  const io = (name: string, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: F,
          shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  const graph = onnx.GraphProto.create({
    name: "gemm",
    node: [
      onnx.NodeProto.create({ opType: "MatMul", input: ["X", "W"], output: ["XW"] }),
      onnx.NodeProto.create({ opType: "Add", input: ["XW", "B"], output: ["Z"] }),
      onnx.NodeProto.create({ opType: "Relu", input: ["Z"], output: ["Y"] }),
    ],
    initializer: [init("W", [k, n], w), init("B", [n], bias)],
    input: [io("X", ["M", k])],
    output: [io("Y", ["M", n])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph, producerName: "rankfn-bench" });
  return onnx.ModelProto.encode(model).finish();
}
