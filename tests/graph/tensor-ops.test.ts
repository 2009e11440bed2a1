// Shape and dtype inference of the general tensor ops (runtime/graph/tensor-*-ops.ts):
// numpy broadcasting of per-row shapes and weights, dtype rules, and a GraphError
// naming the node for every op that would reduce or move the batch axis.
import { expect, test } from "bun:test";
import { inferGraph } from "../../runtime/graph/infer";
import { type Graph, type GraphInput, type Node, parseGraph } from "../../runtime/graph/schema";

function graph(inputs: Partial<GraphInput>[], nodes: Partial<Node>[], weights: Graph["weights"] = {}): Graph {
  return parseGraph({
    format: "rankfn.graph/1",
    name: "t",
    inputs: inputs.map((i) => ({ role: "candidate", dtype: "f32", ...i })),
    weights,
    nodes: nodes.map((n, i) => ({ name: `n${i}`, outputs: [`y${i}`], attrs: {}, ...n })),
    outputs: { out: `y${nodes.length - 1}` },
  });
}
const typeOf = (g: Graph, v: string) => inferGraph(g).values.get(v)!;

test("binary ops broadcast per-row shapes and weights without a batch axis; comparisons give bool", () => {
  const g = graph(
    [{ name: "x", shape: [3, 1, 4] }, { name: "ids", dtype: "i64", shape: [5] }],
    [
      { op: "binary", inputs: ["x", "w"], attrs: { op: "add" } },
      { op: "binary", inputs: ["ids", "offsets"], attrs: { op: "add" } },
      { op: "binary", inputs: ["y1", "offsets"], attrs: { op: "lt" } },
      { op: "where", inputs: ["y2", "ids", "offsets"] },
    ],
    { w: { dtype: "f32", shape: [2, 1] }, offsets: { dtype: "i64", shape: [1, 5] } },
  );
  expect(typeOf(g, "y0")).toMatchObject({ dtype: "f32", shape: [3, 2, 4] });
  expect(typeOf(g, "y1")).toMatchObject({ dtype: "i64", shape: [5] });
  expect(typeOf(g, "y2")).toMatchObject({ dtype: "bool", shape: [5] });
  expect(typeOf(g, "y3")).toMatchObject({ dtype: "i64", shape: [5] });
});

test("mismatched shapes, dtypes and batch-sized weights are GraphErrors naming the node", () => {
  const x = { name: "x", shape: [3, 4] };
  expect(() => graph([x], [{ op: "binary", inputs: ["x", "w"], attrs: { op: "mul" } }], { w: { dtype: "f32", shape: [5] } })).not.toThrow();
  expect(() => inferGraph(graph([x], [{ op: "binary", inputs: ["x", "w"], attrs: { op: "mul" } }], { w: { dtype: "f32", shape: [5] } }))).toThrow('node "n0" (binary): shapes [N, 3, 4] and [N, 5] do not broadcast');
  expect(() => inferGraph(graph([x], [{ op: "binary", inputs: ["x", "w"], attrs: { op: "mul" } }], { w: { dtype: "f32", shape: [7, 3, 4] } }))).toThrow("would broadcast along the batch axis");
  expect(() => inferGraph(graph([x], [{ op: "binary", inputs: ["x", "w"], attrs: { op: "add" } }], { w: { dtype: "i64", shape: [4] } }))).toThrow("operands have dtypes f32 and i64; cast one first");
  expect(() => inferGraph(graph([x], [{ op: "unary", inputs: ["x"], attrs: { op: "not" } }]))).toThrow("has dtype f32, expected bool");
});

test("no op may reduce, normalise, gather along or move the batch axis (axis 0)", () => {
  const x = { name: "x", shape: [3, 4] };
  const batch = "axis 0 holds the batch; rankfn scores rows independently, so no op may reduce or move it";
  expect(() => inferGraph(graph([x], [{ op: "reduce", inputs: ["x"], attrs: { op: "sum", axes: [0] } }]))).toThrow(`node "n0" (reduce): ${batch}`);
  expect(() => inferGraph(graph([x], [{ op: "softmax_axis", inputs: ["x"], attrs: { axis: -3 } }]))).toThrow("axis -3 holds the batch");
  expect(() => inferGraph(graph([x], [{ op: "cumsum", inputs: ["x"], attrs: { axis: 0 } }]))).toThrow(batch);
  expect(() => inferGraph(graph([x], [{ op: "transpose", inputs: ["x"], attrs: { perm: [1, 0, 2] } }]))).toThrow("moves the batch axis");
  expect(() => inferGraph(graph([x], [{ op: "concat_axis", inputs: ["x", "x"], attrs: { axis: 0 } }]))).toThrow(batch);
});

test("reductions, transposes, gathers, slices, matmuls and top-k infer their per-row shapes", () => {
  const g = graph(
    [{ name: "x", shape: [2, 3, 4] }],
    [
      { op: "reduce", inputs: ["x"], attrs: { op: "l2", axes: [2, 3], keepdims: false } },
      { op: "transpose", inputs: ["x"], attrs: { perm: [0, 3, 1, 2] } },
      { op: "gather_axis", inputs: ["x", "idx"], attrs: { axis: 2, indexShape: [] } },
      { op: "slice_nd", inputs: ["x"], attrs: { axes: [-1], starts: [3], counts: [2], steps: [-2] } },
      { op: "reduce", inputs: ["x"], attrs: { op: "argmax", axes: [1], keepdims: true } },
    ],
    { idx: { dtype: "i64", shape: [1] } },
  );
  expect(typeOf(g, "y0").shape).toEqual([2]);
  expect(typeOf(g, "y1").shape).toEqual([4, 2, 3]);
  expect(typeOf(g, "y2").shape).toEqual([2, 4]);
  expect(typeOf(g, "y3").shape).toEqual([2, 3, 2]);
  expect(typeOf(g, "y4")).toMatchObject({ dtype: "i64", shape: [1, 3, 4] });
  const bad = graph([{ name: "x", shape: [2, 3, 4] }], [{ op: "transpose", inputs: ["x"], attrs: { perm: [0, 3, 1, 2] } }, { op: "batch_matmul", inputs: ["x", "y0"] }]);
  expect(() => inferGraph(bad)).toThrow('node "n1" (batch_matmul): inner dimensions differ');
  const ok = graph([{ name: "q", shape: [2, 5, 8] }, { name: "k", shape: [2, 8, 5] }], [{ op: "batch_matmul", inputs: ["q", "k"] }]);
  expect(typeOf(ok, "y0")).toMatchObject({ dtype: "f32", shape: [2, 5, 5] });
  const topk = graph([{ name: "x", shape: [6] }], [{ op: "top_k_axis", inputs: ["x"], attrs: { k: 2 }, outputs: ["v", "y0"] }]);
  expect(typeOf(topk, "y0")).toMatchObject({ dtype: "i64", shape: [2] });
  expect(typeOf(topk, "v")).toMatchObject({ dtype: "f32", shape: [2] });
});
