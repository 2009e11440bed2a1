// Independent float64 forward passes of the sequence zoo models (hstu,
// rankmixer), written by hand from the op semantics documented in
// runtime/graph/sequence-layer-ops.ts and the builders' weight names: plain loops,
// no kernels, no graph interpretation. The HSTU history is encoded once per
// request (the request's context), and each candidate attends to the
// history's events and to itself.
import type { Tensor } from "../../runtime/tensor/tensor";
import type { ZooOptions } from "../../sdk/zoo";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { rankmixerOptions } from "../../sdk/zoo/rankmixer";
import { type Act, act } from "../kernels/reference";
import { type ZooRequest, inputRow } from "./requests";

type Weights = Map<string, Tensor>;
type Outputs = Record<string, Float64Array>;
type Vec = ArrayLike<number>;

/** Weight `name` as f32 data, checked to have `shape`. */
export function w(weights: Weights, name: string, shape: number[]): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing weight "${name}"`);
  if (t.dtype !== "f32" || t.shape.join() !== shape.join()) throw new Error(`reference: weight "${name}" is ${t.dtype} [${t.shape.join(", ")}], expected f32 [${shape.join(", ")}]`);
  return t.data as Float32Array;
}

/** y = act(W x + b), W [n, k] row-major starting at element `at`. */
function matvec(x: Vec, W: Float32Array, n: number, k: number, b: Vec | null, a: Act = "none", at = 0, bAt = 0): Float64Array {
  if (x.length !== k) throw new Error(`reference: matvec input has ${x.length} elements, expected ${k}`);
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let acc = b ? b[bAt + j]! : 0;
    for (let l = 0; l < k; l++) acc += W[at + j * k + l]! * x[l]!;
    y[j] = act(a, acc);
  }
  return y;
}

function mlp(weights: Weights, prefix: string, x: Vec, sizes: readonly number[]): number {
  let h: Vec = x;
  sizes.forEach((n, i) => {
    const k = h.length;
    h = matvec(h, w(weights, `${prefix}.${i}.weight`, [n, k]), n, k, w(weights, `${prefix}.${i}.bias`, [n]), i === sizes.length - 1 ? "sigmoid" : "relu");
  });
  return h[0]!;
}

/** Row `id` of a [rows, d] table, or zeros for the padding id. */
function row(table: Float32Array, d: number, id: number): Float64Array {
  return id < 0 ? new Float64Array(d) : Float64Array.from(table.subarray(id * d, (id + 1) * d));
}

/** (x − mean) / sqrt(var + eps) · gamma + beta. */
export function layerNorm(x: Vec, gamma: Vec, beta: Vec, eps: number): Float64Array {
  let mu = 0;
  for (let i = 0; i < x.length; i++) mu += x[i]!;
  mu /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mu) ** 2;
  v /= x.length;
  return Float64Array.from({ length: x.length }, (_, i) => ((x[i]! - mu) / Math.sqrt(v + eps)) * gamma[i]! + beta[i]!);
}

const silu = (x: number) => x / (1 + Math.exp(-x));
/** Log-distance bucket: the bit width of delta, capped. */
const bucket = (delta: number, buckets: number) => Math.min(buckets - 1, delta === 0 ? 0 : 1 + Math.floor(Math.log2(delta)));

/** hstu: see sdk/zoo/hstu.ts. */
export function referenceHstu(options: Partial<ZooOptions["hstu"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = hstuOptions(options);
  const { embeddingDim: d, heads: H, qkDim: dq, vDim: dv, historyLength: L, rabBuckets: B } = o;
  const hv = H * dv;
  const hq = H * dq;
  const w1Rows = 2 * hv + 2 * hq;
  const scale = 1 / Math.sqrt(dq);
  const items = w(weights, "item.table", [o.itemTableRows, d]);
  const actions = w(weights, "action.table", [o.actions, d]);
  const layer = (l: number) => ({
    W1: w(weights, `hstu_${l}.W1`, [w1Rows, d]),
    b1: w(weights, `hstu_${l}.b1`, [w1Rows]),
    gamma: w(weights, `hstu_${l}.gamma`, [hv]),
    beta: w(weights, `hstu_${l}.beta`, [hv]),
    W2: w(weights, `hstu_${l}.W2`, [d, hv]),
    b2: w(weights, `hstu_${l}.b2`, [d]),
    rab: B > 0 ? w(weights, `hstu_${l}.rab`, [H, B]) : null,
  });
  const layers = Array.from({ length: o.layers }, (_, l) => layer(l));
  // SiLU(W1 x + b1) split into U, V, Q, K.
  const project = (p: ReturnType<typeof layer>, x: Vec) => {
    const a = matvec(x, p.W1, w1Rows, d, p.b1, "silu");
    return { u: a.subarray(0, hv), v: a.subarray(hv, 2 * hv), q: a.subarray(2 * hv, 2 * hv + hq), k: a.subarray(2 * hv + hq) };
  };
  // Pointwise attention weight of query q on key k, head h, distance delta.
  const weight = (p: ReturnType<typeof layer>, q: Vec, k: Vec, h: number, delta: number) => {
    let dot = 0;
    for (let c = 0; c < dq; c++) dot += q[h * dq + c]! * k[h * dq + c]!;
    return silu(scale * dot + (p.rab ? p.rab[h * B + bucket(delta, B)]! : 0)) / L;
  };
  const finish = (p: ReturnType<typeof layer>, attended: Float64Array, u: Vec, x: Vec) => {
    const g = layerNorm(attended, p.gamma, p.beta, 1e-6).map((v, c) => v * u[c]!);
    return matvec(g, p.W2, d, hv, p.b2).map((v, c) => v + x[c]!);
  };

  // The history, once per request: per layer, its events' projections (the candidates' K/V).
  const histItems = req.context.hist_items!;
  const histActions = req.context.hist_actions!;
  // The bias's distance between slots i and j of the history (rab "time": of their timestamps).
  const ts = o.rab === "time" ? req.context.hist_ts! : null;
  const now = o.rab === "time" ? req.context.request_ts![0]! : 0;
  let pads = 0;
  while (pads < L && histItems[pads] === -1) pads++;
  let tokens = Array.from({ length: L }, (_, t) => row(items, d, histItems[t]!).map((v, c) => v + row(actions, d, histActions[t]!)[c]!));
  const events: ReturnType<typeof project>[][] = [];
  for (const p of layers) {
    const proj = tokens.map((x, t) => (t < pads ? null : project(p, x)));
    events.push(proj.filter((e) => e !== null));
    tokens = tokens.map((x, i) => {
      if (i < pads) return x;
      const attended = new Float64Array(hv);
      for (let j = pads; j <= i; j++) {
        for (let h = 0; h < H; h++) {
          const a = weight(p, proj[i]!.q, proj[j]!.k, h, ts ? Math.abs(ts[i]! - ts[j]!) : i - j);
          for (let c = 0; c < dv; c++) attended[h * dv + c]! += a * proj[j]!.v[h * dv + c]!;
        }
      }
      return finish(p, attended, proj[i]!.u, x);
    });
  }
  const nh = L - pads;
  const ctr = Float64Array.from({ length: req.rows }, (_, i) => {
    const first = row(items, d, inputRow(req, "item_id", i)[0]!);
    let c: Float64Array = first;
    layers.forEach((p, l) => {
      const self = project(p, c);
      const attended = new Float64Array(hv);
      const add = (k: Vec, v: Vec, delta: number) => {
        for (let h = 0; h < H; h++) {
          const a = weight(p, self.q, k, h, delta);
          for (let e = 0; e < dv; e++) attended[h * dv + e]! += a * v[h * dv + e]!;
        }
      };
      // The history's events at positions 0..nh−1, the candidate at nh (or at the request's time); and itself.
      events[l]!.forEach((e, j) => add(e.k, e.v, ts ? Math.abs(now - ts[pads + j]!) : nh - j));
      add(self.k, self.v, 0);
      c = finish(p, attended, self.u, c);
    });
    const x = new Float64Array(2 * d);
    x.set(c);
    x.set(first, d);
    return mlp(weights, "head", x, o.head);
  });
  return { ctr };
}

/** rankmixer: see sdk/zoo/rankmixer.ts. */
export function referenceRankmixer(options: Partial<ZooOptions["rankmixer"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = rankmixerOptions(options);
  const { tokenDim: D, tokens: T, embeddingDim: e, ffnHidden: F } = o;
  const k = ((o.multiHot.length + 1) * e) / T;
  const dh = D / T;
  const tokenNorm = (x: Float64Array, prefix: string) => {
    const g = w(weights, `${prefix}.gamma`, [D]);
    const b = w(weights, `${prefix}.beta`, [D]);
    const out = new Float64Array(T * D);
    for (let t = 0; t < T; t++) out.set(layerNorm(x.subarray(t * D, (t + 1) * D), g, b, 1e-5), t * D);
    return out;
  };
  const grouped = (x: Float64Array, prefix: string, n: number, kk: number, a: Act) => {
    const W = w(weights, `${prefix}.weight`, [T, n, kk]);
    const b = w(weights, `${prefix}.bias`, [T * n]);
    const out = new Float64Array(T * n);
    for (let t = 0; t < T; t++) out.set(matvec(x.subarray(t * kk, (t + 1) * kk), W, n, kk, b, a, t * n * kk, t * n), t * n);
    return out;
  };
  // Sparse-MoE FFN of each token: its topK largest gate logits (ties to the lower index), each
  // expert weighted by relu(logit); experts at weight 0 contribute nothing.
  const tokenExperts = (s: Float64Array, prefix: string) => {
    const { experts: E, topK, hidden } = o.moe!;
    const out = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      const p = `${prefix}.moe_${t}`;
      const x = s.subarray(t * D, (t + 1) * D);
      const logits = matvec(x, w(weights, `${p}.gate.weight`, [E, D]), E, D, w(weights, `${p}.gate.bias`, [E]));
      const chosen = Array.from({ length: E }, (_, e) => e).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, topK);
      for (const e of chosen) {
        const g = Math.max(0, logits[e]!);
        if (g === 0) continue;
        const q = `${p}.expert_${e}`;
        const hid = matvec(x, w(weights, `${q}.W1`, [hidden, D]), hidden, D, w(weights, `${q}.b1`, [hidden]), "gelu");
        const y = matvec(hid, w(weights, `${q}.W2`, [D, hidden]), D, hidden, w(weights, `${q}.b2`, [D]));
        for (let c = 0; c < D; c++) out[t * D + c]! += g * y[c]!;
      }
    }
    return out;
  };
  const ctr = Float64Array.from({ length: req.rows }, (_, i) => {
    const dense = inputRow(req, "dense", i);
    const feats = [matvec(dense, w(weights, "dense_proj.weight", [e, o.denseFeatures]), e, o.denseFeatures, w(weights, "dense_proj.bias", [e]))];
    o.rows.forEach((rows, f) => {
      const table = w(weights, `emb_${f}.table`, [rows, e]);
      const pooled = new Float64Array(e);
      for (const id of inputRow(req, `cat_${f}`, i)) if (id >= 0) for (let c = 0; c < e; c++) pooled[c]! += table[id * e + c]!;
      feats.push(pooled);
    });
    const z = new Float64Array(feats.length * e);
    feats.forEach((f, j) => z.set(f, j * e));
    let h = grouped(z, "tokenize", D, k, "none");
    for (let l = 0; l < o.blocks; l++) {
      const p = `block_${l}`;
      // Output token hh = head hh of every token, in token order; plus the residual.
      const mixed = new Float64Array(T * D);
      for (let hh = 0; hh < T; hh++) for (let t = 0; t < T; t++) for (let c = 0; c < dh; c++) mixed[hh * T * dh + t * dh + c] = h[t * D + hh * dh + c]!;
      const s = tokenNorm(mixed.map((v, j) => v + h[j]!), `${p}.ln1`);
      const f = o.moe ? tokenExperts(s, p) : grouped(grouped(s, `${p}.ffn1`, F, D, "gelu"), `${p}.ffn2`, D, F, "none");
      h = tokenNorm(f.map((v, j) => v + s[j]!), `${p}.ln2`);
    }
    return mlp(weights, "head", h, o.head);
  });
  return { ctr };
}
