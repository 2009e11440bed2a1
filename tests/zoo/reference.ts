// Independent float64 forward passes of the zoo architectures, written by hand
// from the op semantics in runtime/graph/ops.ts — one function per
// architecture, no graph interpretation. Each takes the architecture options
// (as given to the builder), the builder's weights (looked up by the names the
// builders document) and a request, and returns each output's value per
// candidate row. Context inputs are broadcast to every candidate row.
import type { Tensor } from "../../runtime/tensor/tensor";
import type { ZooName, ZooOptions } from "../../sdk/zoo";
import { dcnv2Options } from "../../sdk/zoo/dcnv2";
import { deepfmOptions } from "../../sdk/zoo/deepfm";
import { dinOptions } from "../../sdk/zoo/din";
import { dlrmOptions } from "../../sdk/zoo/dlrm";
import { mmoeOptions } from "../../sdk/zoo/mmoe";
import { moeOptions } from "../../sdk/zoo/moe";
import { pleOptions } from "../../sdk/zoo/ple";
import { widedeepOptions } from "../../sdk/zoo/widedeep";
import { type Act, act } from "../kernels/reference";
import { type ZooRequest, inputRow } from "./requests";
import { referenceHstu, referenceRankmixer } from "./reference-sequence";
import { referenceBst } from "./reference-bst";

/** The largest |got − want| over the largest |want| (at least 1e-3): the float32-vs-float64 error the zoo tests bound. */
export function normalisedError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1e-3;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
  return worst;
}

export { act };

export type Weights = Map<string, Tensor>;
export type Outputs = Record<string, Float64Array>;
type Vec = ArrayLike<number>;

// ---------------------------------------------------------------- helpers (f64)

/** An f32 weight's values and shape, checked against the expected shape. */
function w(weights: Weights, name: string, shape?: number[]): { data: Float32Array; shape: number[] } {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing weight "${name}"`);
  if (t.dtype !== "f32" || t.strides) throw new Error(`reference: weight "${name}" must be contiguous f32`);
  if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
    throw new Error(`reference: weight "${name}" is [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
  }
  return { data: t.data as Float32Array, shape: t.shape };
}


/** y = act(W x + b), W [n, k] row-major. */
function matvec(x: Vec, W: Float32Array, n: number, k: number, b: Vec | null, a: Act = "none"): Float64Array {
  if (x.length !== k) throw new Error(`reference: matvec input has ${x.length} elements, expected ${k}`);
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let acc = b ? b[j]! : 0;
    for (let l = 0; l < k; l++) acc += W[j * k + l]! * x[l]!;
    y[j] = act(a, acc);
  }
  return y;
}

/** The linear layer `prefix` (`prefix.weight` [n, k], `prefix.bias` [n]) then `a`. */
function linear(weights: Weights, prefix: string, x: Vec, n: number, a: Act = "none"): Float64Array {
  const W = w(weights, `${prefix}.weight`, [n, x.length]);
  const b = w(weights, `${prefix}.bias`, [n]);
  return matvec(x, W.data, n, x.length, b.data, a);
}

function mlp(weights: Weights, prefix: string, x: Vec, sizes: readonly number[], a: Act, last: Act): Float64Array {
  let h: Vec = x;
  sizes.forEach((n, i) => (h = linear(weights, `${prefix}.${i}`, h, n, i === sizes.length - 1 ? last : a)));
  return Float64Array.from(h);
}

/** Sum of table rows for the ids of one bag, skipping padding (-1); an empty bag is zeros. */
function bagSum(table: { data: Float32Array; shape: number[] }, ids: readonly number[]): Float64Array {
  const [rows, dim] = table.shape as [number, number];
  const out = new Float64Array(dim);
  for (const id of ids) {
    if (id === -1) continue;
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new Error(`reference: id ${id} outside the table's ${rows} rows`);
    for (let c = 0; c < dim; c++) out[c]! += table.data[id * dim + c]!;
  }
  return out;
}

function concat(...parts: Vec[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[o++] = p[i]!;
  return out;
}

function softmax(x: Vec): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]!);
  const e = Float64Array.from(x, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function layerNorm(x: Vec, gamma: Vec, beta: Vec, eps: number): Float64Array {
  const n = x.length;
  let mu = 0;
  for (let i = 0; i < n; i++) mu += x[i]!;
  mu /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i]! - mu) ** 2;
  v /= n;
  const inv = 1 / Math.sqrt(v + eps);
  return Float64Array.from({ length: n }, (_, i) => (x[i]! - mu) * inv * gamma[i]! + beta[i]!);
}

/** Σ_e g[e] · experts[e]. */
function mix(g: Vec, experts: Vec[]): Float64Array {
  const out = new Float64Array(experts[0]!.length);
  experts.forEach((e, k) => {
    for (let c = 0; c < out.length; c++) out[c]! += g[k]! * e[c]!;
  });
  return out;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Run `row` for every candidate row; collect each output's scalar. */
function perRow(req: ZooRequest, names: readonly string[], row: (i: number) => number[]): Outputs {
  const out: Outputs = Object.fromEntries(names.map((n) => [n, new Float64Array(req.rows)]));
  for (let i = 0; i < req.rows; i++) row(i).forEach((v, j) => (out[names[j]!]![i] = v));
  return out;
}

/** concat(dense, Σ-pooled cat_k embeddings): the shared feature vector (tables emb_k.table [rows_k, dim]). */
function features(weights: Weights, req: ZooRequest, i: number, o: { denseFeatures: number; embeddingDim: number; rows: readonly number[] }): Float64Array {
  const x = inputRow(req, "dense", i);
  if (x.length !== o.denseFeatures) throw new Error(`reference: dense has ${x.length} features, expected ${o.denseFeatures}`);
  const embs = o.rows.map((rows, k) => bagSum(w(weights, `emb_${k}.table`, [rows, o.embeddingDim]), inputRow(req, `cat_${k}`, i)));
  return concat(x, ...embs);
}

// ---------------------------------------------------------------- architectures

export function referenceDlrm(options: Partial<ZooOptions["dlrm"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = dlrmOptions(options);
  const d = o.embeddingDim;
  const r = o.crossRank;
  return perRow(req, ["ctr"], (i) => {
    const bottom = mlp(weights, "bottom", inputRow(req, "dense", i), o.bottomMlp, "relu", "relu");
    const pooled = o.multiHot.map((_, k) => bagSum(w(weights, `emb_${k}.table`, [o.tableRows[k]!, d]), inputRow(req, `cat_${k}`, i)));
    const x0 = concat(bottom, ...pooled);
    const width = x0.length;
    let x = x0;
    for (let l = 0; l < o.crossLayers; l++) {
      // x_{l+1} = x0 ⊙ (U (V x_l) + b) + x_l
      const v = matvec(x, w(weights, `cross_${l}.V`, [r, width]).data, r, width, null);
      const u = matvec(v, w(weights, `cross_${l}.U`, [width, r]).data, width, r, w(weights, `cross_${l}.bias`, [width]).data);
      x = Float64Array.from(x, (xv, c) => x0[c]! * u[c]! + xv);
    }
    return [mlp(weights, "top", x, o.topMlp, "relu", "sigmoid")[0]!];
  });
}

export function referenceDcnv2(options: Partial<ZooOptions["dcnv2"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = dcnv2Options(options);
  return perRow(req, ["ctr"], (i) => {
    const x0 = features(weights, req, i, o);
    const d = x0.length;
    let c = x0;
    for (let l = 0; l < o.crossLayers; l++) {
      const u = matvec(c, w(weights, `cross_${l}.W`, [d, d]).data, d, d, w(weights, `cross_${l}.bias`, [d]).data);
      c = Float64Array.from(c, (cv, j) => x0[j]! * u[j]! + cv);
    }
    const top = o.structure === "stacked" ? mlp(weights, "deep", c, o.deepMlp, "relu", "relu") : concat(c, mlp(weights, "deep", x0, o.deepMlp, "relu", "relu"));
    return [linear(weights, "head", top, 1, "sigmoid")[0]!];
  });
}

export function referenceDeepfm(options: Partial<ZooOptions["deepfm"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = deepfmOptions(options);
  const f = o.multiHot.length;
  const d = o.embeddingDim;
  return perRow(req, ["ctr"], (i) => {
    const x = inputRow(req, "dense", i);
    const ids = Array.from({ length: f }, (_, k) => inputRow(req, `field_${k}`, i));
    let first = linear(weights, "dense_linear", x, 1)[0]!;
    ids.forEach((b, k) => (first += bagSum(w(weights, `w1_${k}.table`, [o.rows[k]!, 1]), b)[0]!));
    const v = ids.map((b, k) => bagSum(w(weights, `emb_${k}.table`, [o.rows[k]!, d]), b));
    // FM: 0.5 Σ_c ((Σ_i v_ic)² − Σ_i v_ic²)
    let fm = 0;
    for (let c = 0; c < d; c++) {
      let s = 0;
      let sq = 0;
      for (const vi of v) {
        s += vi[c]!;
        sq += vi[c]! * vi[c]!;
      }
      fm += 0.5 * (s * s - sq);
    }
    const deep = mlp(weights, "deep", concat(x, ...v), [...o.deepMlp, 1], "relu", "none")[0]!;
    return [sigmoid(first + fm + deep)];
  });
}

export function referenceWidedeep(options: Partial<ZooOptions["widedeep"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = widedeepOptions(options);
  return perRow(req, ["ctr"], (i) => {
    const x = inputRow(req, "dense", i);
    const ids = o.multiHot.map((_, k) => inputRow(req, `cat_${k}`, i));
    let wide = linear(weights, "wide_dense", x, 1)[0]!;
    ids.forEach((b, k) => (wide += bagSum(w(weights, `wide_${k}.table`, [o.rows[k]!, 1]), b)[0]!));
    o.crossTableRows.forEach((rows, j) => (wide += bagSum(w(weights, `wide_cross_${j}.table`, [rows, 1]), inputRow(req, `cross_${j}`, i))[0]!));
    const embs = ids.map((b, k) => bagSum(w(weights, `emb_${k}.table`, [o.rows[k]!, o.embeddingDim]), b));
    const deep = mlp(weights, "deep", concat(x, ...embs), [...o.deepMlp, 1], "relu", "none")[0]!;
    return [sigmoid(wide + deep)];
  });
}

export function referenceDin(options: Partial<ZooOptions["din"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = dinOptions(options);
  const d = o.embeddingDim;
  const T = o.sequenceLength;
  const h = o.attentionHidden;
  const table = w(weights, "item.table", [o.itemTableRows, d]);
  const W1 = w(weights, "attention.W1", [h, 4 * d]).data;
  const b1 = w(weights, "attention.b1", [h]).data;
  const W2 = w(weights, "attention.W2", [1, h]).data;
  const b2 = w(weights, "attention.b2", [1]).data;
  return perRow(req, ["ctr"], (i) => {
    const user = o.userTableRows.map((rows, j) => bagSum(w(weights, `user_emb_${j}.table`, [rows, d]), inputRow(req, `user_${j}`, i)));
    const q = bagSum(table, inputRow(req, "item_id", i));
    const attended = new Float64Array(d);
    const hist = inputRow(req, "hist", i);
    for (let t = 0; t < T; t++) {
      if (hist[t] === -1) continue; // masked: weight 0 (and its key is zeros anyway)
      const k = bagSum(table, [hist[t]!]);
      const feat = concat(q, k, q.map((qv, c) => qv - k[c]!), q.map((qv, c) => qv * k[c]!));
      const hidden = matvec(feat, W1, h, 4 * d, b1, o.attentionAct);
      const a = matvec(hidden, W2, 1, h, b2)[0]!;
      for (let c = 0; c < d; c++) attended[c]! += a * k[c]!;
    }
    return [mlp(weights, "mlp", concat(...user, attended, q), o.mlp, "relu", "sigmoid")[0]!];
  });
}

export function referenceMmoe(options: Partial<ZooOptions["mmoe"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = mmoeOptions(options);
  return perRow(req, o.tasks, (i) => {
    const x = features(weights, req, i, o);
    const experts = Array.from({ length: o.experts }, (_, e) => mlp(weights, `expert_${e}`, x, o.expertMlp, "relu", "relu"));
    return o.tasks.map((task) => {
      const g = softmax(linear(weights, `gate_${task}`, x, o.experts));
      return mlp(weights, `tower_${task}`, mix(g, experts), o.towerMlp, "relu", "sigmoid")[0]!;
    });
  });
}

export function referencePle(options: Partial<ZooOptions["ple"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = pleOptions(options);
  return perRow(req, o.tasks, (i) => {
    const x = features(weights, req, i, o);
    let taskIn: Float64Array[] = o.tasks.map(() => x);
    let sharedIn = x;
    for (let l = 0; l < o.layers; l++) {
      const p = `ple_${l}`;
      const own = o.tasks.map((task, t) => Array.from({ length: o.taskExperts }, (_, k) => mlp(weights, `${p}.${task}.expert_${k}`, taskIn[t]!, o.expertMlp, "relu", "relu")));
      const shared = Array.from({ length: o.sharedExperts }, (_, k) => mlp(weights, `${p}.shared.expert_${k}`, sharedIn, o.expertMlp, "relu", "relu"));
      const next = o.tasks.map((task, t) => {
        const pool = [...own[t]!, ...shared];
        return mix(softmax(linear(weights, `${p}.gate_${task}`, taskIn[t]!, pool.length)), pool);
      });
      if (l < o.layers - 1) {
        const pool = [...own.flat(), ...shared];
        sharedIn = mix(softmax(linear(weights, `${p}.gate_shared`, sharedIn, pool.length)), pool);
      }
      taskIn = next;
    }
    return o.tasks.map((task, t) => mlp(weights, `tower_${task}`, taskIn[t]!, o.towerMlp, "relu", "sigmoid")[0]!);
  });
}

export function referenceMoe(options: Partial<ZooOptions["moe"]>, weights: Weights, req: ZooRequest): Outputs {
  const o = moeOptions(options);
  const d = o.dModel;
  const h = o.expertHidden;
  return perRow(req, ["ctr"], (i) => {
    const x = features(weights, req, i, o);
    const proj = linear(weights, "proj", x, d, "relu");
    const normed = layerNorm(proj, w(weights, "ln.gamma", [d]).data, w(weights, "ln.beta", [d]).data, 1e-5);
    const logits = matvec(normed, w(weights, "moe.gate.weight", [o.experts, d]).data, o.experts, d, w(weights, "moe.gate.bias", [o.experts]).data);
    // Top-k experts: largest logits first, ties to the lower index; softmax over the chosen logits.
    const chosen = Array.from({ length: o.experts }, (_, e) => e)
      .sort((a, b) => logits[b]! - logits[a]! || a - b)
      .slice(0, o.topK);
    const p = softmax(chosen.map((e) => logits[e]!));
    const out = new Float64Array(d);
    chosen.forEach((e, j) => {
      const q = `moe.expert_${e}`;
      const hidden = matvec(normed, w(weights, `${q}.W1`, [h, d]).data, h, d, w(weights, `${q}.b1`, [h]).data, o.expertAct);
      const y = matvec(hidden, w(weights, `${q}.W2`, [d, h]).data, d, h, w(weights, `${q}.b2`, [d]).data);
      for (let c = 0; c < d; c++) out[c]! += p[j]! * y[c]!;
    });
    const residual = proj.map((v, c) => v + out[c]!);
    return [mlp(weights, "top", residual, o.topMlp, "relu", "sigmoid")[0]!];
  });
}

export const references: { [N in ZooName]: (options: Partial<ZooOptions[N]>, weights: Weights, req: ZooRequest) => Outputs } = {
  dlrm: referenceDlrm,
  dcnv2: referenceDcnv2,
  deepfm: referenceDeepfm,
  widedeep: referenceWidedeep,
  din: referenceDin,
  mmoe: referenceMmoe,
  ple: referencePle,
  moe: referenceMoe,
  hstu: referenceHstu,
  rankmixer: referenceRankmixer,
  bst: referenceBst,
};

/** The reference outputs of architecture `name` built with `options`. */
export function reference<N extends ZooName>(name: N, options: Partial<ZooOptions[N]>, weights: Weights, req: ZooRequest): Outputs {
  return references[name](options, weights, req);
}
