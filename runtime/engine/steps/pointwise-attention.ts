// Step of the fused `pointwise_attention` op (runtime/graph/sequence-ops.ts):
// HSTU's SiLU attention on rf_hstu_attention, a dense batch read as a jagged
// one with equal lengths (offsets fixed when the plan is built). With visible
// flags (the keys' padding mask), each row's visible K/V rows are gathered into
// plan scratch and the kernel sees only those, their original positions passed
// for the relative bias (so |i − j| is the tokens' distance in the row, as the
// exported graph computes it):
// - mask none: every query over its row's visible keys.
// - mask causal: query i sees the visible keys j <= i. The visible queries
//   gathered the same way are causal over the gathered keys (the k-th visible
//   query's visible keys are the first k + 1), one call; a hidden query sees the
//   visible keys before it: none for a left-padded row (zeros, as the graph gives),
//   one call per hidden query otherwise. Outputs go back to their rows with one
//   gather from a buffer whose first row is zeros.
import { binaryOps, enumCode } from "../../ffi/activations";
import { seqMasks } from "../../ffi/sequence-ops";
import { GraphError, type Node } from "../../graph/schema";
import { type PlanContext, type Step, type StepBuilder, rowsOf } from "../plan-context";
import { type Tokens, attentionOperands, evenOffsets, forEachRequestRun, requireOneRole, tokens } from "./attention";
import { contiguous, step } from "./tensor-operands";

const NONE = seqMasks.indexOf("none");
const CAUSAL = seqMasks.indexOf("causal");
const ADD = binaryOps.indexOf("add");

interface Operands {
  node: Node;
  a: Record<string, any>;
  q: Tokens;
  k: Tokens;
  v: Tokens;
  out: Tokens;
  rab: Float32Array | null;
  buckets: number;
}

/** Visible flags: gather each row's visible keys (and, causal, queries) and run the kernel over them. */
function withVisibleFlags(ctx: PlanContext, o: Operands, flagsName: string): Step {
  const { node, a, q, k, v, out, rab, buckets } = o;
  const flags = ctx.tensorSlot(flagsName);
  contiguous(node, flagsName, flags);
  if (flags.role !== q.slot.role) throw new GraphError(`node "${node.name}" (pointwise_attention): the visible flags are a ${flags.role} value, q is a ${q.slot.role} value; broadcast them first`);
  const visible = flags.data as Uint8Array;
  const dv: number = a.valueDim ?? a.headDim;
  const [qw, kw, vw] = [a.heads * a.headDim, a.heads * a.headDim, a.heads * dv];
  const L = k.length;
  const kc = ctx.scratch(`${node.name}.k`, ctx.capacity * L * kw);
  const vc = ctx.scratch(`${node.name}.v`, ctx.capacity * L * vw);
  const kept = ctx.scratchI32(`${node.name}.kept`, ctx.capacity * L);
  const kvOffsets = evenOffsets(ctx.capacity, L);
  // Offsets and positions are written through their low 32-bit words (little-endian; the high words stay 0): no BigInt per run.
  const offsetWords = new Int32Array(kvOffsets.buffer);
  const kvPos = new BigInt64Array(ctx.capacity * L);
  const posWords = new Int32Array(kvPos.buffer);
  const { sym } = ctx;
  /** Per row b, the kept (visible) key rows and their positions; returns how many. */
  const compact = (rows: number) => {
    let n = 0;
    for (let b = 0; b < rows; b++) {
      offsetWords[2 * b] = n;
      for (let j = 0; j < L; j++) {
        if (visible[b * L + j] === 0) continue;
        kept[n] = b * L + j;
        posWords[2 * n++] = j;
      }
    }
    offsetWords[2 * rows] = n;
    if (n > 0) {
      ctx.check(sym.rf_gather_rows(null, n, kw, k.view, k.columns, rows * L, kept, null, kc, kw), node);
      ctx.check(sym.rf_gather_rows(null, n, vw, v.view, v.columns, rows * L, kept, null, vc, vw), node);
    }
    return n;
  };
  if (a.mask === "none") {
    const qOffsets = evenOffsets(ctx.capacity, q.length);
    const qPos = BigInt64Array.from({ length: ctx.capacity * q.length }, (_, t) => BigInt((t % q.length) + L - q.length));
    return step(node, (s) => {
      const rows = rowsOf(out.slot, s);
      compact(rows);
      ctx.check(
        sym.rf_hstu_attention(null, rows, a.heads, a.headDim, dv, q.view, q.columns, qOffsets, kc, kw, vc, vw, kvOffsets, NONE, null, a.scale, rab, buckets,
          rab && qPos, rab && kvPos, a.normLen, out.view, out.columns),
        node,
      );
    });
  }
  const qc = ctx.scratch(`${node.name}.q`, ctx.capacity * L * qw);
  const oc = ctx.scratch(`${node.name}.out`, (ctx.capacity * L + 1) * vw);
  const back = ctx.scratchI32(`${node.name}.back`, ctx.capacity * L);
  const one = BigInt64Array.from([0n, 1n]);
  const prefix = new BigInt64Array(2);
  const ownPos = new BigInt64Array(1);
  return step(node, (s) => {
    const rows = rowsOf(out.slot, s);
    const n = compact(rows);
    for (let b = 0, r = 0; b < rows; b++) for (let j = 0; j < L; j++) back[b * L + j] = visible[b * L + j] === 0 ? 0 : ++r;
    oc.fill(0, 0, vw);
    if (n > 0) {
      ctx.check(sym.rf_gather_rows(null, n, qw, q.view, q.columns, rows * L, kept, null, qc, qw), node);
      ctx.check(
        sym.rf_hstu_attention(null, rows, a.heads, a.headDim, dv, qc, qw, kvOffsets, kc, kw, vc, vw, kvOffsets, CAUSAL, null, a.scale, rab, buckets,
          rab && kvPos, rab && kvPos, a.normLen, oc.subarray(vw), vw),
        node,
      );
    }
    ctx.check(sym.rf_gather_rows(null, rows * L, vw, oc, vw, n + 1, back, null, out.view, out.columns), node);
    // A hidden query after visible keys of its row (padding that is not leading) sees those keys.
    for (let b = 0; b < rows; b++) {
      const first = offsetWords[2 * b]!;
      for (let i = 0, seen = 0; i < L; i++) {
        if (visible[b * L + i] !== 0) {
          seen++;
          continue;
        }
        if (seen === 0) continue;
        prefix[1] = BigInt(seen);
        ownPos[0] = BigInt(i);
        const t = b * L + i;
        ctx.check(
          sym.rf_hstu_attention(null, 1, a.heads, a.headDim, dv, q.view.subarray(t * q.columns), q.columns, one, kc.subarray(first * kw), kw, vc.subarray(first * vw), vw, prefix,
            NONE, null, a.scale, rab, buckets, rab && ownPos, rab && kvPos.subarray(first), a.normLen, out.view.subarray(t * out.columns), out.columns),
          node,
        );
      }
    }
  });
}

const pointwiseAttention: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const dv: number = a.valueDim ?? a.headDim;
  const { q, k, v, out } = attentionOperands(ctx, node, a);
  requireOneRole(node, q, k, v);
  let at = 3;
  const table = node.inputs[at] && ctx.isWeight(node.inputs[at]!) ? ctx.weight(node.inputs[at++]!) : undefined;
  const o: Operands = { node, a, q, k, v, out, rab: table ? (table.data as Float32Array) : null, buckets: table ? table.shape[1]! : 0 };
  if (node.inputs[at]) return withVisibleFlags(ctx, o, node.inputs[at]!);
  const qOffsets = evenOffsets(ctx.capacity, q.length);
  const kvOffsets = evenOffsets(ctx.capacity, k.length);
  const mask = enumCode(seqMasks, a.mask, `node "${node.name}" mask`);
  const { sym } = ctx;
  return step(node, (s) =>
    ctx.check(
      sym.rf_hstu_attention(null, rowsOf(out.slot, s), a.heads, a.headDim, dv, q.view, q.columns, qOffsets, k.view, k.columns, v.view, v.columns, kvOffsets,
        mask, null, a.scale, o.rab, o.buckets, null, null, a.normLen, out.view, out.columns),
      node,
    ),
  );
};

/**
 * The candidates' half (pointwise_attention_candidates): per run of rows of one request, the candidates'
 * queries over that request's visible history tokens (one item, mask none, each candidate at position
 * Lh), plus each candidate over its own token (n items of length 1), added — exact, as nothing renormalises.
 */
const pointwiseAttentionCandidates: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const dv: number = a.valueDim ?? a.headDim;
  const [q, k, v, hk, hv] = [0, 1, 2, 3, 4].map((i) => tokens(ctx, node, node.inputs[i]!, i === 0 ? a.qStart : i % 2 === 1 ? a.kStart : a.vStart)) as [Tokens, Tokens, Tokens, Tokens, Tokens];
  const out = tokens(ctx, node, node.outputs[0]!, 0);
  for (const [name, t, role] of [["q", q, "candidate"], ["k", k, "candidate"], ["v", v, "candidate"], ["history k", hk, "context"], ["history v", hv, "context"]] as const) {
    if (t.slot.role !== role) throw new GraphError(`node "${node.name}" (pointwise_attention_candidates): ${name} is a ${t.slot.role} value, expected a ${role} value`);
  }
  let at = 5;
  const table = node.inputs[at] && ctx.isWeight(node.inputs[at]!) ? ctx.weight(node.inputs[at++]!) : undefined;
  const rab = table ? (table.data as Float32Array) : null;
  const buckets = table ? table.shape[1]! : 0;
  const [ownFlags, historyFlags] = node.inputs[at] ? [ctx.tensorSlot(node.inputs[at]!), ctx.tensorSlot(node.inputs[at + 1]!)] : [undefined, undefined];
  if (ownFlags) contiguous(node, node.inputs[at]!, ownFlags);
  if (historyFlags) contiguous(node, node.inputs[at + 1]!, historyFlags);
  const Lh = hk.length;
  const [kw, vw] = [a.heads * a.headDim, a.heads * dv];
  const kc = ctx.scratch(`${node.name}.k`, Lh * kw);
  const vc = ctx.scratch(`${node.name}.v`, Lh * vw);
  const kept = ctx.scratchI32(`${node.name}.kept`, Lh);
  const own = ctx.scratch(`${node.name}.own`, ctx.capacity * vw);
  const iota = BigInt64Array.from({ length: ctx.capacity + 1 }, (_, i) => BigInt(i));
  const qOffsets = new BigInt64Array(2);
  const kvOffsets = new BigInt64Array(2);
  const qPos = new BigInt64Array(ctx.capacity).fill(BigInt(Lh));
  const kvPos = BigInt64Array.from({ length: Lh }, (_, j) => BigInt(j));
  const keptPos = new BigInt64Array(Lh);
  const { sym } = ctx;
  return step(node, (s) => {
    const n = rowsOf(out.slot, s);
    forEachRequestRun(n, s.requestOfRow, (r, i0, i1) => {
      let [keys, values, ldk, ldv, positions, count] = [hk.view.subarray(r * Lh * hk.columns), hv.view.subarray(r * Lh * hv.columns), hk.columns, hv.columns, kvPos, Lh];
      if (historyFlags) {
        const flags = historyFlags.data as Uint8Array;
        count = 0;
        for (let j = 0; j < Lh; j++) if (flags[r * Lh + j] !== 0) [kept[count], keptPos[count++]] = [r * Lh + j, BigInt(j)];
        if (count > 0) {
          ctx.check(sym.rf_gather_rows(null, count, kw, hk.view, hk.columns, s.r * Lh, kept, null, kc, kw), node);
          ctx.check(sym.rf_gather_rows(null, count, vw, hv.view, hv.columns, s.r * Lh, kept, null, vc, vw), node);
        }
        [keys, values, ldk, ldv, positions] = [kc, vc, kw, vw, keptPos];
      }
      if (count === 0) out.view.fill(0, i0 * out.columns, i1 * out.columns);
      else {
        qOffsets[1] = BigInt(i1 - i0);
        kvOffsets[1] = BigInt(count);
        ctx.check(
          sym.rf_hstu_attention(null, 1, a.heads, a.headDim, dv, q.view.subarray(i0 * q.columns), q.columns, qOffsets, keys, ldk, values, ldv, kvOffsets, NONE, null, a.scale, rab, buckets,
            rab && qPos, rab && positions, a.normLen, out.view.subarray(i0 * out.columns), out.columns),
          node,
        );
      }
    });
    // Itself: n items of one query and one key (distance 0), hidden where its own flag says so.
    ctx.check(sym.rf_hstu_attention(null, n, a.heads, a.headDim, dv, q.view, q.columns, iota, k.view, k.columns, v.view, v.columns, iota, NONE, null, a.scale, rab, buckets, null, null, a.normLen, own, vw), node);
    if (ownFlags) for (let i = 0; i < n; i++) if ((ownFlags.data as Uint8Array)[i] === 0) own.fill(0, i * vw, (i + 1) * vw);
    ctx.check(sym.rf_binary(null, ADD, n, vw, out.view, out.columns, own, vw, out.view, out.columns), node);
  });
};

export const pointwiseAttentionSteps: Record<string, StepBuilder> = { pointwise_attention: pointwiseAttention, pointwise_attention_candidates: pointwiseAttentionCandidates };
