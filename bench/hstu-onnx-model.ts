// The zoo hstu model (sdk/zoo/hstu.ts) written as plain ONNX ops, in the
// per-request form a practitioner exports for onnxruntime: one request per run,
// the history [L] encoded once in the graph (every layer's K/V computed from it
// and shared by all C candidates as [H, L, ·] matrices), the candidates [C, 1]
// attending to the history (M-FALCON: not to each other) and to themselves. The
// same weights as the rankfn model (built.weights), full histories (no padding:
// what the benchmark sends). Bias positions: event j at j, each candidate at L.
import type { BuiltModel } from "../runtime/graph/builder";
import type { Tensor } from "../runtime/tensor/tensor";
import { hstuOptions, type HstuOptions } from "../sdk/zoo/hstu";
import { F32, I64, OnnxGraph } from "./onnx-graph";

/** Bit width of |delta| clamped to buckets - 1 (rankfn.h's log bucket). */
const bucketOf = (delta: number, buckets: number) => Math.min(buckets - 1, delta === 0 ? 0 : Math.abs(delta).toString(2).length);

/** The ONNX model of `built` (a zoo hstu with options `options`): inputs hist_items, hist_actions [L], item_id [C, 1]; output ctr [C, 1]. */
export function hstuOnnxModel(built: BuiltModel, options: Partial<HstuOptions>): Uint8Array {
  const o = hstuOptions(options);
  const { embeddingDim: d, heads: H, qkDim: dq, vDim: dv, historyLength: L, rabBuckets: B } = o;
  if (o.rab !== "position") throw new Error("hstuOnnxModel: only rab \"position\" is written");
  const hv = H * dv, hq = H * dq;
  const g = new OnnxGraph("m");
  const weight = (name: string): string => {
    const t: Tensor | undefined = built.weights.get(name);
    if (!t || t.dtype !== "f32") throw new Error(`hstuOnnxModel: missing f32 weight ${name}`);
    return g.floats(name, t.shape, t.data as Float32Array);
  };
  const items = g.input("hist_items", I64, [L]);
  const actions = g.input("hist_actions", I64, [L]);
  const itemId = g.input("item_id", I64, ["C", 1]);
  const itemTable = weight("item.table");
  let x = g.op("Add", [g.op("Gather", [itemTable, items]), g.op("Gather", [weight("action.table"), actions])]); // [L, d]
  const first = g.op("Gather", [itemTable, g.op("Squeeze", [itemId, g.ints([1])])]); // [C, d]
  let c = first;
  // Bias buckets: [L, L] over the history (|i - j|), [1, L] for a candidate (L - j); the causal mask [L, L].
  const histBuckets = Array.from({ length: L * L }, (_, t) => bucketOf(Math.floor(t / L) - (t % L), B));
  const candBuckets = Array.from({ length: L }, (_, j) => bucketOf(L - j, B));
  const causal = g.floats("causal", [L, L], Float32Array.from({ length: L * L }, (_, t) => (t % L <= Math.floor(t / L) ? 1 : 0)));
  const hb = g.int64s("hist_buckets", [L, L], histBuckets);
  const cb = g.int64s("cand_buckets", [1, L], candBuckets);
  const scale = g.scalar(1 / Math.sqrt(dq));
  const invL = g.scalar(1 / L);
  const silu = (t: string) => g.op("Mul", [t, g.op("Sigmoid", [t])]);
  // [rows, H·w] -> [H, rows, w]
  const heads = (t: string, w: number) => g.op("Transpose", [g.op("Reshape", [t, g.ints([-1, H, w])])], { perm: { ints: [1, 0, 2] } });
  const tokens = (t: string) => g.op("Reshape", [g.op("Transpose", [t], { perm: { ints: [1, 0, 2] } }), g.ints([-1, hv])]);
  for (let l = 0; l < o.layers; l++) {
    const p = `hstu_${l}`;
    const [w1, b1, w2, b2, gamma, beta] = ["W1", "b1", "W2", "b2", "gamma", "beta"].map((n) => weight(`${p}.${n}`));
    const rab = B > 0 ? weight(`${p}.rab`) : null;
    const split = g.ints([hv, hv, hq, hq]);
    const project = (t: string) => g.multi("Split", [silu(g.op("Gemm", [t, w1!, b1!], { transB: 1 })), split], 4, { axis: 1 });
    const finish = (att: string, u: string, res: string) => {
      const ln = g.op("LayerNormalization", [att, gamma!, beta!], { axis: -1, epsilon: { f: 1e-6 } });
      return g.op("Add", [g.op("Gemm", [g.op("Mul", [ln, u]), w2!, b2!], { transB: 1 }), res]);
    };
    // History, once per request: causal pointwise attention over its L events.
    const [u, v, q, k] = project(x);
    const kh = heads(k!, dq), vh = heads(v!, dv);
    const kt = g.op("Transpose", [kh], { perm: { ints: [0, 2, 1] } }); // [H, dq, L]
    // The last layer's history output feeds nothing (only its K/V do): not written, as an exporter's graph would prune it.
    let hx = x;
    if (l + 1 < o.layers) {
      let s = g.op("Mul", [g.op("MatMul", [heads(q!, dq), kt]), scale]); // [H, L, L]
      if (rab) s = g.op("Add", [s, g.op("Gather", [rab, hb], { axis: 1 })]);
      const ph = g.op("Mul", [g.op("Mul", [silu(s), invL]), causal]);
      hx = finish(tokens(g.op("MatMul", [ph, vh])), u!, x);
    }
    // Candidates: over the history's K/V, plus themselves.
    const [cu, cv, cq, ck] = project(c);
    let sc = g.op("Mul", [g.op("MatMul", [heads(cq!, dq), kt]), scale]); // [H, C, L]
    if (rab) sc = g.op("Add", [sc, g.op("Gather", [rab, cb], { axis: 1 })]); // [H, 1, L]
    const fromHistory = tokens(g.op("MatMul", [g.op("Mul", [silu(sc), invL]), vh]));
    const qs = g.op("Reshape", [cq!, g.ints([-1, H, dq])]);
    const ks = g.op("Reshape", [ck!, g.ints([-1, H, dq])]);
    let ss = g.op("Mul", [g.op("ReduceSum", [g.op("Mul", [qs, ks]), g.ints([2])], { keepdims: 1 }), scale]); // [C, H, 1]
    if (rab) ss = g.op("Add", [ss, g.op("Reshape", [g.op("Gather", [rab, g.ints([0], [])], { axis: 1 }), g.ints([1, H, 1])])]);
    const own = g.op("Reshape", [g.op("Mul", [g.op("Mul", [silu(ss), invL]), g.op("Reshape", [cv!, g.ints([-1, H, dv])])]), g.ints([-1, hv])]);
    c = finish(g.op("Add", [fromHistory, own]), cu!, c);
    x = hx;
  }
  let h = g.op("Concat", [c, first], { axis: 1 });
  o.head.forEach((n, i) => {
    h = g.op("Gemm", [h, weight(`head.${i}.weight`), weight(`head.${i}.bias`)], { transB: 1 });
    h = g.op(i === o.head.length - 1 ? "Sigmoid" : "Relu", [h]);
  });
  g.nodes.push({ opType: "Identity", name: "ctr", input: [h], output: ["ctr"] });
  g.output("ctr", F32, ["C", 1]);
  return g.encode("hstu");
}
