// The zoo hstu model (sdk/zoo/hstu.ts) written as plain ONNX ops, in the
// per-request form a practitioner exports for onnxruntime: one request per run,
// the history [L] encoded once in the graph (every layer's K/V computed from it
// and shared by all C candidates as [H, L, ·] matrices), the candidates [C, 1]
// attending to the history (M-FALCON: not to each other) and to themselves. The
// same weights as the rankfn model (built.weights). The history holds only events
// (no padding); with `dynamic` its length is a graph dimension, so one file takes
// every request's own length n <= L (rankfn's jagged history). Bias positions:
// rab "position": event j at j, each candidate at n; rab "time": the events'
// timestamps (hist_ts [n]) and the request's time (request_ts [1]). Buckets are
// computed in the graph (rankfn.h's log buckets: the bit width of |Δ|, capped).
import type { BuiltModel } from "../runtime/graph/builder";
import type { Tensor } from "../runtime/tensor/tensor";
import { hstuOptions, type HstuOptions } from "../sdk/zoo/hstu";
import { F32, I64, OnnxGraph } from "./onnx-graph";

const DOUBLE = 11;

/**
 * The ONNX model of `built` (a zoo hstu with options `options`): inputs hist_items, hist_actions [L]
 * (["n"] with `dynamic`), with rab "time" also hist_ts [L] and request_ts [1]; item_id [C, 1]; output ctr [C, 1].
 */
export function hstuOnnxModel(built: BuiltModel, options: Partial<HstuOptions>, { dynamic = false } = {}): Uint8Array {
  const o = hstuOptions(options);
  const { embeddingDim: d, heads: H, qkDim: dq, vDim: dv, historyLength: L, rabBuckets: B } = o;
  const hv = H * dv, hq = H * dq;
  const g = new OnnxGraph("m");
  const weight = (name: string): string => {
    const t: Tensor | undefined = built.weights.get(name);
    if (!t || t.dtype !== "f32") throw new Error(`hstuOnnxModel: missing f32 weight ${name}`);
    return g.floats(name, t.shape, t.data as Float32Array);
  };
  const n = dynamic ? "n" : L;
  const items = g.input("hist_items", I64, [n]);
  const actions = g.input("hist_actions", I64, [n]);
  const times = o.rab === "time" ? { events: g.input("hist_ts", I64, [n]), now: g.input("request_ts", I64, [1]) } : null;
  const itemId = g.input("item_id", I64, ["C", 1]);
  const itemTable = weight("item.table");
  let x = g.op("Add", [g.op("Gather", [itemTable, items]), g.op("Gather", [weight("action.table"), actions])]); // [n, d]
  const first = g.op("Gather", [itemTable, g.op("Squeeze", [itemId, g.ints([1])])]); // [C, d]
  let c = first;
  // Positions: j of [0, n) (events), the candidates at n; or the timestamps and the request's time.
  const events = g.op("Shape", [items]); // [1]: n
  const j = g.op("Range", [g.ints([0], []), g.op("Squeeze", [events, g.ints([0])]), g.ints([1], [])]); // [n]
  const kp = times ? times.events : j;
  const qpCandidate = times ? times.now : events;
  // The bit width of |Δ| capped at B - 1, in double: floor(log2 |Δ|) + 1 is exact for |Δ| < 2^29 with the 1e-9 nudge.
  const dbl = (v: number) => g.op("Cast", [g.scalar(v)], { to: DOUBLE });
  const bucket = (delta: string) => {
    const a = g.op("Abs", [delta]);
    const log2 = g.op("Div", [g.op("Log", [g.op("Cast", [a], { to: DOUBLE })]), g.op("Log", [dbl(2)])]);
    const width = g.op("Add", [g.op("Floor", [g.op("Add", [log2, dbl(1e-9)])]), dbl(1)]);
    const zeroFirst = g.op("Where", [g.op("Equal", [a, g.ints([0], [])]), dbl(0), width]);
    return g.op("Cast", [g.op("Min", [zeroFirst, dbl(B - 1)])], { to: I64 });
  };
  // Bias buckets: [n, n] over the history (|p_i - p_j|), [1, n] for a candidate; the causal mask [n, n].
  const column = (t: string) => g.op("Unsqueeze", [t, g.ints([1])]);
  const row = (t: string) => g.op("Unsqueeze", [t, g.ints([0])]);
  const hb = B > 0 ? bucket(g.op("Sub", [column(kp), row(kp)])) : "";
  const cb = B > 0 ? bucket(g.op("Sub", [row(qpCandidate), row(kp)])) : "";
  const causal = g.op("Cast", [g.op("LessOrEqual", [row(j), column(j)])], { to: F32 });
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
