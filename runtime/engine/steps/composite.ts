// Steps of the composite ops, built from several kernels: DIN target
// attention (context keys projected once per request), mixtures of experts
// (dense gates and sparse top-k routing), FM and row sums; the fused
// multi-head attention step (steps/attention.ts) is listed with them.
import { type Pointer, ptr } from "bun:ffi";
import type { Node } from "../../graph/schema";
import { activationCode } from "../../ffi/activations";
import { weightValues } from "../weight-cache";
import { sparseMoeLayer } from "../../moe/from-graph";
import { type PlanContext, type RunState, type Step, type StepBuilder, rowsOf } from "../plan-context";


function step(node: Node, run: (s: RunState) => void): Step {
  return { node: node.name, op: node.op, run };
}

/** 0.5 Σ_c ((Σ_f v_fc)² − Σ_f v_fc²) per row. */
const fm: StepBuilder = (node, ctx) => {
  const { f, d } = ctx.attrs(node);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    for (let b = 0; b < rows; b++) {
      const base = b * x.ld;
      let total = 0;
      for (let c = 0; c < d; c++) {
        let sum = 0;
        let sq = 0;
        for (let i = 0; i < f; i++) {
          const v = x.data[base + i * d + c]!;
          sum += v;
          sq += v * v;
        }
        total += sum * sum - sq;
      }
      y.data[b * y.ld] = 0.5 * total;
    }
  });
};

const reduceSum: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    for (let b = 0; b < rows; b++) {
      let acc = 0;
      for (let j = 0; j < x.width; j++) acc += x.data[b * x.ld + j]!;
      y.data[b * y.ld] = acc;
    }
  });
};

/**
 * DIN attention. W1·[q, k, q−k, q⊙k] = (W1a+W1c)·q + (W1b−W1c)·k + W1d·(q⊙k): the k term
 * is one GEMM per request (context), the q term one GEMM per candidate, and the
 * q⊙k term, activation, scores and weighted sum run fused in rf_target_attention.
 */
const targetAttention: StepBuilder = (node, ctx) => {
  const { T, d, act } = ctx.attrs(node);
  const [qn, kn, mn, w1n, b1n, w2n, b2n] = node.inputs as string[];
  const q = ctx.slot(qn!);
  const keys = ctx.slot(kn!);
  const mask = ctx.slot(mn!);
  const y = ctx.slot(node.outputs[0]!);
  // Keys are also read as [requests × T, d] by the k-term GEMM: their rows must be contiguous.
  if (keys.ld !== T * d) throw new Error(`node "${node.name}": keys must be stored contiguously (row stride ${keys.ld}, expected ${T * d})`);
  const h = ctx.weight(w1n!).shape[0]!;
  const w1 = weightValues(ctx.graph, new Map([[w1n!, ctx.weight(w1n!)]]), w1n!);
  const block = (pick: (row: number, c: number) => number) => () => {
    const out = new Float32Array(h * d);
    for (let r = 0; r < h; r++) for (let c = 0; c < d; c++) out[r * d + c] = pick(r, c);
    return out;
  };
  const W = (r: number, c: number) => w1[r * 4 * d + c]!;
  const wq = ctx.packed.derived(`${w1n}:q`, h, d, block((r, c) => W(r, c) + W(r, 2 * d + c))).handle;
  const wk = ctx.packed.derived(`${w1n}:k`, h, d, block((r, c) => W(r, d + c) - W(r, 2 * d + c))).handle;
  const wqk = block((r, c) => W(r, 3 * d + c))();
  const w2 = weightValues(ctx.graph, new Map([[w2n!, ctx.weight(w2n!)]]), w2n!);
  const b1 = ctx.weight(b1n!).data as Float32Array;
  const b2 = (ctx.weight(b2n!).data as Float32Array)[0]!;
  const qp = ctx.scratch(`${node.name}.qp`, ctx.capacity * h);
  const kp = ctx.scratch(`${node.name}.kp`, ctx.capacity * T * h);
  const actCode = activationCode(act);
  const { sym } = ctx;
  return step(node, (s) => {
    const { n, r } = s;
    ctx.check(sym.rf_gemm(null, n, q.data, q.ld, wq, b1, 0, null, 0, qp, h), node);
    ctx.check(sym.rf_gemm(null, r * T, keys.data, d, wk, null, 0, null, 0, kp, h), node);
    ctx.check(sym.rf_target_attention(null, n, T, d, h, q.data, q.ld, keys.data, keys.ld, mask.data, mask.ld, s.requestOfRow, r, qp, h, kp, wqk, w2, b2, actCode, y.data, y.ld), node);
  });
};

/** out = Σ_e gate[:, e] · expert_e (first expert gathered with weights, the rest scatter-added). */
const mixture: StepBuilder = (node, ctx) => {
  const gate = ctx.slot(node.inputs[0]!);
  const experts = node.inputs.slice(1).map((e) => ctx.slot(e));
  const y = ctx.slot(node.outputs[0]!);
  const column = ctx.scratch(`${node.name}.gate`, ctx.capacity);
  const iota = ctx.scratchI32(`${node.name}.iota`, ctx.capacity);
  for (let i = 0; i < ctx.capacity; i++) iota[i] = i;
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    experts.forEach((e, j) => {
      for (let i = 0; i < rows; i++) column[i] = gate.data[i * gate.ld + j]!;
      if (j === 0) ctx.check(ctx.sym.rf_gather_rows(null, rows, y.width, e.data, e.ld, rows, iota, column, y.data, y.ld), node);
      else ctx.check(ctx.sym.rf_scatter_add_rows(null, rows, y.width, e.data, e.ld, iota, column, y.data, y.ld, rows), node);
    });
  });
};

/**
 * Sparse top-k MoE: gate logits -> top-k -> softmax over the k (routing "relu": relu of
 * each, and a weight of 0 routes nothing); rows are grouped per expert (one GEMM pair per
 * expert over just its rows) and scatter-added back with their gate weight, in original row order.
 */
const moe: StepBuilder = (node, ctx) => {
  const { experts: E, topK: K, act, routing } = ctx.attrs(node);
  const gateAct = routing === "relu" ? activationCode("relu") : -1;
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const gateW = ctx.packed.get(node.inputs[1]!).handle;
  const gateB = ctx.weight(node.inputs[2]!).data as Float32Array;
  const expertWeights = Array.from({ length: E }, (_, e) => {
    const base = 3 + 4 * e;
    return {
      w1: ctx.packed.get(node.inputs[base]!).handle,
      b1: ctx.weight(node.inputs[base + 1]!).data as Float32Array,
      w2: ctx.packed.get(node.inputs[base + 2]!).handle,
      b2: ctx.weight(node.inputs[base + 3]!).data as Float32Array,
      hidden: ctx.weight(node.inputs[base]!).shape[0]!,
    };
  });
  const hMax = Math.max(...expertWeights.map((e) => e.hidden));
  const cap = ctx.capacity;
  const logits = ctx.scratch(`${node.name}.logits`, cap * E);
  const topVals = ctx.scratch(`${node.name}.topv`, cap * K);
  const topIdx = ctx.scratchI32(`${node.name}.topi`, cap * K);
  const rowsByExpert = ctx.scratchI32(`${node.name}.rows`, cap * K);
  const weightsByExpert = ctx.scratch(`${node.name}.w`, cap * K);
  const rowsPtr = ptr(rowsByExpert) as number;
  const weightsPtr = ptr(weightsByExpert) as number;
  const counts = new Int32Array(E);
  const starts = new Int32Array(E + 1);
  // Expert-parallel: the experts live on devices (runtime/moe); gating stays here.
  const parallel = sparseMoeLayer(node, ctx, x.width, y.width);
  const local = (key: string, elements: number) => (parallel ? new Float32Array(0) : ctx.scratch(`${node.name}.${key}`, elements));
  const xe = local("xe", cap * x.width);
  const he = local("he", cap * hMax);
  const ye = local("ye", cap * y.width);
  const actCode = activationCode(act);
  const { sym } = ctx;
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    ctx.check(sym.rf_gemm(null, rows, x.data, x.ld, gateW, gateB, 0, null, 0, logits, E), node);
    ctx.check(sym.rf_topk(null, rows, E, K, logits, E, topVals, topIdx, K), node);
    if (gateAct >= 0) ctx.check(sym.rf_activation(null, gateAct, rows, K, topVals, K, topVals, K), node);
    else ctx.check(sym.rf_softmax(null, rows, K, topVals, K, topVals, K), node);
    if (parallel) return parallel.run(rows, K, x.data, x.ld, topIdx, topVals, y.data, y.ld);
    counts.fill(0);
    for (let i = 0; i < rows * K; i++) if (topVals[i] !== 0) counts[topIdx[i]!]!++;
    starts[0] = 0;
    for (let e = 0; e < E; e++) starts[e + 1] = starts[e]! + counts[e]!;
    counts.fill(0);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < K; j++) {
        if (topVals[i * K + j] === 0) continue; // relu routing: this expert is off for the row
        const e = topIdx[i * K + j]!;
        const at = starts[e]! + counts[e]!++;
        rowsByExpert[at] = i;
        weightsByExpert[at] = topVals[i * K + j]!;
      }
      y.data.fill(0, i * y.ld, i * y.ld + y.width);
    }
    for (let e = 0; e < E; e++) {
      const c = counts[e]!;
      if (c === 0) continue;
      const ew = expertWeights[e]!;
      // Pointers into the plan-owned (native, non-moving) scratch: no per-call views.
      const idx = (rowsPtr + starts[e]! * 4) as Pointer;
      const wts = (weightsPtr + starts[e]! * 4) as Pointer;
      ctx.check(sym.rf_gather_rows(null, c, x.width, x.data, x.ld, rows, idx, null, xe, x.width), node);
      ctx.check(sym.rf_gemm(null, c, xe, x.width, ew.w1, ew.b1, actCode, null, 0, he, ew.hidden), node);
      ctx.check(sym.rf_gemm(null, c, he, ew.hidden, ew.w2, ew.b2, 0, null, 0, ye, y.width), node);
      ctx.check(sym.rf_scatter_add_rows(null, c, y.width, ye, y.width, idx, wts, y.data, y.ld, rows), node);
    }
  });
};

export const compositeSteps: Record<string, StepBuilder> = {
  fm,
  reduce_sum: reduceSum,
  target_attention: targetAttention,
  mixture,
  moe,
};

export type { PlanContext };
