// Typed wrappers of the dense kernels: GEMM, DCN cross, interaction, norms,
// softmax, top-k, elementwise. Every shape and dtype is checked here, before C.
import { TensorError } from "../errors";
import { type MatrixView, type Tensor, matrixView, tensor, vectorData } from "../tensor/tensor";
import { type Activation, type BinaryOp, activations, binaryOps, enumCode } from "./activations";
import type { Stream } from "./device";
import { check, native } from "./native";
import type { PackedWeight } from "./weights";

/** Validate or allocate an f32 output of exactly rows × cols. */
export function outputMatrix(y: Tensor | undefined, rows: number, cols: number, name: string): { t: Tensor<"f32">; m: MatrixView } {
  const t = (y ?? tensor("f32", [rows, cols])) as Tensor<"f32">;
  const m = matrixView(t, name);
  if (m.rows !== rows || m.cols !== cols) {
    throw new TensorError(`${name}: expected shape [${rows}, ${cols}], got [${m.rows}, ${m.cols}]`, "bad_shape");
  }
  return { t, m };
}

function expectShape(m: MatrixView, rows: number, cols: number, name: string): void {
  if (m.rows !== rows || m.cols !== cols) {
    throw new TensorError(`${name}: expected shape [${rows}, ${cols}], got [${m.rows}, ${m.cols}]`, "bad_shape");
  }
}

const streamOf = (s?: Stream) => s?.handle ?? null;

export interface GemmArgs {
  x: Tensor;
  w: PackedWeight;
  bias?: Tensor;
  act?: Activation;
  residual?: Tensor;
  y?: Tensor;
  stream?: Stream;
}

/** y = act(x · wᵀ + bias) + residual; returns y ([m, n], allocated when omitted). */
export function gemm({ x, w, bias, act = "none", residual, y, stream }: GemmArgs): Tensor<"f32"> {
  const xm = matrixView(x, "gemm x");
  if (xm.cols !== w.k) throw new TensorError(`gemm x: has ${xm.cols} columns, the weight expects k = ${w.k}`, "bad_shape");
  const biasData = bias ? vectorData(bias, "gemm bias", "f32", w.n) : null;
  const rm = residual ? matrixView(residual, "gemm residual") : undefined;
  if (rm) expectShape(rm, xm.rows, w.n, "gemm residual");
  const out = outputMatrix(y, xm.rows, w.n, "gemm y");
  const code = enumCode(activations, act, "gemm act");
  check(
    native().rf_gemm(streamOf(stream), xm.rows, xm.data, xm.ld, w.handle, biasData, code, rm?.data ?? null, rm?.ld ?? 0, out.m.data, out.m.ld),
    "rf_gemm",
  );
  return out.t;
}

export interface CrossArgs {
  x0: Tensor;
  x: Tensor;
  /** Full rank: W [d, d]. Low rank: V [r, d] (with `u`). */
  w: PackedWeight;
  /** Low rank: U [d, r]. */
  u?: PackedWeight;
  bias?: Tensor;
  y?: Tensor;
  stream?: Stream;
}

/** DCN-v2 cross layer: y = x0 ⊙ (W·x + b) + x (W = U·V when low rank). */
export function crossLayer({ x0, x, w, u, bias, y, stream }: CrossArgs): Tensor<"f32"> {
  const xm = matrixView(x, "cross x");
  const x0m = matrixView(x0, "cross x0");
  const d = xm.cols;
  expectShape(x0m, xm.rows, d, "cross x0");
  if (u) {
    if (w.k !== d || u.n !== d || u.k !== w.n) {
      throw new TensorError(`cross: low rank needs V [r, ${d}] and U [${d}, r], got V [${w.n}, ${w.k}] and U [${u.n}, ${u.k}]`, "bad_shape");
    }
  } else if (w.n !== d || w.k !== d) {
    throw new TensorError(`cross: full rank needs W [${d}, ${d}], got [${w.n}, ${w.k}]`, "bad_shape");
  }
  const biasData = bias ? vectorData(bias, "cross bias", "f32", d) : null;
  const out = outputMatrix(y, xm.rows, d, "cross y");
  check(
    native().rf_cross_layer(streamOf(stream), xm.rows, x0m.data, x0m.ld, xm.data, xm.ld, w.handle, (u?.handle ?? null), biasData, out.m.data, out.m.ld),
    "rf_cross_layer",
  );
  return out.t;
}

export interface InteractionArgs {
  /** [m, f*d]: f feature vectors of d floats per row. */
  x: Tensor;
  f: number;
  d: number;
  concatDense?: boolean;
  selfInteraction?: boolean;
  out?: Tensor;
  stream?: Stream;
}

/** Width of rf_dot_interaction's output row. */
export function interactionWidth(f: number, d: number, concatDense: boolean, selfInteraction: boolean): number {
  return (concatDense ? d : 0) + (selfInteraction ? (f * (f + 1)) / 2 : (f * (f - 1)) / 2);
}

/** DLRM pairwise dot interaction (lower triangle), optionally prefixed by the dense vector. */
export function dotInteraction({ x, f, d, concatDense = false, selfInteraction = false, out, stream }: InteractionArgs): Tensor<"f32"> {
  const xm = matrixView(x, "interaction x");
  if (!Number.isInteger(f) || !Number.isInteger(d) || f < 1 || d < 1) throw new TensorError(`interaction: f and d must be positive integers, got ${f}, ${d}`);
  if (xm.cols !== f * d) throw new TensorError(`interaction x: expected ${f} × ${d} = ${f * d} columns, got ${xm.cols}`, "bad_shape");
  const o = outputMatrix(out, xm.rows, interactionWidth(f, d, concatDense, selfInteraction), "interaction out");
  check(
    native().rf_dot_interaction(streamOf(stream), xm.rows, f, d, xm.data, xm.ld, concatDense ? 1 : 0, selfInteraction ? 1 : 0, o.m.data, o.m.ld),
    "rf_dot_interaction",
  );
  return o.t;
}

export interface GruArgs {
  /** [m, steps·3h]: x_t·Wᵀ + Wb of every step, gate blocks z | r | n. */
  gx: Tensor;
  steps: number;
  h: number;
  /** [h, 3h]: the recurrent weights transposed. */
  rt: Tensor;
  /** [3h], or omitted (zeros). */
  rb?: Tensor;
  linearBeforeReset?: boolean;
  /** [m, steps·h]: every step's state. */
  y?: Tensor;
  stream?: Stream;
}

/** The GRU recurrence over each row's sequence (rankfn.h rf_gru_sequence): all steps' states. */
export function gruSequence({ gx, steps, h, rt, rb, linearBeforeReset = false, y, stream }: GruArgs): Tensor<"f32"> {
  const gm = matrixView(gx, "gru gx");
  if (!Number.isInteger(steps) || !Number.isInteger(h) || steps < 1 || h < 1) throw new TensorError(`gru: steps and h must be positive integers, got ${steps}, ${h}`);
  if (gm.cols !== steps * 3 * h) throw new TensorError(`gru gx: expected ${steps} × 3·${h} = ${steps * 3 * h} columns, got ${gm.cols}`, "bad_shape");
  const rm = matrixView(rt, "gru rt");
  if (rm.rows !== h || rm.cols !== 3 * h || rm.ld !== 3 * h || rt.dtype !== "f32") throw new TensorError(`gru rt: expected a contiguous f32 [${h}, ${3 * h}], got [${rm.rows}, ${rm.cols}]`, "bad_shape");
  const w = rm.data;
  const b = rb ? vectorData(rb, "gru rb", "f32", 3 * h) : null;
  const o = outputMatrix(y, gm.rows, steps * h, "gru y");
  check(native().rf_gru_sequence(streamOf(stream), gm.rows, steps, h, gm.data, gm.ld, w, b, linearBeforeReset ? 1 : 0, o.m.data, o.m.ld), "rf_gru_sequence");
  return o.t;
}

function finiteEps(eps: number, what: string): number {
  if (!Number.isFinite(eps) || eps < 0) throw new TensorError(`${what}: eps must be a finite number >= 0, got ${eps}`);
  return eps;
}

/** Layer norm over each row; gamma/beta are f32 [n] or omitted. */
export function layerNorm({ x, gamma, beta, eps = 1e-5, y, stream }: { x: Tensor; gamma?: Tensor; beta?: Tensor; eps?: number; y?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const xm = matrixView(x, "layerNorm x");
  const g = gamma ? vectorData(gamma, "layerNorm gamma", "f32", xm.cols) : null;
  const b = beta ? vectorData(beta, "layerNorm beta", "f32", xm.cols) : null;
  const o = outputMatrix(y, xm.rows, xm.cols, "layerNorm y");
  check(native().rf_layer_norm(streamOf(stream), xm.rows, xm.cols, xm.data, xm.ld, g, b, finiteEps(eps, "layerNorm"), o.m.data, o.m.ld), "rf_layer_norm");
  return o.t;
}

/** RMS norm over each row; gamma is f32 [n] or omitted. */
export function rmsNorm({ x, gamma, eps = 1e-6, y, stream }: { x: Tensor; gamma?: Tensor; eps?: number; y?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const xm = matrixView(x, "rmsNorm x");
  const g = gamma ? vectorData(gamma, "rmsNorm gamma", "f32", xm.cols) : null;
  const o = outputMatrix(y, xm.rows, xm.cols, "rmsNorm y");
  check(native().rf_rms_norm(streamOf(stream), xm.rows, xm.cols, xm.data, xm.ld, g, finiteEps(eps, "rmsNorm"), o.m.data, o.m.ld), "rf_rms_norm");
  return o.t;
}

/** Softmax over each row. */
export function softmax({ x, y, stream }: { x: Tensor; y?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const xm = matrixView(x, "softmax x");
  const o = outputMatrix(y, xm.rows, xm.cols, "softmax y");
  check(native().rf_softmax(streamOf(stream), xm.rows, xm.cols, xm.data, xm.ld, o.m.data, o.m.ld), "rf_softmax");
  return o.t;
}

/** The k largest values of each row (descending, ties to the lower index) and their indices. */
export function topk({ x, k, values, indices, stream }: { x: Tensor; k: number; values?: Tensor; indices?: Tensor; stream?: Stream }): { values: Tensor<"f32">; indices: Tensor<"i32"> } {
  const xm = matrixView(x, "topk x");
  if (!Number.isInteger(k) || k < 1 || k > xm.cols) throw new TensorError(`topk: k must be an integer in [1, ${xm.cols}], got ${k}`, "bad_k");
  const v = outputMatrix(values, xm.rows, k, "topk values");
  const it = (indices ?? tensor("i32", [xm.rows, k])) as Tensor<"i32">;
  const im = matrixView(it, "topk indices", "i32");
  expectShape(im, xm.rows, k, "topk indices");
  if (im.ld !== v.m.ld) throw new TensorError(`topk: values and indices must share a row stride (${v.m.ld} vs ${im.ld})`, "bad_strides");
  check(native().rf_topk(streamOf(stream), xm.rows, xm.cols, k, xm.data, xm.ld, v.m.data, im.data, v.m.ld), "rf_topk");
  return { values: v.t, indices: it };
}

/** y = a op b elementwise; b with one row is broadcast to every row of a. */
export function binary({ op, a, b, y, stream }: { op: BinaryOp; a: Tensor; b: Tensor; y?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const am = matrixView(a, `${op} a`);
  const bm = matrixView(b, `${op} b`);
  if (bm.cols !== am.cols || (bm.rows !== am.rows && bm.rows !== 1)) {
    throw new TensorError(`${op}: b has shape [${bm.rows}, ${bm.cols}], expected [${am.rows}, ${am.cols}] or [1, ${am.cols}]`, "bad_shape");
  }
  const code = enumCode(binaryOps, op, "binary op");
  const o = outputMatrix(y, am.rows, am.cols, `${op} y`);
  const ldb = bm.rows === 1 && am.rows !== 1 ? 0 : bm.ld;
  check(native().rf_binary(streamOf(stream), code, am.rows, am.cols, am.data, am.ld, bm.data, ldb, o.m.data, o.m.ld), "rf_binary");
  return o.t;
}

/** y = act(x) elementwise (y may be x). */
export function activation({ act, x, y, stream }: { act: Activation; x: Tensor; y?: Tensor; stream?: Stream }): Tensor<"f32"> {
  const xm = matrixView(x, `${act} x`);
  const code = enumCode(activations, act, "activation");
  const o = outputMatrix(y, xm.rows, xm.cols, `${act} y`);
  check(native().rf_activation(streamOf(stream), code, xm.rows, xm.cols, xm.data, xm.ld, o.m.data, o.m.ld), "rf_activation");
  return o.t;
}

export interface AttentionArgs {
  /** Candidate queries [n, d]. */
  q: Tensor;
  /** Behaviour sequences, one row per request: [requests, T·d]. */
  keys: Tensor;
  /** [requests, T]: 0 masks a step out. */
  mask: Tensor;
  /** i32 [n]: the request (row of keys/mask) of each candidate. */
  requestOfRow: Tensor;
  /** Wq·q + b1 per candidate [n, h] and Wk·k per step [requests·T, h] (rf_gemm outputs). */
  qp: Tensor;
  kp: Tensor;
  /** Wqk [h, d], w2 [h], b2. */
  wqk: Tensor;
  w2: Tensor;
  b2: number;
  act?: Activation;
  out?: Tensor;
  stream?: Stream;
}

/** DIN target attention (per-candidate part): see rf_target_attention in rankfn.h. */
export function targetAttention({ q, keys, mask, requestOfRow, qp, kp, wqk, w2, b2, act = "sigmoid", out, stream }: AttentionArgs): Tensor<"f32"> {
  const qm = matrixView(q, "attention q");
  const km = matrixView(keys, "attention keys");
  const mm = matrixView(mask, "attention mask");
  const d = qm.cols;
  const T = mm.cols;
  if (km.cols !== T * d) throw new TensorError(`attention keys: expected T × d = ${T * d} columns, got ${km.cols}`, "bad_shape");
  if (mm.rows !== km.rows) throw new TensorError(`attention mask: has ${mm.rows} rows, keys have ${km.rows}`, "bad_shape");
  const req = vectorData(requestOfRow, "attention requestOfRow", "i32", qm.rows);
  const wm = matrixView(wqk, "attention wqk");
  const h = wm.rows;
  if (wm.cols !== d || wm.ld !== d) throw new TensorError(`attention wqk: expected a contiguous [${h}, ${d}] tensor`, "bad_shape");
  const w2d = vectorData(w2, "attention w2", "f32", h);
  const qpm = matrixView(qp, "attention qp");
  expectShape(qpm, qm.rows, h, "attention qp");
  const kpm = matrixView(kp, "attention kp");
  expectShape(kpm, km.rows * T, h, "attention kp");
  if (kpm.ld !== h) throw new TensorError("attention kp: must be contiguous", "bad_strides");
  const o = outputMatrix(out, qm.rows, d, "attention out");
  const code = enumCode(activations, act, "attention act");
  check(
    native().rf_target_attention(streamOf(stream), qm.rows, T, d, h, qm.data, qm.ld, km.data, km.ld, mm.data, mm.ld, req, km.rows, qpm.data, qpm.ld, kpm.data, wm.data, w2d, b2, code, o.m.data, o.m.ld),
    "rf_target_attention",
  );
  return o.t;
}
