// Steps of the sequence ops (runtime/graph/sequence-layer-ops.ts): the two halves of
// an HSTU layer, RankMixer token mixing and grouped (per-token) linear layers.
//
// How an HSTU layer sees "history tokens of request r + candidate tokens of request r":
// - The history is a context value: one row per request holding L token rows of d
//   (slot t at row offset t·d, oldest first), its ids a context input [L] padded with
//   the padding id on the oldest side. A request's events are the slots after the
//   leading padding run (nh = L − pads); the padded slots pass through (y = x) and are
//   never attended, so the history is jagged per request: no padding is computed.
//   nh comes from the batch's sequenceLengths (the stager measured each request's
//   history when it wrote the slots; stager.ts); a batch staged without them (by
//   hand) has its leading padding counted here instead. When the history's tokens
//   are stored jagged (jagged-tokens.ts: the lookups write only the events, packed),
//   x, y and kv are values + offsets: request b's events are rows offsets[b] ..
//   offsets[b + 1], and there are no empty slots to pass through.
// - hstu_history runs once per request (context rows, s.r): per request it runs the
//   W1 GEMMs over just the nh event rows (U|Q into scratch, K|V straight into the kv
//   output, so the candidates read them without a copy), rf_hstu_attention with one
//   item (q_offsets = kv_offsets = [0, nh], causal), rf_norm_gate and the W2 GEMM with
//   the residual. K and V of the events are kept in the context value kv, row t =
//   [K_t | V_t]: the per-request history cache the candidate half reads.
//   With the user-history KV cache (hstu-history-cache.ts) a request's cached tokens'
//   K/V are restored into kv and only its new events run (historyLayer's `cached`).
// - hstu_candidates runs over the candidate rows (s.n). Candidate i belongs to
//   request s.requestOfRow[i]; rows of one request are consecutive (the stager stacks
//   them; rows out of order would only make more runs), and each maximal run of rows sharing a history is one jagged item: its
//   queries are those candidate rows, its kv the request's nh event rows of kv
//   (q_offsets = [0, rows in the run], kv_offsets = [0, nh]). M-FALCON's mask
//   (history and itself, never another candidate) is evaluated as a sum, exact for
//   HSTU's pointwise attention (no softmax to renormalise): one mask-none call per run
//   over the history, plus one call over all candidates as items of length 1 (q = k =
//   v = the candidate itself), added. Neither the history K/V nor the candidates' K/V
//   are copied into a combined buffer.
// - Positions for the relative bias: event j of a history sits at j, every candidate
//   at nh (the next position), so delta = nh − j for the history and 0 for itself:
//   a candidate's score depends neither on its slot nor on the other candidates. With
//   rabBy "time" the positions are timestamps instead: each event's, and the request's
//   time for every candidate (the history's timestamp input sliced at its events). The
//   attention is divided by L (the declared history length, generative-recommenders'
//   max-length normalisation), not by a per-request count, for the same reason.
// - Sequence parallelism (ctx.sequenceParallel, runtime/sequence-parallel/hstu-parallel.ts): a
//   request whose history has at least minLength events runs both halves split over the devices
//   instead (GEMMs by rows, causal attention by zig-zag query blocks, candidates by kv shards).
import type { Node } from "../../graph/schema";
import { activations, binaryOps } from "../../ffi/activations";
import { seqMasks } from "../../ffi/sequence-ops";
import { weightValues } from "../weight-cache";
import { cachedHistory } from "./hstu-history-cache";
import { eventsOf, firstEvent } from "./history-events";
import { ParallelCandidates, ParallelHistory } from "../../sequence-parallel/hstu-parallel";
import { type PlanContext, type RunState, type Slot, type Step, type StepBuilder, rowsOf } from "../plan-context";

const SILU = activations.indexOf("silu");
const IDENTITY = activations.indexOf("none");
const ADD = binaryOps.indexOf("add");
const CAUSAL = seqMasks.indexOf("causal");
const NONE = seqMasks.indexOf("none");

function step(node: Node, run: (s: RunState) => void): Step {
  return { node: node.name, op: node.op, run };
}


/** Packed weights and constants of one HSTU layer, shared by both halves (same weight names, same cache keys). */
function hstuLayer(node: Node, ctx: PlanContext, at: number, d: number) {
  const a = ctx.attrs(node);
  const H = a.heads as number;
  const hv = H * (a.vDim as number);
  const hq = H * (a.qkDim as number);
  const [w1n, b1n, gn, bn, w2n, b2n, rabn] = node.inputs.slice(at);
  const w1 = weightValues(ctx.graph, new Map([[w1n!, ctx.weight(w1n!)]]), w1n!);
  const b1 = ctx.weight(b1n!).data as Float32Array;
  // W1's rows are U | V | Q | K; the GEMMs want U | Q (scratch) and K | V (the kv cache layout).
  const rows = (blocks: [number, number][]) => () => {
    const out = new Float32Array(blocks.reduce((acc, [, n]) => acc + n, 0) * d);
    let o = 0;
    for (const [start, n] of blocks) {
      out.set(w1.subarray(start * d, (start + n) * d), o);
      o += n * d;
    }
    return out;
  };
  const uqBlocks: [number, number][] = [[0, hv], [2 * hv, hq]];
  const kvBlocks: [number, number][] = [[2 * hv + hq, hq], [hv, hv]];
  const pick = (blocks: [number, number][]) => Float32Array.from(blocks.flatMap(([s, n]) => Array.from(b1.subarray(s, s + n))));
  return {
    H, hv, hq,
    qk: a.qkDim as number,
    dv: a.vDim as number,
    scale: (a.scale as number | undefined) ?? 1 / Math.sqrt(a.qkDim as number),
    eps: a.eps as number,
    padding: a.padding as number,
    wUq: ctx.packed.derived(`${w1n}:uq`, hv + hq, d, rows(uqBlocks)).handle,
    bUq: pick(uqBlocks),
    wKv: ctx.packed.derived(`${w1n}:kv`, hq + hv, d, rows(kvBlocks)).handle,
    bKv: pick(kvBlocks),
    gamma: ctx.weight(gn!).data as Float32Array,
    beta: ctx.weight(bn!).data as Float32Array,
    w2: ctx.packed.get(w2n!).handle,
    b2: ctx.weight(b2n!).data as Float32Array,
    rab: rabn ? (ctx.weight(rabn).data as Float32Array) : null,
    buckets: rabn ? ctx.weight(rabn).shape[1]! : 0,
  };
}

/** The timestamps slot (rabBy "time") at input `at`, or null. */
function timestamps(node: Node, ctx: PlanContext, at: number): Slot<BigInt64Array> | null {
  return ctx.attrs(node).rabBy === "time" ? (ctx.idSlot(node.inputs[at]!) as Slot<BigInt64Array>) : null;
}

/** One history layer's request-at-a-time runner, shared by the plain step and the KV-cached chain (hstu-history-cache.ts). */
export interface HistoryLayer {
  L: number;
  /** K | V row width of the kv output (K: hq floats, then V: hv). */
  wkv: number;
  hq: number;
  kv: Slot;
  /** Leading padding slots of request b. */
  pads(s: RunState, b: number): number;
  /** Where request b's first event's K/V row starts in kv.data (at its offset when kv is stored jagged). */
  kvRow(b: number, pads: number): number;
  /**
   * Run request b's events from event `cached` on (delta-q): rows of K/V before it must already
   * hold the cached tokens' K/V; new queries attend to them and to the new tokens (causal), and
   * only the new tokens' outputs are written (the empty slots pass through as always).
   */
  run(s: RunState, b: number, cached: number): void;
}

/** The runner of one hstu_history node (scratch O(L), whatever the batch). */
export function historyLayer(node: Node, ctx: PlanContext): HistoryLayer {
  const x = ctx.slot(node.inputs[0]!);
  const ids = ctx.idSlot(node.inputs[1]!);
  const ts = timestamps(node, ctx, 2);
  const tsName = ts ? node.inputs[2] : undefined;
  const y = ctx.slot(node.outputs[0]!);
  const kv = ctx.slot(node.outputs[1]!);
  const L = ids.width;
  const d = x.width / L;
  const p = hstuLayer(node, ctx, ts ? 3 : 2, d);
  const wuq = p.hv + p.hq;
  const wkv = p.hq + p.hv;
  const uq = ctx.scratch(`${node.name}.uq`, L * wuq);
  const att = ctx.scratch(`${node.name}.a`, L * p.hv);
  const gated = ctx.scratch(`${node.name}.g`, L * p.hv);
  const qOffsets = new BigInt64Array(2);
  const kvOffsets = new BigInt64Array(2);
  const q = uq.subarray(p.hv);
  const { sym } = ctx;
  // Sequence parallelism (runtime/sequence-parallel): a history of at least minLength events runs split over the devices.
  const sp = ctx.sequenceParallel;
  const parallel = sp ? new ParallelHistory(sp, p, sym, (status) => ctx.check(status, node)) : null;
  // The last layer's history tokens feed nothing (its candidates read only its K/V): then only K/V are computed.
  const yName = node.outputs[0]!;
  const historyRead = ctx.graph.nodes.some((n) => n.inputs.includes(yName)) || Object.values(ctx.graph.outputs).includes(yName);
  // History tokens stored jagged (jagged-tokens.ts): request b's x and y rows start at offsets[b]; no empty slots to pass through.
  const jagged = ctx.jagged(node.inputs[0]!);
  const rowOf = (slot: Slot, b: number, pads: number, t: number) => (jagged ? (jagged.start(b) + t) * d : b * slot.ld + (pads + t) * d);
  const jkv = ctx.jagged(node.outputs[1]!);
  const kvRow = (b: number, pads: number) => (jkv ? jkv.start(b) * wkv : b * kv.ld + pads * wkv);
  return {
    L, wkv, hq: p.hq, kv, kvRow,
    pads: (s, b) => L - eventsOf(s, node.inputs[1]!, ids, b, L, p.padding),
    run(s, b, cached) {
      const nh = eventsOf(s, node.inputs[1]!, ids, b, L, p.padding);
      const pads = L - nh;
      // Empty slots: y = x, K/V zeros (never read; jagged, neither is written: only the events are computed).
      if (pads > 0 && !jagged) {
        if (historyRead) ctx.check(sym.rf_activation(null, IDENTITY, 1, pads * d, x.data.subarray(b * x.ld), x.ld, y.data.subarray(b * y.ld), y.ld), node);
        kv.data.fill(0, b * kv.ld, b * kv.ld + pads * wkv);
      }
      const nq = nh - cached;
      if (nq <= 0) return;
      const from = pads + cached;
      const xb = x.data.subarray(rowOf(x, b, pads, cached));
      const yb = y.data.subarray(rowOf(y, b, pads, cached));
      if (!historyRead) {
        ctx.check(sym.rf_gemm(null, nq, xb, d, p.wKv, p.bKv, SILU, null, 0, kv.data.subarray(kvRow(b, pads) + cached * wkv), wkv), node);
        return;
      }
      if (parallel && sp!.applies(nh)) {
        parallel.run({
          x: x.data, xAt: rowOf(x, b, pads, cached), y: y.data, yAt: rowOf(y, b, pads, cached), kv: kv.data, kvAt: kvRow(b, pads),
          uq, att, gated, d, nq, cached, pos: ts && p.rab ? ts.data : null, posAt: ts ? firstEvent(s, tsName!, ts, b, nh, L) : 0, L,
        });
        return;
      }
      const kvb = kv.data.subarray(kvRow(b, pads));
      qOffsets[1] = BigInt(nq);
      kvOffsets[1] = BigInt(nh);
      ctx.check(sym.rf_gemm(null, nq, xb, d, p.wUq, p.bUq, SILU, null, 0, uq, wuq), node);
      ctx.check(sym.rf_gemm(null, nq, xb, d, p.wKv, p.bKv, SILU, null, 0, kvb.subarray(cached * wkv), wkv), node);
      // Queries sit at the end of their kv sequence (rankfn.h), so new queries over cached K/V see positions cached.. .
      const pos = ts && p.rab ? ts.data.subarray(firstEvent(s, tsName!, ts, b, nh, L)) : null;
      ctx.check(
        sym.rf_hstu_attention(null, 1, p.H, p.qk, p.dv, q, wuq, qOffsets, kvb, wkv, kvb.subarray(p.hq), wkv, kvOffsets, CAUSAL, null, p.scale, p.rab, p.buckets, pos && pos.subarray(cached), pos, L, att, p.hv),
        node,
      );
      ctx.check(sym.rf_norm_gate(null, nq, p.hv, att, p.hv, uq, wuq, p.gamma, p.beta, p.eps, gated, p.hv), node);
      ctx.check(sym.rf_gemm(null, nq, gated, p.hv, p.w2, p.b2, IDENTITY, xb, d, yb, d), node);
    },
  };
}

const hstuHistory: StepBuilder = (node, ctx) => {
  const layer = historyLayer(node, ctx);
  const y = ctx.slot(node.outputs[0]!);
  const cached = cachedHistory(node, ctx, layer);
  return step(node, (s) => {
    // With a KV cache, layer 0 runs the whole chain request by request and the later layers nothing.
    if (s.kv && cached) return cached(s);
    const rows = rowsOf(y, s);
    for (let b = 0; b < rows; b++) layer.run(s, b, 0);
  });
};

const hstuCandidates: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const kv = ctx.slot(node.inputs[1]!);
  const ids = ctx.idSlot(node.inputs[2]!);
  const ts = timestamps(node, ctx, 3);
  const now = ts ? (ctx.idSlot(node.inputs[4]!) as Slot<BigInt64Array>) : null;
  const y = ctx.slot(node.outputs[0]!);
  const L = ids.width;
  const d = x.width;
  const p = hstuLayer(node, ctx, ts ? 5 : 3, d);
  const wuq = p.hv + p.hq;
  const wkv = p.hq + p.hv;
  if (kv.ld !== kv.width) throw new Error(`node "${node.name}": the history kv must be stored contiguously (row stride ${kv.ld}, expected ${kv.width})`);
  const cap = ctx.capacity;
  const uq = ctx.scratch(`${node.name}.uq`, cap * wuq);
  const ckv = ctx.scratch(`${node.name}.kv`, cap * wkv);
  const own = ctx.scratch(`${node.name}.self`, cap * p.hv);
  const att = ctx.scratch(`${node.name}.a`, cap * p.hv);
  const gated = ctx.scratch(`${node.name}.g`, cap * p.hv);
  const iota = BigInt64Array.from({ length: cap + 1 }, (_, i) => BigInt(i));
  const qOffsets = new BigInt64Array(2);
  const kvOffsets = new BigInt64Array(2);
  const qPos = new BigInt64Array(cap);
  const kvPos = BigInt64Array.from({ length: L }, (_, j) => BigInt(j));
  const { sym } = ctx;
  const sp = ctx.sequenceParallel;
  const parallel = sp ? new ParallelCandidates(sp, p, sym, (status) => ctx.check(status, node), ctx.scratch(`${node.name}.parts`, sp.devices.length * cap * p.hv), cap) : null;
  // A candidate's history row: its request's (or its own, when the history is per row or the node is context-only).
  const perRow = kv.role === "candidate" || y.role === "context";
  // The history's K/V stored jagged (jagged-tokens.ts): request h's rows start at offsets[h].
  const jkv = ctx.jagged(node.inputs[1]!);
  return step(node, (s) => {
    const n = rowsOf(y, s);
    ctx.check(sym.rf_gemm(null, n, x.data, x.ld, p.wUq, p.bUq, SILU, null, 0, uq, wuq), node);
    ctx.check(sym.rf_gemm(null, n, x.data, x.ld, p.wKv, p.bKv, SILU, null, 0, ckv, wkv), node);
    // Itself: n items of one query and one key.
    ctx.check(
      sym.rf_hstu_attention(null, n, p.H, p.qk, p.dv, uq.subarray(p.hv), wuq, iota, ckv, wkv, ckv.subarray(p.hq), wkv, iota, NONE, null, p.scale, p.rab, p.buckets, null, null, L, own, p.hv),
      node,
    );
    // The history: one item per run of rows sharing it.
    for (let i0 = 0; i0 < n; ) {
      const h = perRow ? i0 : s.requestOfRow[i0]!;
      let i1 = i0 + 1;
      while (i1 < n && !perRow && s.requestOfRow[i1] === h) i1++;
      const nh = eventsOf(s, node.inputs[2]!, ids, h, L, p.padding);
      const pads = L - nh;
      if (nh === 0) att.fill(0, i0 * p.hv, i1 * p.hv);
      else {
        qOffsets[1] = BigInt(i1 - i0);
        kvOffsets[1] = BigInt(nh);
        if (p.rab) qPos.fill(now ? now.data[h * now.ld]! : BigInt(nh), 0, i1 - i0);
        const khAt = jkv ? jkv.start(h) * wkv : h * kv.ld + pads * wkv;
        const kh = kv.data.subarray(khAt);
        const kpAt = ts ? firstEvent(s, node.inputs[3]!, ts, h, nh, L) : 0;
        const kp = ts ? ts.data.subarray(kpAt) : kvPos;
        if (parallel && sp!.applies(nh)) {
          parallel.run({
            uq, qAt: i0 * wuq + p.hv, rows: i1 - i0, kv: kv.data, kvAt: khAt, nh,
            qPos: p.rab ? qPos : null, kvPos: p.rab ? (ts ? ts.data : kvPos) : null, kvPosAt: kpAt, L, att, outAt: i0 * p.hv,
          });
          i0 = i1;
          continue;
        }
        ctx.check(
          sym.rf_hstu_attention(null, 1, p.H, p.qk, p.dv, uq.subarray(i0 * wuq + p.hv), wuq, qOffsets, kh, wkv, kh.subarray(p.hq), wkv, kvOffsets, NONE, null, p.scale, p.rab, p.buckets,
            p.rab ? qPos : null, p.rab ? kp : null, L, att.subarray(i0 * p.hv), p.hv),
          node,
        );
      }
      i0 = i1;
    }
    ctx.check(sym.rf_binary(null, ADD, n, p.hv, att, p.hv, own, p.hv, att, p.hv), node);
    ctx.check(sym.rf_norm_gate(null, n, p.hv, att, p.hv, uq, wuq, p.gamma, p.beta, p.eps, gated, p.hv), node);
    ctx.check(sym.rf_gemm(null, n, gated, p.hv, p.w2, p.b2, IDENTITY, x.data, x.ld, y.data, y.ld), node);
  });
};

const tokenMix: StepBuilder = (node, ctx) => {
  const { tokens, heads } = ctx.attrs(node);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  const D = x.width / tokens;
  return step(node, (s) => ctx.check(ctx.sym.rf_token_mix(null, rowsOf(y, s), tokens, D, heads, x.data, x.ld, y.data, y.ld), node));
};

const groupedLinear: StepBuilder = (node, ctx) => {
  const { groups, act } = ctx.attrs(node);
  const [xn, wn, bn] = node.inputs;
  const x = ctx.slot(xn!);
  const y = ctx.slot(node.outputs[0]!);
  const [, n, k] = ctx.weight(wn!).shape as [number, number, number];
  const w = weightValues(ctx.graph, new Map([[wn!, ctx.weight(wn!)]]), wn!);
  const handles = new BigUint64Array(groups);
  for (let g = 0; g < groups; g++) handles[g] = BigInt(ctx.packed.derived(`${wn}:${g}`, n, k, () => w.slice(g * n * k, (g + 1) * n * k)).handle);
  const bias = bn ? (ctx.weight(bn).data as Float32Array) : null;
  const code = activations.indexOf(act);
  return step(node, (s) => ctx.check(ctx.sym.rf_grouped_gemm(null, groups, rowsOf(y, s), x.data, x.ld, k, handles, bias, n, code, y.data, y.ld, n), node));
};

export const sequenceLayerSteps: Record<string, StepBuilder> = {
  hstu_history: hstuHistory,
  hstu_candidates: hstuCandidates,
  token_mix: tokenMix,
  grouped_linear: groupedLinear,
};
