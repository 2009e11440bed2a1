// Independent float64 forward pass of the zoo bst model (sdk/zoo/bst.ts),
// written by hand from its documented structure and weight names: plain loops,
// no kernels, no graph interpretation. The history is encoded once per request;
// every candidate (target) attends to the encoded history with softmax. Only the
// history's events (the slots after its leading padding) are tokens.
import type { Tensor } from "../../runtime/tensor/tensor";
import type { ZooOptions } from "../../sdk/zoo";
import { bstOptions } from "../../sdk/zoo/bst";
import { type Act, act } from "../kernels/reference";
import { type ZooRequest, inputRow } from "./requests";
import { layerNorm as layerNormOf, w } from "./reference-sequence";

type Weights = Map<string, Tensor>;
type Vec = ArrayLike<number>;

/** act(W x + b) (+ residual), W [n, k] row-major. */
function linear(weights: Weights, prefix: string, x: Vec, n: number, a: Act = "none", residual?: Vec): Float64Array {
  const k = x.length;
  const W = w(weights, `${prefix}.weight`, [n, k]), b = w(weights, `${prefix}.bias`, [n]);
  return Float64Array.from({ length: n }, (_, j) => {
    let acc = b[j]!;
    for (let l = 0; l < k; l++) acc += W[j * k + l]! * x[l]!;
    return act(a, acc) + (residual ? residual[j]! : 0);
  });
}

function layerNorm(weights: Weights, prefix: string, x: Vec): Float64Array {
  const n = x.length;
  return layerNormOf(x, w(weights, `${prefix}.gamma`, [n]), w(weights, `${prefix}.beta`, [n]), 1e-5);
}

/** Multi-head softmax attention of one query over keys[0..n) (q, k, v rows hold every head). */
function attend(q: Vec, keys: Vec[], values: Vec[], heads: number, dh: number): Float64Array {
  const out = new Float64Array(heads * dh);
  if (keys.length === 0) return out; // nothing to attend to: zeros
  for (let h = 0; h < heads; h++) {
    const s = keys.map((k) => {
      let dot = 0;
      for (let c = 0; c < dh; c++) dot += q[h * dh + c]! * k[h * dh + c]!;
      return dot / Math.sqrt(dh);
    });
    const mx = Math.max(...s);
    const e = s.map((x) => Math.exp(x - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    values.forEach((v, j) => {
      for (let c = 0; c < dh; c++) out[h * dh + c]! += (e[j]! / sum) * v[h * dh + c]!;
    });
  }
  return out;
}

/** bst: see sdk/zoo/bst.ts. */
export function referenceBst(options: Partial<ZooOptions["bst"]>, weights: Weights, req: ZooRequest): Record<string, Float64Array> {
  const o = bstOptions(options);
  const { embeddingDim: d, heads: H, historyLength: L, ffnDim: F } = o;
  const dh = d / H;
  const items = w(weights, "item.table", [o.itemTableRows, d]);
  const row = (id: number) => (id < 0 ? new Float64Array(d) : Float64Array.from(items.subarray(id * d, (id + 1) * d)));
  const hist = req.context.hist!;
  let pads = 0;
  while (pads < L && hist[pads]! < 0) pads++;
  let x: Float64Array<ArrayBufferLike>[] = Array.from({ length: L - pads }, (_, t) => row(hist[pads + t]!));
  for (let l = 0; l < o.layers; l++) {
    const p = `block_${l}`;
    const qkv = x.map((t) => linear(weights, `${p}.qkv`, t, 3 * d));
    const q = qkv.map((r) => r.subarray(0, d)), k = qkv.map((r) => r.subarray(d, 2 * d)), v = qkv.map((r) => r.subarray(2 * d));
    // Causal: event i attends to events 0..i.
    const att = x.map((_, i) => attend(q[i]!, k.slice(0, i + 1), v.slice(0, i + 1), H, dh));
    const h1 = att.map((a, i) => layerNorm(weights, `${p}.ln1`, linear(weights, `${p}.out`, a, d, "none", x[i]!)));
    x = h1.map((h) => layerNorm(weights, `${p}.ln2`, linear(weights, `${p}.ffn2`, linear(weights, `${p}.ffn1`, h, F, "relu"), d, "none", h)));
  }
  const kv = x.map((t) => linear(weights, "target.kv", t, 2 * d));
  const keys = kv.map((r) => r.subarray(0, d)), values = kv.map((r) => r.subarray(d));
  const ctr = Float64Array.from({ length: req.rows }, (_, i) => {
    const target = row(inputRow(req, "item_id", i)[0]!);
    const attended = attend(linear(weights, "target.q", target, d), keys, values, H, dh);
    let h: Vec = Float64Array.from([...attended, ...target]);
    o.head.forEach((n, j) => {
      h = linear(weights, `head.${j}`, h, n, j === o.head.length - 1 ? "sigmoid" : "relu");
    });
    return h[0]!;
  });
  return { ctr };
}
