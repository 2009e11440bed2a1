// Steps of the dense ops: GEMMs (linear, matmul), DCN cross, interaction,
// norms, softmax, elementwise, concat and slice. All arguments are resolved
// when the plan is built; a run is one or two native calls.
import { GraphError, type Node } from "../../graph/schema";
import { activationCode, binaryOps } from "../../ffi/activations";
import { weightValues } from "../weight-cache";
import { type PlanContext, type Slot, type Step, type StepBuilder, rowsOf } from "../plan-context";

const BIN = (name: string) => binaryOps.indexOf(name as (typeof binaryOps)[number]);
const f32 = (ctx: PlanContext, name: string | undefined) => (name ? (ctx.weight(name).data as Float32Array) : null);

function step(node: Node, run: Step["run"]): Step {
  return { node: node.name, op: node.op, run };
}

/** Copy rows × width from one slot view to another (a strided copy through rf_activation "none"). */
export function copyRows(ctx: PlanContext, node: Node, src: Float32Array, lds: number, dst: Float32Array, ldd: number, width: number, rows: (s: Parameters<Step["run"]>[0]) => number): Step {
  return step(node, (s) => ctx.check(ctx.sym.rf_activation(null, 0, rows(s), width, src, lds, dst, ldd), node));
}

const linear: StepBuilder = (node, ctx) => {
  const [xName, wName, bName, rName] = node.inputs;
  const x = ctx.slot(xName!);
  const y = ctx.slot(node.outputs[0]!);
  const w = ctx.packed.get(wName!).handle;
  const bias = f32(ctx, bName);
  const res = rName ? ctx.slot(rName) : null;
  const act = activationCode(ctx.attrs(node).act ?? "none");
  const slots = ((ctx.attrs(node).slots as number[] | undefined) ?? []).reduce((p, q) => p * q, 1);
  if (slots > 1) {
    // Per-slot linear: rows × slots GEMM rows of k, on contiguous rows.
    for (const [name, v] of [[xName!, x], [node.outputs[0]!, y], ...(res ? [[rName!, res] as const] : [])] as const) {
      if (v.ld !== v.width) throw new Error(`node "${node.name}": per-slot linear needs "${name}" stored contiguously`);
    }
    const k = x.width / slots;
    const n = y.width / slots;
    // History tokens stored jagged (jagged-tokens.ts): one GEMM over the batch's Σ events rows.
    const jagged = ctx.jagged(node.outputs[0]!);
    if (jagged) return step(node, () => {
      if (jagged.total > 0) ctx.check(ctx.sym.rf_gemm(null, jagged.total, x.data, k, w, bias, act, res?.data ?? null, res ? n : 0, y.data, n), node);
    });
    return step(node, (s) => ctx.check(ctx.sym.rf_gemm(null, rowsOf(y, s) * slots, x.data, k, w, bias, act, res?.data ?? null, res ? n : 0, y.data, n), node));
  }
  return step(node, (s) => ctx.check(ctx.sym.rf_gemm(null, rowsOf(y, s), x.data, x.ld, w, bias, act, res?.data ?? null, res?.ld ?? 0, y.data, y.ld), node));
};

const matmul: StepBuilder = (node, ctx) => {
  const [xName, wName] = node.inputs as [string, string];
  const [k, n] = ctx.weight(wName).shape as [number, number];
  const w = ctx.packed.derived(`${wName}:T`, n, k, () => {
    const src = weightValues(ctx.graph, new Map([[wName, ctx.weight(wName)]]), wName);
    const t = new Float32Array(n * k);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) t[c * k + r] = src[r * n + c]!;
    return t;
  }).handle;
  const x = ctx.slot(xName);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => ctx.check(ctx.sym.rf_gemm(null, rowsOf(y, s), x.data, x.ld, w, null, 0, null, 0, y.data, y.ld), node));
};

const cross: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const [x0n, xn, w1, w2, w3] = node.inputs;
  const x0 = ctx.slot(x0n!);
  const x = ctx.slot(xn!);
  const y = ctx.slot(node.outputs[0]!);
  const w = ctx.packed.get(w1!).handle;
  const u = a.lowRank ? ctx.packed.get(w2!).handle : null;
  const bias = f32(ctx, a.lowRank ? w3 : w2);
  return step(node, (s) => ctx.check(ctx.sym.rf_cross_layer(null, rowsOf(y, s), x0.data, x0.ld, x.data, x.ld, w, u, bias, y.data, y.ld), node));
};

function binary(node: Node, ctx: PlanContext): Step {
  let [aName, bName] = node.inputs as [string, string];
  if (ctx.isWeight(aName) && !ctx.isWeight(bName)) {
    if (node.op !== "add" && node.op !== "mul") throw new GraphError(`node "${node.name}": ${node.op} with a weight as first operand is not supported`);
    [aName, bName] = [bName, aName];
  }
  const a = ctx.slot(aName);
  const y = ctx.slot(node.outputs[0]!);
  const op = BIN(node.op);
  if (ctx.isWeight(bName)) {
    const b = ctx.weight(bName).data as Float32Array;
    return step(node, (s) => ctx.check(ctx.sym.rf_binary(null, op, rowsOf(y, s), y.width, a.data, a.ld, b, 0, y.data, y.ld), node));
  }
  const b = ctx.slot(bName);
  // History tokens stored jagged (jagged-tokens.ts): the batch's Σ events token rows.
  const jagged = ctx.jagged(node.outputs[0]!);
  if (jagged) {
    const d = y.width / jagged.length;
    for (const v of [a, b, y]) if (v.ld !== v.width) throw new Error(`node "${node.name}": jagged history tokens must be stored contiguously`);
    return step(node, () => {
      if (jagged.total > 0) ctx.check(ctx.sym.rf_binary(null, op, jagged.total, d, a.data, d, b.data, d, y.data, d), node);
    });
  }
  return step(node, (s) => ctx.check(ctx.sym.rf_binary(null, op, rowsOf(y, s), y.width, a.data, a.ld, b.data, b.ld, y.data, y.ld), node));
}

function activation(node: Node, ctx: PlanContext): Step {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const act = activationCode(node.op);
  return step(node, (s) => ctx.check(ctx.sym.rf_activation(null, act, rowsOf(y, s), y.width, x.data, x.ld, y.data, y.ld), node));
}

const softmax: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => ctx.check(ctx.sym.rf_softmax(null, rowsOf(y, s), y.width, x.data, x.ld, y.data, y.ld), node));
};

const layerNorm: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const gamma = f32(ctx, node.inputs[1]);
  const beta = f32(ctx, node.inputs[2]);
  const eps = ctx.attrs(node).eps as number;
  return step(node, (s) => ctx.check(ctx.sym.rf_layer_norm(null, rowsOf(y, s), y.width, x.data, x.ld, gamma, beta, eps, y.data, y.ld), node));
};

const rmsNorm: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const gamma = f32(ctx, node.inputs[1]);
  const eps = ctx.attrs(node).eps as number;
  return step(node, (s) => ctx.check(ctx.sym.rf_rms_norm(null, rowsOf(y, s), y.width, x.data, x.ld, gamma, eps, y.data, y.ld), node));
};

/** Uncompiled batch norm: y = x * s + t with s, t folded from the statistics at plan time. */
const batchNorm: StepBuilder = (node, ctx) => {
  const [, g, b, m, v] = node.inputs.map((n) => (ctx.isWeight(n) ? (ctx.weight(n).data as Float32Array) : null));
  const eps = ctx.attrs(node).eps as number;
  const scale = Float32Array.from(g!, (gi, i) => gi / Math.sqrt(v![i]! + eps));
  const shift = Float32Array.from(b!, (bi, i) => bi - m![i]! * scale[i]!);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    ctx.check(ctx.sym.rf_binary(null, 2, rows, y.width, x.data, x.ld, scale, 0, y.data, y.ld), node);
    ctx.check(ctx.sym.rf_binary(null, 0, rows, y.width, y.data, y.ld, shift, 0, y.data, y.ld), node);
  });
};

const dotInteraction: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const dense = a.concatDense ? 1 : 0;
  const self = a.self ? 1 : 0;
  return step(node, (s) => ctx.check(ctx.sym.rf_dot_interaction(null, rowsOf(y, s), a.f, a.d, x.data, x.ld, dense, self, y.data, y.ld), node));
};

/** Concat: inputs already written in place (aliases) cost nothing; the rest are copied into their slice. */
const concat: StepBuilder = (node, ctx) => {
  const y = ctx.slot(node.outputs[0]!);
  const copies: Step[] = [];
  let offset = 0;
  for (const input of node.inputs) {
    const x = ctx.slot(input);
    const target = y.data.subarray(offset);
    // Already in place (concat elimination aliased it into this slice)? Asked of the storage the
    // plan gave it, so a graph input (never aliased) stays readable in place: its rows are read when the step runs.
    const stored = ctx.storage(input);
    const inPlace = stored.buffer === target.buffer && stored.byteOffset === target.byteOffset && x.ld === y.ld;
    if (!inPlace) copies.push(step(node, (s) => ctx.check(ctx.sym.rf_activation(null, 0, rowsOf(y, s), x.width, x.data, x.ld, target, y.ld), node)));
    offset += x.width;
  }
  return step(node, (s) => {
    for (const c of copies) c.run(s);
  });
};

const slice: StepBuilder = (node, ctx) => {
  const { start } = ctx.attrs(node);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return copyRows(ctx, node, x.data.subarray(start), x.ld, y.data, y.ld, y.width, (s) => rowsOf(y, s));
};

export const denseSteps: Record<string, StepBuilder> = {
  linear,
  matmul,
  cross,
  add: binary,
  sub: binary,
  mul: binary,
  div: binary,
  relu: activation,
  gelu: activation,
  silu: activation,
  sigmoid: activation,
  tanh: activation,
  softmax,
  layer_norm: layerNorm,
  rms_norm: rmsNorm,
  batch_norm: batchNorm,
  dot_interaction: dotInteraction,
  concat,
  slice,
};

export type { Slot };
